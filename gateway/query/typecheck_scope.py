"""Name scopes for the binder's type checking: which sources a query block sees, and types.

Sources are FROM items: catalogue tables (TAP_SCHEMA plus the query's uploads), derived
tables and WITH queries (their output columns, typed by the checker). A column reference
resolves in its block, then in the enclosing blocks (correlated subqueries), with ADQL's
qualifier rules (a correlation name, or a trailing part sequence of the table name).
Anything unresolvable or ambiguous is ``unknown``: reporting unknown names is the planners'
job, with their hints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.query.adql_types import UNKNOWN, AdqlType, column_type
from gateway.table_meta import SchemaMeta
from grammar import nodes as n
from planners.sql_catalog import ColumnInfo

__all__ = [
    "Columns",
    "Outputs",
    "Range",
    "Scope",
    "TableColumns",
    "as_columns",
    "catalogue_tables",
    "expand",
    "typed_columns",
]

TableColumns = Callable[[n.TableName], Sequence[ColumnInfo] | None]
"""The columns of the table a name designates, or None when it is not known."""

Columns = dict[str, AdqlType] | None
"""Column types by lower-case name; None for a source whose columns are not known."""


def catalogue_tables(
    schemas: Sequence[SchemaMeta], uploads: Mapping[str, Sequence[ColumnInfo]] | None = None
) -> TableColumns:
    """Table lookup over TAP_SCHEMA's schemas and the query's uploads (``TAP_UPLOAD.x``)."""
    by_name: dict[str, Sequence[ColumnInfo]] = {}
    for schema in schemas:
        for table in schema.tables:
            by_name.setdefault(table.table_name.replace('"', "").lower(), table.columns)
    for name, columns in (uploads or {}).items():
        by_name[f"tap_upload.{name.lower()}"] = columns

    def lookup(name: n.TableName) -> Sequence[ColumnInfo] | None:
        return by_name.get(".".join(p.name.lower() for p in name.parts))

    return lookup


Outputs = list[tuple[str | None, AdqlType]] | None
"""A query's output columns (name, or None when it has none a query can refer to); None when
a source's columns are unknown."""


@dataclass(frozen=True, slots=True)
class Range:
    """One FROM item: the names that qualify it and its columns."""

    alias: str | None
    parts: tuple[str, ...]
    columns: Columns

    def answers_to(self, qualifier: n.TableName) -> bool:
        """Whether ``qualifier`` designates this source (its alias, or a tail of its name)."""
        wanted = tuple(p.name.lower() for p in qualifier.parts)
        if self.alias is not None:
            return wanted == (self.alias,)
        return len(wanted) <= len(self.parts) and self.parts[-len(wanted) :] == wanted


@dataclass
class Scope:
    """The sources one query block sees, the enclosing block's scope and the WITH queries."""

    parent: Scope | None
    ctes: Mapping[str, Columns]
    ranges: list[Range] = field(default_factory=list)

    def resolve(self, ref: n.ColumnReference) -> AdqlType:
        """The column's type; unknown when unresolved, ambiguous or of an open source."""
        name = ref.name.name.lower()
        scope: Scope | None = self
        while scope is not None:
            hits: list[AdqlType] = []
            opened = False
            for r in scope.ranges:
                if ref.qualifier is not None and not r.answers_to(ref.qualifier):
                    continue
                if r.columns is None:
                    opened = True
                elif name in r.columns:
                    hits.append(r.columns[name])
            if hits:
                return hits[0] if len({h.kind for h in hits}) == 1 else UNKNOWN
            if opened:
                return UNKNOWN
            scope = scope.parent
        return UNKNOWN


_TYPED: dict[int, tuple[Sequence[ColumnInfo], dict[str, AdqlType]]] = {}
_TYPED_MAX = 256


def typed_columns(metas: Sequence[ColumnInfo]) -> dict[str, AdqlType]:
    """A table's column types by lower-case name (the first of equal names wins).

    Kept per column sequence: catalogue tables keep theirs between queries, and converting
    the hundreds of columns of an HSC table on every query would cost a millisecond. The
    entry holds the sequence itself, so its ``id`` cannot be reused while it is cached.
    """
    hit = _TYPED.get(id(metas))
    if hit is not None and hit[0] is metas:
        return hit[1]
    columns: dict[str, AdqlType] = {}
    for meta in metas:
        columns.setdefault(meta.name.lower(), column_type(meta))
    if len(_TYPED) >= _TYPED_MAX:
        _TYPED.clear()  # uploads bring new sequences each query: start afresh now and then
    _TYPED[id(metas)] = (metas, columns)
    return columns


def as_columns(outputs: Outputs) -> Columns:
    """Output columns as a derived table's or WITH query's columns (named ones only)."""
    if outputs is None:
        return None
    columns: dict[str, AdqlType] = {}
    for name, typ in outputs:
        if name is not None:
            columns.setdefault(name.lower(), typ)
    return columns


def expand(scope: Scope, qualifier: n.TableName | None) -> list[tuple[str | None, AdqlType]] | None:
    """The columns ``*`` or ``t.*`` stands for; None when a source's columns are unknown."""
    out: list[tuple[str | None, AdqlType]] = []
    for r in scope.ranges:
        if qualifier is not None and not r.answers_to(qualifier):
            continue
        if r.columns is None:
            return None
        out += list(r.columns.items())
    return out
