"""The local engine: ADQL executed by an in-process DuckDB over Arrow data.

Tables are Arrow tables or pyarrow datasets (Parquet files are scanned by pyarrow, so DuckDB
itself never opens a file). After the engine is built DuckDB's external access is switched off
and its configuration locked: no SQL text can read files or the network. Each query runs on its
own cursor (a DuckDB connection sharing the database), which also scopes per-query uploads
(``TAP_UPLOAD.<name>``) and makes concurrent queries thread-safe.

MAXREC is applied outside the user's query: the SQL gets ``LIMIT min(TOP, MAXREC + 1)``; if
MAXREC + 1 rows arrive, only MAXREC are returned and ``overflow`` becomes true.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from gateway.engine import udfs as engine_udfs
from gateway.formats.arrow_types import UnsupportedTypeError, votable_type
from gateway.formats.table_files import read_table_file
from gateway.query.cancellation import Cancellation
from grammar.errors import UnsupportedError
from grammar.nodes import Query, TableName
from planners.sql import ResolvedTable, SqlTarget, compile_query
from planners.sql_catalog import ColumnInfo
from planners.sql_scope import quoted_sql

UPLOAD_SCHEMA = "tap_upload"
BATCH_ROWS = 65536


def astropy_unit_factor(source: str, target: str) -> float:
    """Conversion factor between VOUnit strings (astropy); ValueError if incompatible."""
    # Imported here: astropy is slow to import and only IN_UNIT needs it.
    from astropy import units as u  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        return float(
            u.Unit(source, format="vounit", parse_strict="raise").to(
                u.Unit(target, format="vounit", parse_strict="raise")
            )
        )
    except (u.UnitsError, ValueError) as err:
        raise ValueError(str(err)) from err


def arrow_datatype(t: pa.DataType) -> tuple[str, str | None, str | None]:
    """VOTable ``(datatype, arraysize, xtype)`` of an Arrow type; text for what VOTable lacks."""
    try:
        return votable_type(t)
    except UnsupportedTypeError:
        return "char", "*", None


def _metas(schema: pa.Schema, given: Sequence[ColumnInfo] | None) -> tuple[ColumnInfo, ...]:
    by_name = {c.name: c for c in given or ()}
    out = []
    for f in schema:
        datatype, arraysize, xtype = arrow_datatype(f.type)
        extra = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        out.append(
            by_name.get(f.name)
            or ColumnInfo(
                f.name,
                datatype,
                extra.get("arraysize", arraysize),
                extra.get("xtype", xtype),
                extra.get("unit"),
                extra.get("ucd"),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Table:
    written: tuple[str, ...]
    registered: str
    source: pa.Table | ds.Dataset | pa.RecordBatchReader
    columns: tuple[ColumnInfo, ...]
    sql_name: tuple[str, ...]


@dataclass
class _Resolver:
    """Engine catalogue plus this query's uploads; remembers which tables the query used."""

    tables: Mapping[tuple[str, ...], _Table]
    used: dict[str, _Table] = field(default_factory=dict)

    def resolve_table(self, name: TableName) -> ResolvedTable | None:
        exact = tuple(p.name for p in name.parts)
        hit = self.tables.get(tuple(p.key for p in name.parts))
        if hit is None or any(
            p.delimited and w != p.name
            for p, w in zip(name.parts, hit.written[-len(name.parts) :], strict=False)
        ):
            hit = next((t for t in self.tables.values() if t.written == exact), None)
        if hit is None:
            return None
        self.used[hit.registered] = hit
        return ResolvedTable(hit.sql_name, hit.columns)

    def table_names(self) -> Sequence[str]:
        return [".".join(t.written) for t in self.tables.values()]


