"""The SQL a federated plan runs in the local engine, for ``translate`` (CLI and HTTP).

DESIGN.md's ``translate`` JSON gives ``local_sql`` as SQL (DuckDB's unless another dialect is
asked for) or null. A :class:`~gateway.federation.planner.Plan` carries the engine's query as ADQL;
:func:`plan_json` compiles it against the tables the engine would hold while running the
plan (the fetched rows, every scan's registered copy, local tables, uploads), with the same
compiler and unit conversion as :class:`gateway.engine.local.LocalEngine`. Nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.engine.local import astropy_unit_factor
from gateway.federation.planner import ROWS_TABLE, CatalogView, Plan
from gateway.table_meta import SchemaMeta
from grammar import nodes as n
from grammar.walk import iter_nodes
from planners.sql import Dialect, ResolvedTable, to_sql
from planners.sql_catalog import ColumnInfo

__all__ = ["engine_sql", "local_service_sql", "plan_json"]

_Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _PlanTables:
    """The engine's tables for one plan; a name it does not know passes through as written."""

    tables: Mapping[_Key, ResolvedTable]

    def resolve_table(self, name: n.TableName) -> ResolvedTable | None:
        found = self.tables.get(_key(p.name for p in name.parts))
        if found is not None:
            return found
        # TAP_SCHEMA and the like: planning already checked the name; emit it as written.
        return ResolvedTable(tuple(p.name for p in name.parts), (), open=True)

    def table_names(self) -> Sequence[str]:
        return [".".join(t.sql_name) for t in self.tables.values()]


def _key(parts: Iterable[str]) -> _Key:
    return tuple(p.lower() for p in parts)


def _table(parts: Sequence[str], columns: tuple[ColumnInfo, ...]) -> ResolvedTable:
    # No columns known (a TAP backend answering a whole query): any column passes through.
    return ResolvedTable(tuple(parts), columns, open=not columns)


def _fragment_columns(plan: Plan, catalog: CatalogView) -> tuple[ColumnInfo, ...]:
    """The typed columns of a single-backend plan's fetched rows."""
    assert plan.fragment is not None
    body = plan.query.body
    entry = None
    if isinstance(body, n.SelectQuery) and len(body.from_) == 1:
        item = body.from_[0]
        if isinstance(item, n.TableReference):
            entry = catalog.lookup(item.name)
    if entry is None:
        return ()
    by_name = {c.name: c for c in entry.meta.columns}
    return tuple(by_name[c] for c in plan.fragment.columns if c in by_name)


def _tables(plan: Plan, local: n.Query, catalog: CatalogView) -> dict[_Key, ResolvedTable]:
    tables: dict[_Key, ResolvedTable] = {}
    if plan.fragment is not None:
        tables[_key(ROWS_TABLE)] = _table(ROWS_TABLE, _fragment_columns(plan, catalog))
    for scan in plan.scans:
        ref = scan.ref
        if ref.source == "upload":
            parts = tuple(p.name for p in ref.node.name.parts)
            tables[_key(parts)] = _table(parts, ref.columns)
        elif scan.table is not None:
            tables[_key(scan.register_as)] = _table(scan.register_as, scan.table.meta.columns)
    for node in iter_nodes(local):  # local tables the engine holds under their own names
        if isinstance(node, n.TableReference):
            key = _key(p.name for p in node.name.parts)
            entry = catalog.lookup(node.name)
            if key not in tables and entry is not None:
                tables[key] = _table(entry.name_parts, entry.meta.columns)
    return tables


def engine_sql(plan: Plan, catalog: CatalogView, dialect: Dialect = "duckdb") -> str | None:
    """The SQL the engine runs for ``plan``; None when a backend answers the query whole."""
    local = plan.fragment.local_query if plan.fragment is not None else plan.local_query
    if local is None:
        return None
    resolver = _PlanTables(_tables(plan, local, catalog))
    return to_sql(local, dialect, resolver=resolver, unit_converter=astropy_unit_factor)


def plan_json(plan: Plan, catalog: CatalogView, dialect: Dialect = "duckdb") -> dict[str, object]:
    """DESIGN.md's ``translate`` JSON: ``{"fragments": [...], "local_sql": SQL-or-null}``."""
    return {
        "fragments": [f.to_json() for f in plan.fragments],
        "local_sql": engine_sql(plan, catalog, dialect),
    }


def local_service_sql(query: n.Query, schemas: Iterable[SchemaMeta]) -> str:
    """The DuckDB SQL a service of local tables only runs for ``query`` (its own tables)."""
    tables: dict[_Key, ResolvedTable] = {}
    for schema in schemas:
        for table in schema.tables:
            parts = tuple(p.strip('"') for p in table.table_name.split("."))
            tables[_key(parts)] = _table(parts, tuple(table.columns))
    resolver = _PlanTables(tables)
    return to_sql(query, "duckdb", resolver=resolver, unit_converter=astropy_unit_factor)
