"""The query service over every configured backend: plan, fetch concurrently, finish in DuckDB.

:class:`FederatedQueryService` implements :class:`gateway.query.service.QueryService`. The
catalogue (:class:`gateway.federation.catalog.FederatedCatalog`) is read at start-up;
TAP_SCHEMA is built from it and answered by the local engine. ``run`` is a coroutine on the
caller's event loop:
type check and planning run in a worker thread, the fetches are awaited on the loop with the
one shared :class:`gateway.federation.executor.Executor` (created by ``start()`` on that
loop, as its HTTP client belongs to it), then the fetched rows are registered in a per-query
:class:`gateway.engine.local.LocalEngine` (a worker thread again) that runs the local query with
MAXREC semantics.

Failure semantics: a failing backend never takes the gateway down; by default the query fails
with the :class:`gateway.errors.BackendError` naming backend, URL and cause; with
``PARTIAL=true`` the failed backends' tables are empty and the result carries one INFO
``BACKEND_ERROR`` per failed backend.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from gateway.engine.local import LocalEngine, QueryResult
from gateway.errors import ResourceLimitError
from gateway.federation.catalog import FederatedCatalog
from gateway.federation.executor import Executor, ExecutorOptions
from gateway.federation.fetched import Fetched
from gateway.federation.link import link_query
from gateway.federation.planner import ROWS_TABLE, Plan, plan_query
from gateway.federation.run import FRAGMENT_KEY, Execution, PlanRunner
from gateway.federation.streamed import BatchChannel, FragmentStream
from gateway.federation.upload_join import link_column
from gateway.federation.xmatch import FederationOptions
from gateway.formats.arrow_types import (
    UnsupportedTypeError,
    arrow_type_from_meta,
    coerce_array,
    column_meta_from_arrow,
    field_metadata,
)
from gateway.formats.decode import is_csv
from gateway.formats.table_files import read_table_file
from gateway.kinds.registry import kind_for
from gateway.query.cancellation import Cancellation, in_worker_thread
from gateway.query.options import RunOptions, check_query
from gateway.settings import GatewaySettings
from gateway.table_meta import SchemaMeta
from gateway.tap.example_catalog import runnable_examples
from gateway.tap.examples import Example
from gateway.tap.tap_schema import build_tap_schema
from gateway.tap.uploads import UploadedTable
from grammar import nodes as n
from grammar.errors import AdqlSemanticError
from grammar.nodes import Query
from planners.sql_catalog import ColumnInfo

__all__ = ["FederatedQueryService", "declared_table"]

log = logging.getLogger(__name__)


class FederatedQueryService:
    """Answers ADQL over every backend of ``settings``.

    Parameters
    ----------
    settings
        Gateway settings with the backends.
    options
        Join strategy thresholds (defaults: :class:`FederationOptions`).
    executor_options
        Retry policy and timeouts of backend requests.

    Raises
    ------
    gateway.federation.catalog.CatalogError
        Two backends expose the same table name.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        options: FederationOptions | None = None,
        executor_options: ExecutorOptions | None = None,
    ) -> None:
        self.settings = settings
        self.options = FederationOptions(
            **{
                **_fields(options or FederationOptions()),
                "whole_max_rows": settings.whole_fetch_max_rows,
            }
        )
        self.catalog = FederatedCatalog(settings)
        self._local_files = {
            t.name.lower(): t
            for b in settings.backends
            if not kind_for(b.kind).remote
            for t in b.tables
        }
        # Read once: each query gets its own engine, which must not re-read the files.
        self._local_data = {
            name: read_table_file(table.path) for name, table in self._local_files.items()
        }
        self._schema_version = -1
        self._schema_lock = threading.Lock()
        self._rebuild_schema()
        self._executor_options = executor_options
        self._executor: Executor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ metadata

    def _rebuild_schema(self) -> None:
        with self._schema_lock:
            if self._schema_version == self.catalog.version:
                return
            tap_schema = build_tap_schema(self.catalog.schemas())
            tables = []
            for name, data in tap_schema.tables.items():
                own = next(t for t in tap_schema.meta.tables if t.table_name.lower().endswith(name))
                tables.append((name, data, own.columns))
            self._tap_schema = tables
            self._schemas = tuple(tap_schema.schemas)
            self._schema_version = self.catalog.version

    def schemas(self) -> Sequence[SchemaMeta]:
        """Every federated schema plus TAP_SCHEMA."""
        self._rebuild_schema()
        return self._schemas

    def examples(self) -> Sequence[Example]:
        """The known example queries whose tables and columns this federation serves."""
        return runnable_examples(self.schemas())

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable] | None = None,
        options: RunOptions | None = None,
        federate: bool = False,
    ) -> Plan:
        """The plan of ``query`` (retrying once after a catalogue refresh for unknown tables)."""
        infos = {name: tuple(up.columns) for name, up in (uploads or {}).items()}
        fed = self.options
        if options is not None and options.allow_allsky:
            fed = FederationOptions(**{**_fields(fed), "allow_allsky": True})
        if options is not None and options.fetch_whole:
            fed = FederationOptions(**{**_fields(fed), "allow_whole": True})
        try:
            return plan_query(query, self.catalog, uploads=infos, options=fed, federate=federate)
        except AdqlSemanticError:
            if not self.catalog.refresh():
                raise
            self._rebuild_schema()
            return plan_query(query, self.catalog, uploads=infos, options=fed, federate=federate)

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Create the shared HTTP executor on the running loop (idempotent)."""
        if self._executor is None:
            self._executor = Executor(self.settings.backends, self._executor_options)
            self._loop = asyncio.get_running_loop()

    def _running_executor(self) -> Executor:
        if self._executor is None:
            msg = "the federated service runs queries only after start()"
            raise RuntimeError(msg)
        if self._loop is not asyncio.get_running_loop():
            msg = "the federated service runs queries only on the event loop it started on"
            raise RuntimeError(msg)
        return self._executor

    async def run(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation,
        options: RunOptions,
    ) -> QueryResult:
        """Type-check and plan (worker thread), fetch (this loop), run the local query."""
        executor = self._running_executor()
        plan = await in_worker_thread(
            cancellation, functools.partial(self._checked_plan, query, uploads, options)
        )
        tables = {name.lower(): _with_metadata(up) for name, up in uploads.items()}
        raw = {name.lower(): up.raw for name, up in uploads.items() if up.raw is not None}
        if _streamable(plan, options):
            stream = await self._stream(
                executor, plan, tables, options, cancellation=cancellation, raw=raw
            )
            if isinstance(stream, FragmentStream):
                return await in_worker_thread(
                    cancellation, self._finish_stream, plan, stream, maxrec, cancellation
                )
            execution = Execution(tables={FRAGMENT_KEY: stream})
        else:
            execution = await self._fetch(
                executor, plan, tables, options, cancellation, failed={}, raw=raw
            )
        if plan.fragment is not None and execution.failed:
            # The only backend failed and PARTIAL was asked: answer the federated form of the
            # query over empty tables, which gives the right columns and no rows.
            plan = await in_worker_thread(
                cancellation,
                functools.partial(
                    self.plan, query, uploads=uploads, options=options, federate=True
                ),
            )
            first = execution
            execution = await self._fetch(
                executor, plan, tables, options, cancellation, failed=first.failed, raw=raw
            )
            # The second run skips the failed backend; its BACKEND_ERROR INFO is the first's.
            execution.infos[:0] = [info for info in first.infos if info[0] == "BACKEND_ERROR"]
        return await in_worker_thread(
            cancellation, self._finish, plan, execution, tables, maxrec, cancellation
        )

    def _checked_plan(
        self, query: Query, uploads: Mapping[str, UploadedTable], options: RunOptions
    ) -> Plan:
        check_query(query, self.schemas(), uploads)
        return self.plan(query, uploads=uploads, options=options)

    def _finish(
        self,
        plan: Plan,
        execution: Execution,
        tables: dict[str, pa.Table],
        maxrec: int,
        cancellation: Cancellation,
    ) -> QueryResult:
        """Register the fetched rows in a per-query engine and start the local query."""
        engine = self._engine(plan, execution)
        outer_links = _outer_links(execution)
        for scan in plan.scans:
            # A user upload on the outer side of an UploadJoin needs the link columns too.
            if scan.ref.source == "upload" and scan.ref.index in outer_links:
                key = scan.ref.node.name.parts[1].name.lower()
                tables[key] = _with_links(tables[key], outer_links[scan.ref.index])
        local = link_query(plan.local_query, {s.ref.index: s for s in plan.scans}, execution.links)
        try:
            result = engine.execute(local, uploads=tables, maxrec=maxrec, cancellation=cancellation)
        except BaseException:
            engine.close()
            raise
        infos = list(execution.infos)
        labels = {scan.ref.index: scan.ref.label for scan in plan.scans}
        for index, choice in execution.choices.items():
            text = f"{choice.reason}; estimates {json.dumps(choice.estimates, default=str)}"
            infos.append(("JOIN_STRATEGY", f"{labels[index]}: {choice.strategy}", text))
        if execution.overflow:
            infos.append(("BACKEND_OVERFLOW", "true", "a backend cut its answer at its limit"))
        return result.federated(infos, fetched_overflow=execution.overflow, on_close=engine.close)

    async def _stream(
        self,
        executor: Executor,
        plan: Plan,
        uploads: Mapping[str, pa.Table],
        options: RunOptions,
        *,
        cancellation: Cancellation,
        raw: Mapping[str, bytes],
    ) -> FragmentStream | Fetched:
        """Start the single fragment's fetch: a stream once its first slice parsed, else rows.

        Before the first slice is passed on, failures and cancellation are those of
        :meth:`_fetch`; afterwards the cancellation stops the stream (fetch, channel).
        """
        assert plan.fragment is not None
        runner = self._runner(executor, options, raw)
        expected, bodies = runner.fragment_inputs(plan, uploads)
        fragment = plan.fragment
        declared = self._single_table_columns(plan)
        if cancellation.cancelled:
            msg = "the query was cancelled"
            raise ResourceLimitError(msg)
        stream = FragmentStream(
            executor,
            fragment.backend,
            fragment.requests[0],
            expected=expected,
            uploads=bodies,
            run_id=options.run_id,
            authorization=options.authorization,
            declare=lambda table, fetched: declared_table(table, fetched, declared),
            report=functools.partial(runner.report, fragment.backend),
        )
        starting = asyncio.ensure_future(stream.start())
        cancellation.cancels_task(starting)
        try:
            fetched = await starting
        except asyncio.CancelledError:
            stream.stop()
            caller = asyncio.current_task()
            if caller is not None and caller.cancelling():
                raise
            msg = "the query was cancelled while fetching from backends"
            raise ResourceLimitError(msg) from None
        if fetched is not None:
            runner.report(fragment.backend, fetched.table.num_rows)
            return fetched
        cancellation.on_cancel(stream.stop)
        return stream

    def _finish_stream(
        self, plan: Plan, stream: FragmentStream, maxrec: int, cancellation: Cancellation
    ) -> QueryResult:
        """Run the local query over the arriving rows; closing the result stops the fetch."""
        channel = stream.channel
        assert channel is not None

        def close() -> None:
            stream.stop()  # first: no DuckDB thread may wait on the channel when it closes
            engine.close()

        engine = self._base_engine()
        try:
            engine.add_table(ROWS_TABLE, channel.reader(), stream.columns)
            local = link_query(plan.local_query, {s.ref.index: s for s in plan.scans}, [])
            result = engine.execute(local, maxrec=maxrec, cancellation=cancellation)
        except BaseException:
            close()
            raise
        rows = result.with_batches(_fetch_failures(result.batches, channel))
        return rows.federated([], fetched_overflow=False, on_close=close)

    def _runner(
        self, executor: Executor, options: RunOptions, raw: Mapping[str, bytes]
    ) -> PlanRunner:
        return PlanRunner(
            executor,
            self.catalog,
            self.options,
            options.run_id,
            options.partial,
            authorization=options.authorization,
            local_files={name: table.path for name, table in self._local_files.items()},
            progress=options.progress,
            raw_uploads=raw,
        )

    async def _fetch(
        self,
        executor: Executor,
        plan: Plan,
        uploads: Mapping[str, pa.Table],
        options: RunOptions,
        cancellation: Cancellation,
        *,
        failed: Mapping[str, str],
        raw: Mapping[str, bytes],
    ) -> Execution:
        runner = self._runner(executor, options, raw)
        runner.result.failed.update(failed)
        if not plan.fragments and not any(s.ref.source == "upload" for s in plan.scans):
            return runner.result
        if cancellation.cancelled:
            msg = "the query was cancelled"
            raise ResourceLimitError(msg)
        # Its own task, so that the cancellation (deadline, client gone, ABORT) stops the
        # fetches in flight and the query fails with a limit error, not a bare CancelledError.
        fetches = asyncio.ensure_future(runner.run(plan, uploads))
        cancellation.cancels_task(fetches)
        try:
            return await fetches
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if caller is not None and caller.cancelling():
                raise  # the caller itself is being cancelled: let that proceed
            msg = "the query was cancelled while fetching from backends"
            raise ResourceLimitError(msg) from None

    def _base_engine(self) -> LocalEngine:
        """A query's engine with TAP_SCHEMA and the local tables."""
        engine = LocalEngine()
        for name, data, columns in self._tap_schema:
            engine.add_table(("TAP_SCHEMA", name), data, columns)
        for key, table in self._local_files.items():
            entry = self.catalog.lookup(_name(table.name))
            engine.add_table(
                table.name, self._local_data[key], entry.meta.columns if entry else None
            )
        return engine

    def _engine(self, plan: Plan, execution: Execution) -> LocalEngine:
        engine = self._base_engine()
        if plan.fragment is not None:
            fetched = execution.tables[FRAGMENT_KEY]
            declared = self._single_table_columns(plan)
            table, metas = declared_table(fetched.table, fetched.columns, declared)
            engine.add_table(ROWS_TABLE, table, metas)
            return engine
        outer_links = _outer_links(execution)
        for scan in plan.scans:
            got = execution.tables.get(scan.ref.index)
            if scan.ref.source not in {"remote", "engine"} or got is None or scan.table is None:
                continue
            if scan.ref.source == "engine" and scan.ref.index not in outer_links:
                continue  # registered from its file above; only link columns need the rows
            table, metas = declared_table(got.table, got.columns, scan.table.meta.columns)
            table = _with_links(table, outer_links.get(scan.ref.index, []))
            engine.add_table(scan.register_as, table, metas)
        return engine

    def _single_table_columns(self, plan: Plan) -> tuple[ColumnInfo, ...]:
        """The catalogue columns of a ``single`` plan's table (none for pushed queries)."""
        body = plan.query.body
        if plan.mode != "single" or not isinstance(body, n.SelectQuery):
            return ()
        item = body.from_[0] if len(body.from_) == 1 else None
        if not isinstance(item, n.TableReference):
            return ()
        entry = self.catalog.lookup(item.name)
        return entry.meta.columns if entry is not None else ()

    async def aclose(self) -> None:
        """Close the HTTP client (on the loop of :meth:`start`)."""
        executor, self._executor = self._executor, None
        self._loop = None
        if executor is not None:
            await executor.aclose()


