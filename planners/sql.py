"""ADQL AST -> sqlglot -> SQL text: the only place that builds ``sqlglot.exp`` trees.

Entry points:

* :func:`compile_query` returns a :class:`CompiledQuery`: the sqlglot expression and the
  result columns (names, VOTable types, units, geometry xtypes) the result writer needs.
* :func:`to_sqlglot` and :func:`to_sql` are thin wrappers for callers that only need SQL.

Names are resolved through the caller's :class:`~planners.sql_catalog.TableResolver`; the
generator never guesses a physical name. The implementation is split by concept:
``sql_catalog`` (types, resolver protocol), ``sql_scope`` (name scopes), ``sql_values``
(expressions, conditions, division rules), ``sql_functions``, ``sql_geometry`` (spherical
predicates), ``sql_xmatch`` (zone joins) and ``sql_compiler`` (query structure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from grammar.nodes import Query
from planners.sql_catalog import (
    ColumnInfo,
    PassThroughResolver,
    ResolvedTable,
    TableResolver,
    UnitConverter,
)
from planners.sql_compiler import QueryCompiler

Dialect = Literal["duckdb", "postgres", "sqlite"]

__all__ = [
    "ColumnInfo",
    "CompiledQuery",
    "Dialect",
    "PassThroughResolver",
    "ResolvedTable",
    "SqlTarget",
    "TableResolver",
    "compile_query",
    "to_sql",
    "to_sqlglot",
]


@dataclass(frozen=True, slots=True)
class SqlTarget:
    """How to generate SQL.

    ``resolver`` supplies catalogue names and columns (required to compile anything with a
    FROM clause); ``unit_converter`` enables ``IN_UNIT``; ``row_limit`` adds a cap applied
    after TOP (the engine passes MAXREC + 1); ``zone_join`` turns positional cross-match
    predicates into declination-zone hash joins (DuckDB only).
    """

    dialect: Dialect = "duckdb"
    resolver: TableResolver | None = None
    unit_converter: UnitConverter | None = None
    row_limit: int | None = None
    zone_join: bool = True


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """Generated SQL and the metadata of the columns it returns, in order."""

    expression: exp.Expr
    columns: tuple[ColumnInfo, ...]
    dialect: Dialect

    @property
    def sql(self) -> str:
        """The SQL text in the target dialect."""
        return self.expression.sql(dialect=self.dialect)


def compile_query(query: Query, target: SqlTarget) -> CompiledQuery:
    """Compile an ADQL query for ``target``.

    Raises
    ------
    grammar.errors.AdqlSemanticError
        Unknown or ambiguous tables and columns (all problems at once, with close matches).
    grammar.errors.UnsupportedError
        Valid ADQL this generator cannot express (names the construct and its position).
    """
    compiler = QueryCompiler(target)
    expression, columns = compiler.compile(query, target.row_limit)
    return CompiledQuery(expression, tuple(columns), target.dialect)


def to_sqlglot(query: Query, *, dialect_rules: SqlTarget) -> exp.Expr:
    """The sqlglot expression for ``query`` under ``dialect_rules``."""
    return compile_query(query, dialect_rules).expression


def to_sql(
    query: Query,
    dialect: Dialect = "duckdb",
    *,
    resolver: TableResolver | None = None,
    unit_converter: UnitConverter | None = None,
    passthrough: bool = False,
) -> str:
    """SQL text for ``query`` in ``dialect``.

    Parameters
    ----------
    query
        The ADQL query.
    dialect
        ``duckdb`` (the local engine's SQL), ``postgres`` (PostgreSQL + pgSphere) or
        ``sqlite``; see :mod:`planners.sql_dialects` for the geometry of each.
    resolver
        The catalogue; required unless ``passthrough``.
    unit_converter
        Enables ``IN_UNIT``.
    passthrough
        With no ``resolver``: translate without a catalogue, tables and columns emitted as
        written (regular identifiers lower-cased, delimited ones exact), no type checks.
    """
    if resolver is None and passthrough:
        resolver = PassThroughResolver()
    target = SqlTarget(dialect=dialect, resolver=resolver, unit_converter=unit_converter)
    return compile_query(query, target).sql
