"""Running a federated plan's fetches: fragments concurrently, dependent sides after their outer.

:class:`PlanRunner` turns a :class:`gateway.federation.planner.Plan` into Arrow tables, one per
registered name, through one :class:`gateway.federation.executor.Executor`. Independent fetches run
concurrently; a dependent side (a cross-match side restricted by the other) waits for its outer
side, then runs the strategy :func:`gateway.federation.xmatch.choose_strategy` picks. With
``partial`` a failing backend's tables are empty and one INFO per failed backend is reported;
otherwise the first :class:`gateway.errors.BackendError` ends the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from gateway.errors import BackendError
from gateway.federation.catalog import CatalogTable, FederatedCatalog
from gateway.federation.executor import Executor
from gateway.federation.fetched import Fetched, empty_table
from gateway.federation.planner import Plan, ScanPlan, scan_fragment
from gateway.federation.upload_join import upload_join
from gateway.federation.xmatch import (
    Cone,
    FederationOptions,
    JoinChoice,
    bounding_cone,
    choose_strategy,
    clusters,
    cone_area,
    cone_condition,
)
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.table_files import read_table_file
from gateway.formats.votable import write_votable
from gateway.kinds.registry import kind_for
from grammar import nodes as n
from grammar.walk import and_of
from planners.base import Capability, QueryPlanner
from planners.negotiate import Fragment
from planners.sql_catalog import ColumnInfo

__all__ = ["Execution", "Fetched", "PlanRunner", "empty_table"]

FRAGMENT_KEY = -1
"""Key of the single fragment of pushdown and single-backend plans in ``Execution.tables``."""


@dataclass(slots=True)
class Execution:
    """What the fetches produced: tables by reference index, INFOs, choices and row links.

    ``links`` lists ``(outer ref, inner ref)`` of UploadJoins: the inner rows carry the
    hidden link column (the outer row number) and the local query must join on it.
    """

    tables: dict[int, Fetched] = field(default_factory=dict)
    infos: list[tuple[str, str, str]] = field(default_factory=list)
    choices: dict[int, JoinChoice] = field(default_factory=dict)
    links: list[tuple[int, int]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def overflow(self) -> bool:
        """True when a backend cut its answer (the result may then be incomplete)."""
        return any(f.overflow for f in self.tables.values())


@dataclass
class PlanRunner:
    """Fetch the remote parts of plans (one instance per query).

    Parameters
    ----------
    executor
        The gateway's shared executor.
    catalog
        The federated catalogue (planners of dependent sides).
    options
        Strategy thresholds and hints.
    run_id
        The job's RUNID, passed to every backend.
    partial
        Report failed backends as INFOs instead of failing the query.
    """

    executor: Executor
    catalog: FederatedCatalog
    options: FederationOptions
    run_id: str | None = None
    partial: bool = False
    authorization: str | None = None
    """The client's Authorization header (the executor forwards it only where configured)."""
    local_files: Mapping[str, Path] = field(default_factory=dict)
    """Data files of ``local`` tables by lower-cased qualified name (outer sides of joins)."""
    progress: Callable[[str, int], None] | None = None
    """Told how many rows each backend sent, as they arrive (async job progress)."""
    raw_uploads: Mapping[str, bytes] = field(default_factory=dict)
    """The client's upload documents by lower-cased name, forwarded as received."""
    result: Execution = field(default_factory=Execution)

    async def fetch_fragment(
        self,
        fragment: Fragment,
        expected: Sequence[ColumnInfo],
        uploads: Mapping[str, bytes] | None = None,
    ) -> Fetched:
        """All requests of ``fragment`` (concatenated); on failure empty when ``partial``."""
        metas = tuple(expected)
        if fragment.backend in self.result.failed:
            return Fetched(empty_table(metas), metas)
        try:
            parts = await asyncio.gather(
                *(
                    self.executor.fetch(
                        fragment.backend,
                        r,
                        run_id=self.run_id,
                        authorization=self.authorization,
                        expected=expected,
                        uploads=uploads,
                    )
                    for r in fragment.requests
                )
            )
        except BackendError as error:
            if not self.partial:
                raise
            self.failed(error)
            return Fetched(empty_table(metas), metas)
        if not parts:
            return Fetched(empty_table(metas), metas)
        self.report(fragment.backend, sum(p.table.num_rows for p in parts))
        tables = [p.table for p in parts if p.table.num_rows] or [parts[0].table]
        table = pa.concat_tables(tables, promote_options="permissive")
        return Fetched(table, parts[0].columns, any(p.overflow for p in parts))

    def report(self, backend: str, rows: int) -> None:
        """Pass on ``rows`` just fetched from ``backend`` to whoever follows progress."""
        if self.progress is not None:
            self.progress(backend, rows)

    def failed(self, error: BackendError) -> None:
        """Record a failed backend (once) and its INFO."""
        if error.backend not in self.result.failed:
            self.result.failed[error.backend] = str(error)
            self.result.infos.append(("BACKEND_ERROR", error.backend, str(error)))

    def _single_expected(self, plan: Plan, fragment: Fragment) -> tuple[ColumnInfo, ...]:
        """The catalogue types of a ``single`` plan's fetched columns.

        CSV answers carry no types; without these, 64-bit ids would be guessed as doubles.
        """
        body = plan.query.body
        if plan.mode != "single" or not isinstance(body, n.SelectQuery) or len(body.from_) != 1:
            return ()
        item = body.from_[0]
        entry = self.catalog.lookup(item.name) if isinstance(item, n.TableReference) else None
        if entry is None:
            return ()
        by_name = {c.name.lower(): c for c in entry.meta.columns}
        wanted = [by_name.get(name.lower()) for name in fragment.columns]
        return tuple(c for c in wanted if c is not None)

    def fragment_inputs(
        self, plan: Plan, uploads: Mapping[str, pa.Table]
    ) -> tuple[tuple[ColumnInfo, ...], dict[str, bytes]]:
        """The expected columns of ``plan.fragment`` and the upload bodies its requests send."""
        assert plan.fragment is not None
        names = {u for r in plan.fragment.requests for u in r.uploads}
        bodies = {
            name: self.raw_uploads.get(name.lower()) or _votable(uploads[name.lower()])
            for name in names
        }
        return self._single_expected(plan, plan.fragment), bodies

    async def run(self, plan: Plan, uploads: Mapping[str, pa.Table]) -> Execution:
        """Fetch every remote part of ``plan``."""
        if plan.fragment is not None:
            expected, bodies = self.fragment_inputs(plan, uploads)
            fetched = await self.fetch_fragment(plan.fragment, expected, bodies)
            self.result.tables[FRAGMENT_KEY] = fetched
            return self.result
        tasks: dict[int, asyncio.Task[Fetched | None]] = {}
        scans = {s.ref.index: s for s in plan.scans}

        async def fetch(scan: ScanPlan) -> Fetched | None:
            if scan.ref.source == "upload":
                table = uploads[scan.ref.node.name.parts[1].name.lower()]
                return Fetched(table, ())
            if scan.ref.source == "engine":
                # A local table may be the outer side of a cross-match: its positions
                # restrict the other side, so its rows are needed here too.
                local = _read_local(self.local_files, scan.ref.node.name)
                if local is not None:
                    self.result.tables[scan.ref.index] = local
                return local
            if scan.ref.source != "remote" or scan.fragment is None:
                return None
            if scan.depends is None:
                fetched = await self.fetch_fragment(scan.fragment, scan.columns)
            else:
                outer = scan.depends.other(scan.ref.index)
                outer_rows = await tasks[outer]
                fetched = await self._dependent(scan, scans[outer], outer_rows)
            self.result.tables[scan.ref.index] = fetched
            return fetched

        try:
            async with asyncio.TaskGroup() as group:
                for scan in plan.scans:
                    tasks[scan.ref.index] = group.create_task(fetch(scan))
        except ExceptionGroup as failures:
            # Report the first failure as itself: callers catch BackendError, not groups.
            raise failures.exceptions[0] from None
        return self.result

    # ------------------------------------------------------------------ dependent sides

    async def _dependent(
        self, scan: ScanPlan, outer: ScanPlan, outer_rows: Fetched | None
    ) -> Fetched:
        assert scan.depends is not None
        assert scan.table is not None
        edge = scan.depends
        ra_name, dec_name = edge.positions(outer.ref.index)
        ra, dec = _positions(outer_rows, ra_name, dec_name)
        cone = bounding_cone(ra, dec, edge.radius)
        planner = self.catalog.planner(scan.table.backend.name)
        assert planner is not None
        caps = planner.capabilities
        # A backend that takes whole queries answers a COUNT probe, and may join an upload.
        whole = planner if isinstance(planner, QueryPlanner) and _WHOLE in caps else None
        uploads_ok = whole is not None and Capability.UPLOAD_SEMIJOIN in caps
        probe = None
        if whole is not None and cone is not None and ra.size:
            probe = await self._probe(scan, whole, cone)
        positions = edge.positions(scan.ref.index)
        bind_cones = None
        if (
            cone is not None
            and 0 < ra.size <= self.options.bind_max_rows
            and Capability.CONE in caps
            and self.options.strategy in {"auto", "BindJoin"}
        ):
            limit = self.options.bind_max_clusters
            bind_cones = clusters(ra, dec, self.options.bind_cluster_deg, edge.radius, limit)
        density, source, first = await self._density(
            scan, whole is not None, cone, probe, bind_cones
        )
        choice = choose_strategy(
            outer_rows=int(ra.size),
            cone=cone,
            inner_cone=Capability.CONE in caps,
            inner_uploads=uploads_ok,
            probe=probe,
            options=self.options,
            bind_cones=bind_cones,
            density=density,
            density_source=source,
        )
        self.result.choices[scan.ref.index] = choice
        metas = tuple(scan.columns)
        if cone is None or ra.size == 0:
            fetched = Fetched(empty_table(metas), metas)
        elif choice.strategy == "UploadJoin":
            assert whole is not None
            fetched, _ = await upload_join(self, scan, whole, positions, (ra, dec), outer_rows)
            self.result.links.append((outer.ref.index, scan.ref.index))
        elif choice.strategy == "BindJoin":
            cones = bind_cones or clusters(ra, dec, self.options.bind_cluster_deg, edge.radius)
            choice.estimates["requests"] = len(cones)
            fetched = await self._bind(scan, positions, cones, first)
        else:
            fragment = scan_fragment(
                planner,
                scan.table,
                (*scan.conjuncts, cone_condition(positions, cone)),
                scan.projection,
            )
            fetched = await self.fetch_fragment(fragment, scan.columns)
        choice.estimates["inner_rows"] = fetched.table.num_rows
        return fetched

    async def _density(
        self,
        scan: ScanPlan,
        probe_possible: bool,
        cone: Cone | None,
        probe: int | None,
        bind_cones: list[Cone] | None,
    ) -> tuple[float | None, str | None, Fetched | None]:
        """Rows per square degree of the inner side near the outer rows, and where from.

        A configured ``density_hint`` wins; else a TAP COUNT probe over the derived cone; else,
        for a cone-only backend with several bind clusters, the rows of the widest cluster cone
        (fetched now and returned third, so a BindJoin reuses it; ``bind_cones`` is reordered
        to put it first). None when nothing cheap tells.
        """
        assert scan.table is not None
        hint = scan.table.backend.density_hint
        if hint is not None:
            return float(hint), "backend density_hint", None
        if cone is None:
            return None, None, None
        if probe is not None:
            return probe / max(cone_area(cone), 1e-12), "COUNT probe of the derived cone", None
        if (
            probe_possible
            or self.options.strategy != "auto"
            or not bind_cones
            or len(bind_cones) < 2  # one cluster: the same cone either way
            or len(bind_cones) > self.options.bind_max_clusters
            or cone.radius > self.options.cone_max_deg
        ):
            return None, None, None
        widest = max(range(len(bind_cones)), key=lambda i: bind_cones[i].radius)
        sample = bind_cones[widest]
        if sample.radius < _MIN_SAMPLE_DEG:
            return None, None, None
        bind_cones.insert(0, bind_cones.pop(widest))
        assert scan.depends is not None
        positions = scan.depends.positions(scan.ref.index)
        first = await self._bind(scan, positions, [sample])
        rows = first.table.num_rows
        source = f"first bind cone: {rows} rows in r = {sample.radius:.4f} deg"
        return rows / cone_area(sample), source, first

    async def _probe(self, scan: ScanPlan, planner: QueryPlanner, cone: Cone) -> int | None:
        """``SELECT COUNT(*)`` of the inner side inside the derived cone (None on failure)."""
        assert scan.table is not None
        assert scan.depends is not None
        positions = scan.depends.positions(scan.ref.index)
        where = (*scan.conjuncts, cone_condition(positions, cone))
        name = n.TableName(tuple(n.Identifier(p) for p in scan.table.name_parts))
        count = n.DerivedColumn(n.SetFunction("COUNT", None), n.Identifier("n"))
        body = n.SelectQuery((count,), (n.TableReference(name),), where=_and(where))
        try:
            _, requests = planner.request_for(n.Query(body))
            answer = await self.executor.fetch(
                planner.backend,
                requests[0],
                run_id=self.run_id,
                authorization=self.authorization,
            )
        except (BackendError, ValueError):
            return None
        values = answer.table.column(0).to_pylist() if answer.table.num_columns else []
        return int(values[0]) if values and values[0] is not None else None

    async def _bind(
        self,
        scan: ScanPlan,
        positions: tuple[str, str],
        cones: list[Cone],
        first: Fetched | None = None,
    ) -> Fetched:
        """One fetch per cone (``first``: the rows of ``cones[0]``, already fetched)."""
        table = scan.table
        assert table is not None
        planner = self.catalog.planner(table.backend.name)
        assert planner is not None
        key = _key_column(scan.ref.columns, kind_for(table.backend.kind).row_keys)
        projection = scan.projection
        if projection is not None and key is not None and key not in projection:
            projection = (*projection, key)
        slots = asyncio.Semaphore(self.options.bind_parallel)
        columns = scan.columns

        bound: CatalogTable = table  # narrowed for the closure

        async def one(cone: Cone) -> Fetched:
            fragment = scan_fragment(
                planner, bound, (*scan.conjuncts, cone_condition(positions, cone)), projection
            )
            async with slots:
                return await self.fetch_fragment(fragment, columns)

        todo = cones[1:] if first is not None else cones
        parts = [] if first is None else [first]
        parts += await asyncio.gather(*(one(c) for c in todo))
        useful = [p for p in parts if p.table.num_rows] or parts[:1]
        table = pa.concat_tables([p.table for p in useful], promote_options="permissive")
        if key is not None and key in table.column_names:
            table = _dedupe(table, key)
        return Fetched(table, useful[0].columns, any(p.overflow for p in parts))