def _streamable(plan: Plan, options: RunOptions) -> bool:
    """Whether the single fragment's answer may be streamed into the local query.

    One unpaged CSV request, without PARTIAL (whose fallback re-plans after a failure, which
    needs the whole outcome first). Paged answers can overflow, which must be known up front.
    """
    fragment = plan.fragment
    if fragment is None or options.partial or len(fragment.requests) != 1:
        return False
    request = fragment.requests[0]
    paged = request.paging is not None and request.paging.may_overflow
    return is_csv(request.response_format) and not paged


def _fetch_failures(
    batches: Iterator[pa.RecordBatch], channel: BatchChannel
) -> Iterator[pa.RecordBatch]:
    """The result's batches; a failure of the streamed fetch is raised as itself.

    DuckDB reports an error of the reader it scans as its own I/O error, which would hide the
    backend's name and cause.
    """
    try:
        yield from batches
    except Exception as error:
        if channel.error is not None and channel.error is not error:
            raise channel.error from error
        raise


def _outer_links(execution: Execution) -> dict[int, list[int]]:
    """For each outer scan of an UploadJoin, the inner scans linked to its rows."""
    links: dict[int, list[int]] = {}
    for outer, inner in execution.links:
        links.setdefault(outer, []).append(inner)
    return links


def _with_links(table: pa.Table, inners: Sequence[int]) -> pa.Table:
    """``table`` with one row-index column per linked inner scan (the UploadJoin keys)."""
    for inner in inners:
        table = table.append_column(link_column(inner), pa.array(range(table.num_rows), pa.int64()))
    return table


