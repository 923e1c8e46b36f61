"""Name scopes of one SELECT block: which tables are visible and how columns resolve.

ADQL matching rules: regular identifiers compare case-insensitively, delimited ones exactly.
A qualifier matches a correlation name, or else a trailing part sequence of the table name as
written in FROM (``summary.ra`` and ``hscv3.summary.ra`` both reach ``hscv3.summary``). A
column found in two visible tables is ambiguous unless a NATURAL/USING join merged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from grammar.errors import SemanticProblem
from grammar.nodes import ColumnReference, Identifier, TableName
from grammar.suggestions import suggestion
from planners.sql_catalog import ColumnInfo


def quoted(name: str) -> exp.Identifier:
    """An identifier emitted exactly as the catalogue spells it."""
    return exp.Identifier(this=name, quoted=True)


def quoted_sql(name: str, dialect: str = "duckdb") -> str:
    """``name`` as a quoted identifier in SQL text, for statements not built as sqlglot trees."""
    return quoted(name).sql(dialect)


def matches(ident: Identifier, name: str) -> bool:
    """True if the ADQL identifier designates the catalogue name ``name``."""
    return name == ident.name if ident.delimited else name.lower() == ident.key


@dataclass(frozen=True, slots=True)
class RangeVariable:
    """One FROM item: how it can be qualified, its SQL alias and its columns."""

    alias: Identifier | None
    written: tuple[Identifier, ...]
    sql_alias: str
    columns: tuple[ColumnInfo, ...]
    open: bool = False
    """Pass-through table: unknown column names resolve as written (unknown type)."""

    def answers_to(self, qualifier: TableName) -> bool:
        """True if ``qualifier`` designates this range variable."""
        if self.alias is not None:
            return len(qualifier.parts) == 1 and matches(qualifier.parts[0], self.alias.name)
        parts = qualifier.parts
        if len(parts) > len(self.written):
            return False
        tail = self.written[len(self.written) - len(parts) :]
        return all(
            q.key == w.key if not (q.delimited or w.delimited) else q.name == w.name
            for q, w in zip(parts, tail, strict=True)
        )

    def find(self, ident: Identifier) -> list[ColumnInfo]:
        """Columns of this table the identifier designates (exact-case match wins)."""
        found = [c for c in self.columns if matches(ident, c.name)]
        if not found and self.open:
            return [ColumnInfo(ident.name if ident.delimited else ident.name.lower())]
        if len(found) > 1:
            exact = [c for c in found if c.name == ident.name]
            return exact or found
        return found

    def column_sql(self, column: ColumnInfo) -> exp.Column:
        """``"alias"."Column"``."""
        return exp.Column(this=quoted(column.name), table=quoted(self.sql_alias))


@dataclass
class Scope:
    """The tables visible in one query block, plus the enclosing blocks' (correlation)."""

    parent: Scope | None = None
    tables: list[RangeVariable] = field(default_factory=list)
    merged: set[str] = field(default_factory=set)
    """Lower-cased names of columns merged by NATURAL/USING joins (unqualified use allowed)."""

    def add(self, var: RangeVariable, problems: list[SemanticProblem], ident: Identifier) -> None:
        """Make a range variable visible; two of the same correlation name are an error."""
        key = var.sql_alias
        if any(t.sql_alias == key for t in self.tables):
            problems.append(
                SemanticProblem(f"Duplicate table or correlation name '{key}'", ident.span)
            )
        self.tables.append(var)

    def resolve(
        self, ref: ColumnReference, problems: list[SemanticProblem]
    ) -> tuple[exp.Expr, ColumnInfo] | None:
        """The SQL and type of a column reference, or None after recording a problem."""
        scope: Scope | None = self
        while scope is not None:
            found = scope.lookup(ref, problems)
            if found is not None:
                return found
            scope = scope.parent
        problems.append(self.unknown(ref))
        return None

    def lookup(
        self, ref: ColumnReference, problems: list[SemanticProblem]
    ) -> tuple[exp.Expr, ColumnInfo] | None:
        """Resolve in this block only; records ambiguity problems."""
        if ref.qualifier is not None:
            owners = [t for t in self.tables if t.answers_to(ref.qualifier)]
            if not owners:
                return None
            hits = [(t, c) for t in owners for c in t.find(ref.name)]
        else:
            hits = [(t, c) for t in self.tables if not t.open for c in t.find(ref.name)]
            opened = [t for t in self.tables if t.open]
            if not hits and len(opened) == 1:
                hits = [(opened[0], c) for c in opened[0].find(ref.name)]
            elif not hits and opened:
                column = opened[0].find(ref.name)[0]
                return exp.Column(this=quoted(column.name)), column
            if len(hits) > 1 and hits[0][1].name.lower() in self.merged:
                column = hits[0][1]
                return exp.Column(this=quoted(column.name)), column
        if len(hits) > 1:
            where = ", ".join(f"{t.sql_alias}.{c.name}" for t, c in hits)
            problems.append(
                SemanticProblem(f"Ambiguous column '{ref.name.name}' (could be {where})", ref.span)
            )
            return exp.Null(), hits[0][1]
        if not hits:
            return None
        table, column = hits[0]
        return table.column_sql(column), column

    def unknown(self, ref: ColumnReference) -> SemanticProblem:
        """An 'unknown column' problem naming the closest visible columns."""
        names: dict[str, str] = {}
        scope: Scope | None = self
        while scope is not None:
            for t in scope.tables:
                for c in t.columns:
                    names.setdefault(c.name.lower(), c.name)
            scope = scope.parent
        hint = suggestion(ref.name.name, names.values(), ignore_case=True, quote=True)
        qual = ".".join(p.name for p in ref.qualifier.parts) + "." if ref.qualifier else ""
        return SemanticProblem(f"Unknown column '{qual}{ref.name.name}'{hint}", ref.span)


def unknown_table(name: TableName, known: list[str]) -> SemanticProblem:
    """An 'unknown table' problem naming the closest catalogue tables."""
    written = ".".join(p.name for p in name.parts)
    hint = suggestion(written, known, ignore_case=True, quote=True)
    return SemanticProblem(f"Unknown table '{written}'{hint}", name.span)