class QueryResult:
    """The one result of every query service: columns up front, batches streamed, INFOs.

    ``overflow`` is known once the batches are consumed: MAXREC cut the rows, or (federated
    queries) a backend cut its part of them. ``infos`` are the INFO elements the answer
    carries (``BACKEND_ERROR``, ``JOIN_STRATEGY``, ...). ``on_close`` runs once when the
    stream ends, fails or is closed (the federated service closes its per-query engine there).
    """

    def __init__(
        self,
        columns: list[ColumnInfo],
        batches: Iterator[pa.RecordBatch],
        state: dict[str, bool],
        cursor: duckdb.DuckDBPyConnection | None = None,
        *,
        infos: Sequence[tuple[str, str, str]] = (),
        fetched_overflow: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.columns = columns
        self.infos: tuple[tuple[str, str, str], ...] = tuple(infos)
        self._state = state
        self._cursor = cursor
        self._fetched_overflow = fetched_overflow
        self._on_close = on_close
        self.batches: Iterator[pa.RecordBatch] = (
            batches if on_close is None else _closing(batches, self.close)
        )

    @property
    def overflow(self) -> bool:
        """True if MAXREC or a backend cut the result short (valid after iterating ``batches``)."""
        return self._state["overflow"] or self._fetched_overflow

    def cancel(self) -> None:
        """Interrupt the running query; the batch iterator then raises (thread-safe).

        Only the query's own cursor can be interrupted: interrupting the parent connection
        does not reach queries running on cursors.
        """
        if self._cursor is not None:
            _interrupt(self._cursor)

    def close(self) -> None:
        """Run the close hook (once); for a result whose batches are never read to the end."""
        hook, self._on_close = self._on_close, None
        if hook is not None:
            hook()

    def with_batches(self, batches: Iterator[pa.RecordBatch]) -> QueryResult:
        """The same result read through ``batches`` (a wrapper of :attr:`batches`).

        Flags, INFOs and the cursor are this result's; closing either runs the hook once.
        """
        return QueryResult(
            self.columns, batches, self._state, self._cursor, infos=self.infos,
            fetched_overflow=self._fetched_overflow, on_close=self.close,
        )  # fmt: skip

    def federated(
        self,
        infos: Sequence[tuple[str, str, str]],
        *,
        fetched_overflow: bool,
        on_close: Callable[[], None],
    ) -> QueryResult:
        """The result with a federation's INFOs, its backends' overflow and a close hook."""
        return QueryResult(
            self.columns, self.batches, self._state, self._cursor, infos=infos,
            fetched_overflow=fetched_overflow, on_close=on_close,
        )  # fmt: skip


def _closing(
    batches: Iterator[pa.RecordBatch], close: Callable[[], None]
) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    finally:
        close()


class LocalEngine:
    """An in-process DuckDB over registered Arrow tables, with external access disabled."""

    def __init__(self, *, threads: int | None = None) -> None:
        config: dict[str, str | bool | int | float | list[str]] = (
            {"threads": threads} if threads else {}
        )
        self._con = duckdb.connect(":memory:", config=config)
        engine_udfs.register(self._con)
        self._tables: dict[tuple[str, ...], _Table] = {}
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._locked = False
        self.lock()

    # ------------------------------------------------------------------ registration

    def lock(self) -> None:
        """Disable file and network access from SQL and lock the configuration (idempotent)."""
        if not self._locked:
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")
            self._locked = True

    def setting(self, name: str) -> object:
        """The current value of a DuckDB setting (for checks and tests)."""
        row = self._con.execute("SELECT current_setting(?)", [name]).fetchone()
        return None if row is None else row[0]

    def add_table(
        self,
        name: str | Sequence[str],
        data: pa.Table | ds.Dataset | pa.RecordBatchReader,
        columns: Sequence[ColumnInfo] | None = None,
    ) -> None:
        """Expose Arrow data as ``schema.table`` (catalogue case kept, matched per ADQL)."""
        written = tuple(name.split(".")) if isinstance(name, str) else tuple(name)
        registered = f"__adql_src_{next(self._counter)}"
        metas = _metas(data.schema, columns)
        with self._lock:
            self._con.register(registered, data)
            key = tuple(p.lower() for p in written)
            self._tables[key] = _Table(written, registered, data, metas, written)
            if len(written) > 1:
                self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted_sql(written[-2])}")
            view = ".".join(map(quoted_sql, written))
            ddl = f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {quoted_sql(registered)}"  # noqa: S608
            self._con.execute(ddl)

    def add_file(
        self,
        name: str | Sequence[str],
        path: str | Path,
        columns: Sequence[ColumnInfo] | None = None,
    ) -> None:
        """Parquet (scanned lazily by pyarrow), CSV, FITS or VOTable (read via astropy).

        See :func:`gateway.formats.table_files.read_table_file`.
        """
        self.add_table(name, read_table_file(path), columns)

    # ------------------------------------------------------------------ execution

    def compile(
        self, query: Query, uploads: Mapping[str, pa.Table] | None = None, maxrec: int | None = None
    ) -> tuple[str, list[ColumnInfo], _Resolver]:
        """The DuckDB SQL and output metadata for ``query`` (no execution)."""
        tables = dict(self._tables)
        for up_name, data in (uploads or {}).items():
            key = (UPLOAD_SCHEMA, up_name.lower())
            if key in tables:
                raise UnsupportedError(f"two uploads named '{up_name}' (names ignore case)")
            registered = f"__adql_upload_{up_name.lower()}"
            # Uploads get no view: the query names the cursor-local registration directly.
            tables[key] = _Table(
                ("TAP_UPLOAD", up_name), registered, data, _metas(data.schema, None), (registered,)
            )
        resolver = _Resolver(tables)
        limit = None if maxrec is None else maxrec + 1
        compiled = compile_query(query, SqlTarget("duckdb", resolver, astropy_unit_factor, limit))
        metas = list(compiled.columns)
        return compiled.sql, metas, resolver

    def execute(
        self,
        query: Query,
        *,
        uploads: Mapping[str, pa.Table] | None = None,
        maxrec: int | None = None,
        cancellation: Cancellation | None = None,
    ) -> QueryResult:
        """Run ``query``; MAXREC=0 returns metadata only.

        ``cancellation`` interrupts the query from another thread, also while DuckDB is
        still computing the first batch (an aggregate runs entirely before it).
        """
        sql, metas, resolver = self.compile(query, uploads, maxrec)
        cur = self._con.cursor()
        if cancellation is not None:
            cancellation.on_cancel(functools.partial(_interrupt, cur))
        for table in resolver.used.values():
            cur.register(table.registered, table.source)
        state = {"overflow": False}
        if maxrec == 0:
            # MAXREC=0 asks for metadata only; TAP says the overflow indicator is still given.
            state["overflow"] = True
            # Compiled from the AST by planners.sql: no user text is spliced in.
            limited = f"SELECT * FROM ({sql}) AS q LIMIT 0"  # noqa: S608
            reader = cur.sql(limited).to_arrow_reader(BATCH_ROWS)
            metas = _reconcile(metas, reader.schema)
            cur.close()
            return QueryResult(metas, iter(()), state)
        reader = cur.sql(sql).to_arrow_reader(BATCH_ROWS)
        metas = _reconcile(metas, reader.schema)
        return QueryResult(metas, _stream(cur, reader, maxrec, state), state, cur)

    def explain(self, query: Query, uploads: Mapping[str, pa.Table] | None = None) -> str:
        """DuckDB's physical plan for ``query`` (shows hash vs nested-loop joins)."""
        sql, _, resolver = self.compile(query, uploads)
        cur = self._con.cursor()
        try:
            for table in resolver.used.values():
                cur.register(table.registered, table.source)
            rows = cur.sql("EXPLAIN " + sql).fetchall()
        finally:
            cur.close()
        return "\n".join(str(r[1]) for r in rows)

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()