def declared_table(
    table: pa.Table, fetched: Sequence[ColumnInfo], declared: Sequence[ColumnInfo]
) -> tuple[pa.Table, list[ColumnInfo]]:
    """Give fetched rows the catalogue's metadata and types.

    Backends answer in their own serialisation (CSV has no types, a VOTable may say ``long``
    where the catalogue says ``int``); results must carry what TAP_SCHEMA declares, so each
    column takes the declared metadata and is cast to the declared type when the values fit.
    Columns the catalogue does not know keep what the backend said.
    """
    by_name = {c.name.lower(): c for c in (*fetched, *declared)}
    arrays: list[pa.Array | pa.ChunkedArray] = []
    metas: list[ColumnInfo] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        meta = by_name.get(field.name.lower()) or column_meta_from_arrow(field)
        meta = replace(meta, name=field.name)
        if column.type == _declared_type(meta):
            # Already the declared type: keep the chunks (a 764,000-row CSV answer arrives in
            # many), as coercion would copy the whole column into one array.
            arrays.append(column)
            metas.append(meta)
            continue
        try:
            array = coerce_array(column, meta)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            array, meta = column.combine_chunks(), column_meta_from_arrow(field)
        arrays.append(array)
        metas.append(meta)
    return pa.Table.from_arrays(arrays, names=table.column_names), metas


def _declared_type(meta: ColumnInfo) -> pa.DataType | None:
    try:
        return arrow_type_from_meta(meta)
    except UnsupportedTypeError:
        return None


def _fields(options: FederationOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


def _name(text: str) -> n.TableName:
    return n.TableName(tuple(n.Identifier(p) for p in text.split(".")))


def _with_metadata(upload: UploadedTable) -> pa.Table:
    """The upload's table with each column's VOTable metadata on its Arrow field."""
    by_name = {meta.name: meta for meta in upload.columns}
    fields = [
        f.with_metadata(field_metadata(by_name[f.name])) if f.name in by_name else f
        for f in upload.table.schema
    ]
    return upload.table.cast(pa.schema(fields))