def _votable(table: pa.Table) -> bytes:
    """A user's upload as VOTable bytes, passed on to a TAP backend."""
    columns = [column_meta_from_arrow(f) for f in table.schema]
    return b"".join(write_votable(columns, table.to_batches()))


def _and(conditions: Sequence[n.SearchCondition]) -> n.SearchCondition | None:
    return and_of(tuple(conditions))


def _read_local(files: Mapping[str, Path], name: n.TableName) -> Fetched | None:
    path = files.get(".".join(p.name for p in name.parts).lower())
    if path is None:
        return None
    data = read_table_file(path)
    return Fetched(data.to_table() if isinstance(data, ds.Dataset) else data, ())


def _positions(fetched: Fetched | None, ra: str, dec: str) -> tuple[np.ndarray, np.ndarray]:
    if fetched is None:
        return np.empty(0), np.empty(0)
    table = fetched.table
    names = {c.lower(): c for c in table.column_names}
    ra_col, dec_col = names.get(ra.lower()), names.get(dec.lower())
    if ra_col is None or dec_col is None:
        return np.empty(0), np.empty(0)

    def values(name: str) -> np.ndarray:
        column = table.column(name).cast(pa.float64()).fill_null(np.nan)
        return np.asarray(column.to_numpy(), dtype=np.float64)

    return values(ra_col), values(dec_col)


def _key_column(columns: Sequence[ColumnInfo], row_keys: Sequence[str]) -> str | None:
    """The table's identifier column (UCD ``meta.id;meta.main``), else its kind's row key."""
    for column in columns:
        if (column.ucd or "").lower().startswith("meta.id;meta.main"):
            return column.name
    names = {c.name for c in columns}
    return next((k for k in row_keys if k in names), None)


_WHOLE = Capability.JOIN | Capability.AGGREGATE
"""Capabilities of a backend that takes whole queries (COUNT probes, upload joins)."""

_MIN_SAMPLE_DEG = 0.01
"""Smallest bind cone whose rows are extrapolated to a density (smaller ones are too noisy)."""


def _dedupe(table: pa.Table, key: str) -> pa.Table:
    seen: set[object] = set()
    keep = []
    for index, value in enumerate(table.column(key).to_pylist()):
        if value not in seen:
            seen.add(value)
            keep.append(index)
    return table.take(pa.array(keep, pa.int64())) if len(keep) < table.num_rows else table