def _interrupt(cursor: duckdb.DuckDBPyConnection) -> None:
    # A closed cursor (query finished) cannot be interrupted, and needs not be.
    with contextlib.suppress(duckdb.Error):
        cursor.interrupt()


def _reconcile(metas: list[ColumnInfo], schema: pa.Schema) -> list[ColumnInfo]:
    """Take the datatype DuckDB actually produced; keep names, units, xtypes from the plan."""
    out = []
    for meta, f in zip(metas, schema, strict=True):
        datatype, arraysize, xtype = arrow_datatype(f.type)
        out.append(
            ColumnInfo(
                meta.name,
                datatype,
                meta.arraysize or arraysize,
                meta.xtype or xtype,
                meta.unit,
                meta.ucd,
                meta.utype,
                meta.description,
                meta.indexed,
                meta.principal,
                meta.std,
                meta.nullable,
            )
        )
    return out


def _stream(
    cur: duckdb.DuckDBPyConnection,
    reader: pa.RecordBatchReader,
    maxrec: int | None,
    state: dict[str, bool],
) -> Iterator[pa.RecordBatch]:
    seen = 0
    try:
        for batch in reader:
            if maxrec is not None and seen + batch.num_rows > maxrec:
                state["overflow"] = True
                if maxrec > seen:
                    yield batch.slice(0, maxrec - seen)
                return
            seen += batch.num_rows
            yield batch
    finally:
        cur.close()
