"""The federation planner: one ADQL query -> backend fragments + what the gateway runs itself.

Pure logic over the AST, the federated catalogue and the per-backend planners (no I/O):

* every table reference is routed to its backend (``TAP_UPLOAD.x`` to the query's uploads,
  TAP_SCHEMA and ``local`` backends to the in-process engine);
* **pushdown**: every table on one TAP backend (uploads allowed when it takes them) -> the
  whole query goes there (:meth:`planners.tap.TapPlanner.request_for`); with uploads this is
  an UploadJoin of the client's tables;
* **single**: one table of a REST backend -> :func:`planners.negotiate.negotiate`;
* **engine**: only tables the gateway serves itself, and uploads -> the engine alone;
* **federated**: one :class:`ScanPlan` per table reference, each with every single-table
  conjunct of WHERE/ON pushed (split by the references they read, outer-join safe) and only
  the columns the query reads; the query itself then runs in DuckDB over the fetched rows
  (LocalJoin; joins, cross-backend conditions, aggregates, ORDER BY, TOP, UNION...). A
  positional cross-match whose one side is unrestricted makes that side *dependent*: it is
  fetched after the other, restricted by it (:mod:`gateway.federation.xmatch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from gateway.federation.catalog import AnyPlanner, CatalogTable
from gateway.federation.refs import (
    Ref,
    collect_refs,
    needed_columns,
    single_table_conjuncts,
    strip_qualifiers,
)
from gateway.federation.whole import (
    WholeFetch,
    check_whole_fetches,
    fetch_nothing,
    wants_no_rows,
    whole_fetch,
)
from gateway.federation.xmatch import FederationOptions, XmatchEdge, detect_xmatch
from gateway.kinds.registry import kind_for
from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem, UnsupportedError
from grammar.fold import fold_conditions
from grammar.printer import to_adql
from grammar.printer_values import name_identifier
from grammar.suggestions import suggestion
from grammar.walk import and_of, conjuncts, iter_nodes, transform
from planners.base import Capability, QueryPlanner
from planners.negotiate import Fragment, negotiate
from planners.sql_catalog import ColumnInfo

__all__ = ["CatalogView", "Plan", "ScanPlan", "plan_query", "scan_fragment"]

Mode = Literal["engine", "pushdown", "single", "federated"]
ROWS_TABLE = ("fragment", "fetched")


class CatalogView(Protocol):
    """What planning needs from the catalogue (``FederatedCatalog``)."""

    def lookup(self, name: n.TableName) -> CatalogTable | None:
        """The federated table ``name`` designates, or None."""
        ...

    def planner(self, backend: str) -> AnyPlanner | None:
        """The planner of a remote backend."""
        ...

    def table_names(self) -> list[str]:
        """Every federated table name (for error hints)."""
        ...


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """How one table reference's rows reach the engine.

    ``register_as`` is the engine name the local query reads. ``conjuncts`` (unqualified)
    and ``projection`` (None: every column) made ``fragment``; ``restricted`` says a spatial
    condition (or a finite source: upload, local table) bounds the rows. ``depends`` is the
    cross-match through which the rows are restricted by the other side once it is fetched.
    """

    ref: Ref
    table: CatalogTable | None
    register_as: tuple[str, ...]
    conjuncts: tuple[n.SearchCondition, ...] = ()
    projection: tuple[str, ...] | None = None
    fragment: Fragment | None = None
    restricted: bool = True
    depends: XmatchEdge | None = None

    @property
    def backend(self) -> str | None:
        """The remote backend, None for uploads and local tables."""
        return (
            None if self.table is None or self.ref.source != "remote" else self.table.backend.name
        )

    @property
    def kind(self) -> str:
        """Backend kind, or ``upload``/``engine``."""
        if self.ref.source != "remote" or self.table is None:
            return self.ref.source
        return self.table.backend.kind

    @property
    def columns(self) -> tuple[ColumnInfo, ...]:
        """The columns the fetched rows have, in order."""
        if self.fragment is None:
            return self.ref.columns
        by_name = {c.name: c for c in self.ref.columns}
        return tuple(by_name[c] for c in self.fragment.columns if c in by_name)


@dataclass(frozen=True, slots=True)
class Plan:
    """A query's physical plan.

    ``fragment`` is the single remote fragment of ``pushdown`` and ``single`` plans (its rows
    are registered as ``fragment.fetched``); ``scans`` are the per-reference fetches of
    ``federated`` plans. ``local_query`` runs in the engine over the registered rows.
    """

    mode: Mode
    query: n.Query
    local_query: n.Query
    fragment: Fragment | None = None
    scans: tuple[ScanPlan, ...] = ()
    edges: tuple[XmatchEdge, ...] = ()
    uploads_pushed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    whole: tuple[WholeFetch, ...] = ()

    @property
    def fragments(self) -> tuple[Fragment, ...]:
        """Every remote fragment (the static ones; dependent scans change at run time)."""
        if self.fragment is not None:
            return (self.fragment,)
        return tuple(s.fragment for s in self.scans if s.fragment is not None)

    def to_json(self) -> dict[str, object]:
        """The fragments and ``local_adql``, the engine's query as ADQL (or null).

        DESIGN.md's ``translate`` JSON, whose ``local_sql`` is SQL, is
        :func:`gateway.federation.plan_sql.plan_json` (it needs the catalogue's column types).
        """
        local: n.Query | None = self.local_query
        if self.fragment is not None:
            local = self.fragment.local_query
        return {
            "fragments": [f.to_json() for f in self.fragments],
            "local_adql": None if local is None else to_adql(local),
        }


def _rows_query() -> n.Query:
    table = n.TableName(tuple(n.Identifier(p) for p in ROWS_TABLE))
    return n.Query(n.SelectQuery((n.Asterisk(),), (n.TableReference(table),)))


def _classify(catalog: CatalogView, uploads: Mapping[str, tuple[ColumnInfo, ...]]) -> Any:
    folded = {k.lower(): v for k, v in uploads.items()}

    def classify(name: n.TableName) -> tuple[str, tuple[ColumnInfo, ...]] | None:
        parts = name.parts
        if len(parts) == 2 and parts[0].key == "tap_upload":
            if parts[1].key not in folded:
                problem = SemanticProblem(f"No upload named '{parts[1].name}'", name.span)
                raise AdqlSemanticError([problem])
            return "upload", folded[parts[1].key]
        if parts[0].key == "tap_schema":
            return "engine", ()
        found = catalog.lookup(name)
        if found is None:
            return None
        source = "remote" if kind_for(found.backend.kind).remote else "engine"
        return source, found.meta.columns

    return classify


def _unknown_tables(query: n.Query, refs: Sequence[Ref], catalog: CatalogView) -> None:
    ctes = {w.name.key for q in iter_nodes(query) if isinstance(q, n.Query) for w in q.with_}
    known = {id(r.node) for r in refs}
    problems = []
    for node in iter_nodes(query):
        if isinstance(node, n.TableReference) and id(node) not in known:
            if len(node.name.parts) == 1 and node.name.parts[0].key in ctes:
                continue
            written = ".".join(p.name for p in node.name.parts)
            hint = suggestion(written, catalog.table_names(), cutoff=0.5)
            problems.append(SemanticProblem(f"Unknown table '{written}'{hint}", node.span))
    if problems:
        raise AdqlSemanticError(problems)


def _spatial(condition: n.SearchCondition, ref: Ref) -> bool:
    """Whether a single-table conjunct bounds positions (a region, or an RA/Dec range)."""
    for node in iter_nodes(condition):
        if isinstance(node, n.FunctionCall) and node.name in {"CONTAINS", "INTERSECTS", "DISTANCE"}:
            return True
        if isinstance(node, (n.ComparisonPredicate, n.BetweenPredicate)):
            for col in iter_nodes(node):
                if isinstance(col, n.ColumnReference):
                    info = next((c for c in ref.columns if c.name.lower() == col.name.key), None)
                    if info is not None and (info.ucd or "").startswith("pos.eq"):
                        return True
    return False


def scan_fragment(
    planner: AnyPlanner, table: CatalogTable, conjuncts: Sequence[n.SearchCondition],
    projection: tuple[str, ...] | None,
) -> Fragment:  # fmt: skip
    """Negotiate ``SELECT projection FROM table WHERE conjuncts`` with the backend."""
    items: tuple[n.SelectItem, ...] = (n.Asterisk(),)
    if projection is not None:
        items = tuple(n.DerivedColumn(n.ColumnReference(name_identifier(c))) for c in projection)
    name = n.TableName(tuple(n.Identifier(p) for p in table.name_parts))
    body = n.SelectQuery(items, (n.TableReference(name),), where=and_of(tuple(conjuncts)))
    return negotiate(planner, n.Query(body))


def _rename_duplicates(query: n.Query, scans: list[ScanPlan]) -> tuple[n.Query, list[ScanPlan]]:
    """Second and later references of one table read their own registered copy."""
    seen: set[tuple[str, ...]] = set()
    renames: dict[int, tuple[str, ...]] = {}
    out = []
    for scan in scans:
        key = tuple(p.lower() for p in scan.register_as)
        renamed = scan
        if key in seen and scan.ref.node.alias is not None:
            name = (f"fed_ref{scan.ref.index}", scan.register_as[-1])
            renames[id(scan.ref.node)] = name
            renamed = replace(scan, register_as=name)
        seen.add(key)
        out.append(renamed)

    def fn(node: Any) -> Any:
        if isinstance(node, n.TableReference) and id(node) in renames:
            parts = tuple(n.Identifier(p) for p in renames[id(node)])
            return replace(node, name=n.TableName(parts))
        return node

    return (transform(query, fn) if renames else query), out


def plan_query(
    query: n.Query,
    catalog: CatalogView,
    *,
    uploads: Mapping[str, tuple[ColumnInfo, ...]] | None = None,
    options: FederationOptions | None = None,
    federate: bool = False,
) -> Plan:
    """Plan ``query`` over the federation (``federate``: never send it whole to one backend).

    Raises
    ------
    AdqlSemanticError
        Unknown tables or columns.
    UnsupportedError
        A construct no backend nor the engine takes, or a federated positional cross-match
        with no spatial restriction on either side (unless ``options.allow_allsky``).
    """
    options = options or FederationOptions()
    # Cone and cross-match radii written as expressions (``1.0/3600``) read as literals.
    query = fold_conditions(query)
    refs = collect_refs(query, _classify(catalog, uploads or {}))
    _unknown_tables(query, refs, catalog)
    remote = [r for r in refs if r.source == "remote"]
    if not remote:
        return Plan("engine", query, query)
    tables = {r.index: catalog.lookup(r.node.name) for r in remote}
    backends = {t.backend.name for t in tables.values() if t is not None}
    has_local = any(r.source == "engine" for r in refs)
    upload_names = tuple(
        dict.fromkeys(r.node.name.parts[1].name for r in refs if r.source == "upload")
    )
    plan: Plan | None = None
    if len(backends) == 1 and not has_local and not federate:
        only = next(iter(backends))
        planner = catalog.planner(only)
        plan = _single_backend(query, planner, remote, upload_names)
    if plan is None:
        plan = _federated(query, catalog, refs, tables, options)
    if wants_no_rows(query) and plan.mode != "pushdown":
        # A TAP backend answers TOP 0 itself; the others are asked nothing at all.
        plan = _fetching_nothing(plan)
    whole = _whole_fetches(plan, remote, tables)
    check_whole_fetches(whole, options.whole_max_rows, allowed=options.allow_whole)
    return replace(plan, whole=whole)


def _fetching_nothing(plan: Plan) -> Plan:
    """``plan`` with no remote request: every remote scan is an empty table of its columns.

    Dependent sides lose their dependency too, or a local or uploaded outer side would still
    make them fetch rows around its positions.
    """
    fragment = None if plan.fragment is None else fetch_nothing(plan.fragment)
    scans = tuple(
        s if s.fragment is None else replace(s, fragment=fetch_nothing(s.fragment), depends=None)
        for s in plan.scans
    )
    return replace(plan, fragment=fragment, scans=scans)


def _whole_fetches(
    plan: Plan, remote: Sequence[Ref], tables: Mapping[int, CatalogTable | None]
) -> tuple[WholeFetch, ...]:
    """Every remote table the plan fetches whole (dependent scans are restricted at run time)."""
    found: list[WholeFetch | None] = []
    table = tables.get(remote[0].index) if len(remote) == 1 else None
    if plan.mode == "single" and plan.fragment is not None and table is not None:
        body = plan.query.body
        offered = conjuncts(body.where) if isinstance(body, n.SelectQuery) else ()
        ref = remote[0]
        found.append(whole_fetch(ref.label, table, plan.fragment, offered, ref.node.span))
    for scan in plan.scans:
        if scan.fragment is not None and scan.table is not None and scan.depends is None:
            label, span = scan.ref.label, scan.ref.node.span
            found.append(whole_fetch(label, scan.table, scan.fragment, scan.conjuncts, span))
    return tuple(f for f in found if f is not None)


def _single_backend(
    query: n.Query, planner: AnyPlanner | None, remote: list[Ref], uploads: tuple[str, ...]
) -> Plan | None:
    caps = Capability.NONE if planner is None else planner.capabilities
    if Capability.JOIN in caps and isinstance(planner, QueryPlanner):
        if uploads and Capability.UPLOAD_SEMIJOIN not in caps:
            return None
        try:
            pushed, requests = planner.request_for(query)
        except UnsupportedError:
            return None
        fragment = Fragment(
            planner.backend, planner.kind, requests, None,
            ("query: whole query",), pushed.local_query, (),
        )  # fmt: skip
        local = pushed.local_query or _rows_query()
        return Plan("pushdown", query, local, fragment=fragment, uploads_pushed=uploads)
    if planner is None or uploads or len(remote) != 1:
        return None
    try:
        fragment = negotiate(planner, query)
    except UnsupportedError:
        return None
    return Plan("single", query, fragment.local_query or _rows_query(), fragment=fragment)


def _federated(
    query: n.Query,
    catalog: CatalogView,
    refs: list[Ref],
    tables: Mapping[int, CatalogTable | None],
    options: FederationOptions,
) -> Plan:
    pushed, joint = single_table_conjuncts(query, refs)
    top = [r for r in refs if r.top_level]
    edges = [e for e in (detect_xmatch(c, top) for c in joint) if e is not None]
    scans: list[ScanPlan] = []
    for ref in refs:
        table = tables.get(ref.index) if ref.source == "remote" else None
        if ref.source == "upload":
            scans.append(ScanPlan(ref, None, tuple(p.name for p in ref.node.name.parts)))
            continue
        if ref.source == "engine":
            found = catalog.lookup(ref.node.name)
            name = found.name_parts if found else tuple(p.name for p in ref.node.name.parts)
            scans.append(ScanPlan(ref, found, name))
            continue
        assert table is not None
        planner = catalog.planner(table.backend.name)
        if planner is None:
            msg = f"backend '{table.backend.name}' has no planner (is it down?)"
            raise UnsupportedError(msg, table.backend.name, ref.node.span)
        conj = tuple(strip_qualifiers(c) for c in pushed.get(ref.index, ()))
        projection = needed_columns(query, ref, refs)
        fragment = scan_fragment(planner, table, conj, projection)
        restricted = any(_spatial(c, ref) for c in conj)
        scans.append(ScanPlan(ref, table, table.name_parts, conj, projection, fragment, restricted))
    scans = _dependencies(scans, edges, options)
    local, scans = _rename_duplicates(query, scans)
    return Plan("federated", query, local, scans=tuple(scans), edges=tuple(edges))


def _dependencies(
    scans: list[ScanPlan], edges: list[XmatchEdge], options: FederationOptions
) -> list[ScanPlan]:
    """Make unrestricted cross-match sides depend on a restricted side; refuse all-sky ones."""
    by_ref = {s.ref.index: s for s in scans}
    restricted = {i for i, s in by_ref.items() if s.restricted}
    changed = True
    while changed:
        changed = False
        for edge in edges:
            for outer, inner in ((edge.left, edge.right), (edge.right, edge.left)):
                scan = by_ref[inner]
                if outer in restricted and inner not in restricted and scan.ref.source == "remote":
                    if scan.ref.preserved:
                        continue
                    by_ref[inner] = replace(scan, depends=edge)
                    restricted.add(inner)
                    changed = True
    for edge in edges:
        if (
            edge.left not in restricted
            and edge.right not in restricted
            and not options.allow_allsky
        ):
            a, b = by_ref[edge.left].ref.label, by_ref[edge.right].ref.label
            msg = (
                f"a positional cross-match of {a} and {b} across backends with no spatial "
                "restriction on either side (add a CONTAINS(POINT(..), CIRCLE(..)) = 1 "
                "condition on one side, or opt in with XMATCH_ALLSKY=true)"
            )
            raise UnsupportedError(msg, None, edge.condition.span)
    return [by_ref[s.ref.index] for s in scans]
