"""Gateway-free query translation: ADQL -> backend requests + the local SQL still to run.

:func:`translate` routes a single-table query to the planner whose backend serves its table,
negotiates pushdown (:func:`planners.negotiate.negotiate`) and compiles the remaining
``local_query`` to SQL over the fetched rows. Joins across backends need the federation
planner and a :class:`gateway.Gateway`; here they are refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem, UnsupportedError
from grammar.parser import parse
from planners.base import Planner
from planners.negotiate import Fragment, negotiate
from planners.sql import Dialect, ResolvedTable, to_sql
from planners.sql_catalog import ColumnInfo


@dataclass(frozen=True, slots=True)
class _RowsResolver:
    """Resolves the fragment's rows table, and nothing else, for the SQL generator."""

    name: tuple[str, ...]
    columns: tuple[ColumnInfo, ...]

    def resolve_table(self, name: n.TableName) -> ResolvedTable | None:
        if tuple(p.key for p in name.parts) == tuple(p.lower() for p in self.name):
            return ResolvedTable(self.name, self.columns)
        return None

    def table_names(self) -> Sequence[str]:
        return [".".join(self.name)]


@dataclass(frozen=True, slots=True)
class Translation:
    """The fragments to fetch and the SQL to run over their rows (None: nothing local)."""

    fragments: tuple[Fragment, ...]
    local_sql: str | None

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's ``translate`` JSON."""
        return {"fragments": [f.to_json() for f in self.fragments], "local_sql": self.local_sql}


def _table_of(query: n.Query) -> n.TableName:
    body = query.body
    if isinstance(body, n.SelectQuery) and len(body.from_) == 1:
        item = body.from_[0]
        if isinstance(item, n.TableReference):
            return item.name
    msg = "a query over several tables (federated joins need a configured gateway)"
    raise UnsupportedError(msg, None, query.span)


def _route(
    name: n.TableName, planners: Mapping[str, Planner[Any]], backend: str | None
) -> Planner[Any]:
    if backend is not None:
        if backend not in planners:
            known = ", ".join(planners)
            problem = SemanticProblem(f"Unknown backend '{backend}' (known: {known})")
            raise AdqlSemanticError([problem])
        return planners[backend]
    problems: list[SemanticProblem] = []
    for planner in planners.values():
        try:
            planner.scan(name)
        except AdqlSemanticError as exc:
            problems.extend(exc.problems)
            continue
        return planner
    written = ".".join(p.name for p in name.parts)
    hints = "; ".join(p.message for p in problems)
    raise AdqlSemanticError(
        [SemanticProblem(f"No backend serves '{written}' ({hints})", name.span)]
    )


def translate(
    adql: str | n.Query,
    planners: Mapping[str, Planner[Any]],
    *,
    backend: str | None = None,
    dialect: Dialect | None = None,
) -> Translation:
    """Translate one ADQL query for the given planners.

    Parameters
    ----------
    adql
        ADQL text or an already parsed query.
    planners
        Planners by backend name (:func:`gateway.federation.builtin_catalog.builtin_planners`).
    backend
        Force this backend instead of routing by table name.
    dialect
        The SQL dialect of ``local_sql`` (DuckDB when None). When a dialect is given and no
        backend serves the query's tables, the whole query is translated to that dialect
        with names as written (plain ADQL-to-SQL translation).

    Raises
    ------
    grammar.AdqlError
        Syntax errors, unknown tables/columns, unsupported constructs.
    """
    query = parse(adql) if isinstance(adql, str) else adql
    try:
        planner = _route(_table_of(query), planners, backend)
    except (AdqlSemanticError, UnsupportedError):
        if dialect is None or backend is not None:
            raise
        return Translation((), to_sql(query, dialect, passthrough=True))
    fragment = negotiate(planner, query)
    local_sql = None
    if fragment.local_query is not None:
        by_name = {c.name: c for c in planner.columns(planner.scan(_table_of(query)))}
        columns = tuple(by_name[c] for c in fragment.columns)
        resolver = _RowsResolver(fragment.rows_table, columns)
        local_sql = to_sql(fragment.local_query, dialect or "duckdb", resolver=resolver)
    return Translation((fragment,), local_sql)
