"""UWS job records in SQL: SQLite for the embedded default, PostgreSQL for replicas and workers.

One implementation for both databases, on SQLAlchemy Core's asyncio engine (aiosqlite and
asyncpg), so job traffic never blocks the event loop. Every phase change is one conditional
UPDATE (``WHERE phase IN (...)``): a racing abort and completion, even on two machines, cannot
both win. Result files are not kept here but in a :class:`gateway.jobs.results.ResultStore`.

Waiting for a phase change (UWS ``WAIT``) polls the database with back-off, woken at once by
changes this process makes: with workers elsewhere, the database is the only place a change is
sure to show up.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.jobs import tables
from gateway.jobs.migrate import upgrade
from gateway.jobs.model import (
    ACTIVE_PHASES,
    RESTART_MESSAGE,
    RUNNING_PHASES,
    TRANSITIONS,
    ErrorType,
    Job,
    JobError,
    JobParameter,
    JobPhaseError,
    JobResult,
    ParameterInput,
    Phase,
    UnknownJobError,
    normalize_parameters,
)
from gateway.jobs.times import from_us, to_us

#: Parameters that accumulate when posted again; every other name is replaced (DALI §3.1).
REPEATABLE_PARAMETERS = frozenset({"UPLOAD"})

_POLL_START = 0.05
_LOAD_BLOCK = 500
"""Jobs whose parameters and results are read in one query (within SQLite's variable limit)."""
_POLL_MAX = 1.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoreUnavailableError(ConnectionError):
    """The job database cannot be reached (HTTP 503; the service recovers when it returns)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; foreign keys: deleting a job drops its rows.
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=5000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class SqlJobStore:
    """UWS job records in a SQL database (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    Build it with :meth:`open`, which also brings the schema up to date.

    Parameters
    ----------
    engine
        An asyncio engine on the database.
    clock
        Returns the current aware UTC time (tests inject a fake one).
    """

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time; serialising writes here avoids busy retries and
        # makes MAX(seq) + 1 safe.
        self._write_lock = asyncio.Lock() if not self._postgres else None
        # One wake-up per waiting request, by job: a change wakes only the waiters of that
        # job (one shared event made every waiter re-read its job on any change).
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @classmethod
    async def open(cls, url: str, clock: Callable[[], datetime] = _utcnow) -> SqlJobStore:
        """Connect to ``url``, migrate the schema to the newest revision, return the store."""
        options: dict[str, Any] = {"pool_pre_ping": True}
        engine = create_async_engine(url, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        await upgrade(engine)
        return cls(engine, clock)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        """The engine (for health checks)."""
        return self._engine

    # -- reading -------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        """Return the job, or None if there is none with this id."""
        async with self._read() as conn:
            return await self._load_one(conn, job_id)

    async def list(
        self,
        *,
        phases: set[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
        owner: str | None = None,
    ) -> builtins.list[Job]:
        """Return jobs, newest first.

        Filters AND together (U §2.2.2.1): ``phases`` keeps jobs in any of the phases
        (without it ARCHIVED jobs are hidden), ``after`` keeps jobs created strictly later,
        ``last`` keeps the ``last`` most recent, ``owner`` keeps one owner's jobs.
        """
        if last is not None and last < 0:
            msg = "LAST must be a non-negative integer"
            raise ValueError(msg)
        wanted = phases if phases is not None else set(Phase) - {Phase.ARCHIVED}
        j = tables.jobs
        query = select(j).where(j.c.phase.in_([p.value for p in wanted]))
        if after is not None:
            query = query.where(j.c.creation_us > to_us(after))
        if owner is not None:
            query = query.where(j.c.owner_id == owner)
        query = query.order_by(j.c.creation_us.desc(), j.c.seq.desc())
        if last is not None:
            query = query.limit(last)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
            return await self._load_many(conn, rows)

    async def count_active(self, owner: str | None) -> int:
        """How many of ``owner``'s jobs are queued or executing (for per-user quotas)."""
        j = tables.jobs
        query = (
            select(func.count())
            .select_from(j)
            .where(j.c.phase.in_([p.value for p in RUNNING_PHASES]))
            .where(j.c.owner_id.is_(None) if owner is None else j.c.owner_id == owner)
        )
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def result_bytes(self, owner: str | None) -> int:
        """Bytes of results ``owner`` keeps on the service (for per-user quotas)."""
        j = tables.jobs
        query = select(func.coalesce(func.sum(j.c.result_bytes), 0)).where(
            j.c.owner_id.is_(None) if owner is None else j.c.owner_id == owner
        )
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def expired(self, now: datetime) -> builtins.list[str]:
        """Return ids of jobs whose destruction time is at or before ``now``."""
        j = tables.jobs
        query = (
            select(j.c.job_id)
            .where(j.c.destruction_us.is_not(None))
            .where(j.c.destruction_us <= to_us(now))
            .order_by(j.c.destruction_us)
        )
        async with self._read() as conn:
            return [r[0] for r in (await conn.execute(query)).all()]

    async def stale(self, before: datetime) -> builtins.list[tuple[str, int]]:
        """``(job_id, attempts)`` of jobs EXECUTING whose executor last beat before ``before``."""
        j = tables.jobs
        query = (
            select(j.c.job_id, j.c.attempts)
            .where(j.c.phase == Phase.EXECUTING.value)
            .where((j.c.heartbeat_us.is_(None)) | (j.c.heartbeat_us < to_us(before)))
            .order_by(j.c.job_id)
        )
        async with self._read() as conn:
            return [(r[0], int(r[1])) for r in (await conn.execute(query)).all()]

    async def wait_for_change(self, job_id: str, phase: Phase, limit: float | None) -> Job:
        """Wait until the job leaves ``phase`` or ``limit`` seconds pass (None: forever).

        Changes made through this store wake the wait at once; changes made by other
        processes are found by polling, at intervals growing to ``_POLL_MAX``.
        """
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        interval = _POLL_START
        woken = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(woken)
        try:
            while True:
                woken.clear()  # before the read, so a change after it is not missed
                job = await self._require(job_id)
                if job.phase is not phase:
                    return job
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return job
                pause = interval if remaining is None else min(interval, remaining)
                try:
                    await asyncio.wait_for(woken.wait(), pause)
                except TimeoutError:
                    interval = min(interval * 2, _POLL_MAX)
        finally:
            waiting = self._waiters.get(job_id)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self._waiters[job_id]

    def _changed(self, job_id: str) -> None:
        """Wake the requests waiting for a change of this job."""
        for woken in self._waiters.get(job_id, ()):
            woken.set()

    # -- creating and changing -------------------------------------------------------------

    async def create(
        self,
        parameters: Iterable[ParameterInput],
        *,
        owner: str | None = None,
        run_id: str | None = None,
        execution_duration: int = 0,
        destruction: datetime | None = None,
    ) -> Job:
        """Create a PENDING job with an unguessable URL-safe id."""
        params = normalize_parameters(parameters)
        # 144 random bits: job ids must not be enumerable.
        job_id = secrets.token_urlsafe(18)
        j = tables.jobs
        async with self._write() as conn:
            if self._postgres:
                seq: Any = tables.job_seq.next_value()
            else:
                seq = (
                    await conn.execute(select(func.coalesce(func.max(j.c.seq), 0) + 1))
                ).scalar_one()
            await conn.execute(
                insert(j).values(
                    job_id=job_id,
                    seq=seq,
                    run_id=run_id,
                    owner_id=owner,
                    phase=Phase.PENDING.value,
                    creation_us=to_us(self._clock()),
                    execution_duration=execution_duration,
                    destruction_us=None if destruction is None else to_us(destruction),
                )
            )
            await self._insert_parameters(conn, job_id, params)
        return await self._require(job_id)

    async def set_phase(self, job_id: str, phase: Phase) -> Job:
        """Move to ``phase``; :class:`JobPhaseError` if the transition is illegal."""
        allowed = {src for src, targets in TRANSITIONS.items() if phase in targets}
        return await self._transition(job_id, allowed, phase, f"move to {phase.value}")

    async def run(self, job_id: str) -> Job:
        """``PHASE=RUN``: PENDING or HELD -> QUEUED; a no-op when already queued or running."""
        job = await self._require(job_id)
        if job.phase in RUNNING_PHASES:
            return job
        return await self._transition(job_id, {Phase.PENDING, Phase.HELD}, Phase.QUEUED, "run")

    async def mark_started(self, job_id: str, worker_id: str | None = None) -> Job:
        """QUEUED (or SUSPENDED) -> EXECUTING; records startTime, the worker and a heartbeat."""
        now = to_us(self._clock())
        return await self._transition(
            job_id,
            {Phase.QUEUED, Phase.SUSPENDED},
            Phase.EXECUTING,
            "start",
            start_us=now,
            heartbeat_us=now,
            worker_id=worker_id,
            attempts=tables.jobs.c.attempts + 1,
        )

    async def requeue(self, job_id: str) -> Job:
        """EXECUTING -> QUEUED, for a retry after its worker died."""
        return await self._transition(
            job_id, {Phase.EXECUTING}, Phase.QUEUED, "requeue", worker_id=None, heartbeat_us=None
        )

    async def progress(self, job_id: str) -> dict[str, int]:
        """Rows fetched so far from each backend, as the job's executor last reported."""
        j = tables.jobs
        async with self._read() as conn:
            value = (
                await conn.execute(select(j.c.progress).where(j.c.job_id == job_id))
            ).scalar_one_or_none()
        return {str(k): int(v) for k, v in json.loads(value).items()} if value else {}

    async def heartbeat(self, job_id: str, progress: Mapping[str, int] | None = None) -> bool:
        """Show that the job's executor is alive and record its progress.

        Returns False when the job is no longer EXECUTING (aborted elsewhere).
        """
        j = tables.jobs
        values: dict[str, Any] = {"heartbeat_us": to_us(self._clock())}
        if progress:
            values["progress"] = json.dumps(dict(progress))
        async with self._write() as conn:
            result = await conn.execute(
                update(j)
                .where(j.c.job_id == job_id)
                .where(j.c.phase == Phase.EXECUTING.value)
                .values(values)
            )
            return bool(result.rowcount)

    async def mark_completed(
        self,
        job_id: str,
        results: Sequence[JobResult],
        progress: Mapping[str, int] | None = None,
    ) -> Job:
        """EXECUTING -> COMPLETED with ``results``; records endTime, result size, progress."""
        size = sum(r.size or 0 for r in results)
        values: dict[str, Any] = {"end_us": to_us(self._clock()), "result_bytes": size}
        if progress:
            values["progress"] = json.dumps(dict(progress))
        async with self._write() as conn:
            await self._transition_in(
                conn,
                job_id=job_id,
                sources={Phase.EXECUTING},
                target=Phase.COMPLETED,
                action="complete",
                values=values,
            )
            await conn.execute(delete(tables.results).where(tables.results.c.job_id == job_id))
            if results:
                await conn.execute(
                    insert(tables.results),
                    [
                        {
                            "job_id": job_id,
                            "position": i,
                            "result_id": r.result_id,
                            "href": r.href,
                            "mime_type": r.mime_type,
                            "size": r.size,
                        }
                        for i, r in enumerate(results)
                    ],
                )
        self._changed(job_id)
        return await self._require(job_id)

    async def mark_error(self, job_id: str, message: str, error_type: ErrorType = "fatal") -> Job:
        """Move an unfinished job to ERROR with an errorSummary; records endTime."""
        return await self._transition(
            job_id,
            ACTIVE_PHASES | {Phase.UNKNOWN},
            Phase.ERROR,
            "fail",
            end_us=to_us(self._clock()),
            error_message=message,
            error_type=error_type,
        )

    async def mark_aborted(self, job_id: str) -> Job:
        """``PHASE=ABORT``: move an unfinished job to ABORTED; records endTime."""
        return await self._transition(
            job_id,
            ACTIVE_PHASES | {Phase.UNKNOWN},
            Phase.ABORTED,
            "abort",
            end_us=to_us(self._clock()),
        )

    async def update_parameters(self, job_id: str, parameters: Iterable[ParameterInput]) -> Job:
        """Add parameters to a PENDING job; a name other than UPLOAD replaces earlier values."""
        params = normalize_parameters(parameters)
        async with self._write() as conn:
            job = await self._load_one(conn, job_id)
            if job is None:
                raise UnknownJobError(job_id)
            if job.phase is not Phase.PENDING:
                raise JobPhaseError(job_id, job.phase, "change parameters of")
            replaced = {p.name for p in params} - REPEATABLE_PARAMETERS
            kept = [p for p in job.parameters if p.name not in replaced]
            await conn.execute(
                delete(tables.parameters).where(tables.parameters.c.job_id == job_id)
            )
            await self._insert_parameters(conn, job_id, (*kept, *params))
        return await self._require(job_id)

    async def set_destruction(self, job_id: str, destruction: datetime) -> Job:
        """Change the destruction time (any phase; the service may clamp it beforehand)."""
        return await self._update_field(job_id, "destruction_us", to_us(destruction), None)

    async def set_execution_duration(self, job_id: str, seconds: int) -> Job:
        """Change executionDuration; only while PENDING, since a running job has its budget."""
        if seconds < 0:
            msg = "execution duration must be >= 0 (0 = unlimited)"
            raise ValueError(msg)
        return await self._update_field(job_id, "execution_duration", seconds, Phase.PENDING)

    async def delete(self, job_id: str) -> None:
        """Remove the job record (its result files belong to the result store)."""
        async with self._write() as conn:
            result = await conn.execute(delete(tables.jobs).where(tables.jobs.c.job_id == job_id))
            if result.rowcount == 0:
                raise UnknownJobError(job_id)
        self._changed(job_id)

    async def recover_after_restart(self) -> builtins.list[str]:
        """Fail every job left QUEUED or EXECUTING (embedded mode: this process ran them all).

        Call once at start-up of a single-process service; with shared workers use the
        heartbeat reaper instead, since other processes may be running those jobs.
        """
        j = tables.jobs
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(j.c.job_id).where(j.c.phase.in_([p.value for p in RUNNING_PHASES]))
                )
            ).all()
        ids = [r[0] for r in rows]
        for job_id in ids:
            await self.mark_error(job_id, RESTART_MESSAGE, "transient")
        return ids

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` unless the database answers."""
        async with self._read() as conn:
            await conn.execute(select(1))

    # -- internals -------------------------------------------------------------------------

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return _guarded(self._engine.connect(), None)

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return _guarded(self._engine.begin(), self._write_lock)

    async def _transition(
        self,
        job_id: str,
        sources: set[Phase] | frozenset[Phase],
        target: Phase,
        action: str,
        **values: Any,
    ) -> Job:
        async with self._write() as conn:
            await self._transition_in(
                conn, job_id=job_id, sources=sources, target=target, action=action, values=values
            )
        self._changed(job_id)
        return await self._require(job_id)

    async def _transition_in(
        self,
        conn: AsyncConnection,
        *,
        job_id: str,
        sources: set[Phase] | frozenset[Phase],
        target: Phase,
        action: str,
        values: dict[str, Any],
    ) -> None:
        j = tables.jobs
        result = await conn.execute(
            update(j)
            .where(j.c.job_id == job_id)
            .where(j.c.phase.in_([p.value for p in sources]))
            .values(phase=target.value, **values)
        )
        if result.rowcount == 0:
            job = await self._load_one(conn, job_id)
            if job is None:
                raise UnknownJobError(job_id)
            raise JobPhaseError(job_id, job.phase, action)

    async def _update_field(
        self, job_id: str, column: str, value: object, only: Phase | None
    ) -> Job:
        j = tables.jobs
        async with self._write() as conn:
            job = await self._load_one(conn, job_id)
            if job is None:
                raise UnknownJobError(job_id)
            if only is not None and job.phase is not only:
                raise JobPhaseError(job_id, job.phase, f"change {column} of")
            await conn.execute(update(j).where(j.c.job_id == job_id).values({column: value}))
        return await self._require(job_id)

    async def _insert_parameters(
        self, conn: AsyncConnection, job_id: str, params: Sequence[JobParameter]
    ) -> None:
        if not params:
            return
        await conn.execute(
            insert(tables.parameters),
            [
                {
                    "job_id": job_id,
                    "position": i,
                    "name": p.name,
                    "value": p.value,
                    "by_reference": p.by_reference,
                }
                for i, p in enumerate(params)
            ],
        )

    async def _require(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if job is None:
            raise UnknownJobError(job_id)
        return job

    async def _load_one(self, conn: AsyncConnection, job_id: str) -> Job | None:
        row = (
            await conn.execute(select(tables.jobs).where(tables.jobs.c.job_id == job_id))
        ).first()
        return None if row is None else await self._load(conn, row)

    async def _load(self, conn: AsyncConnection, row: Row[Any]) -> Job:
        return (await self._load_many(conn, [row]))[0]

    async def _load_many(
        self, conn: AsyncConnection, rows: Sequence[Row[Any]]
    ) -> builtins.list[Job]:
        """The jobs of ``rows`` with their parameters and results.

        Two queries per block of jobs, not two per job: a job list of thousands would
        otherwise cost thousands of queries.
        """
        p, r = tables.parameters, tables.results
        params: dict[str, builtins.list[JobParameter]] = {}
        results: dict[str, builtins.list[JobResult]] = {}
        for start in range(0, len(rows), _LOAD_BLOCK):
            ids = [row.job_id for row in rows[start : start + _LOAD_BLOCK]]
            for job_id, name, value, by_reference in await conn.execute(
                select(p.c.job_id, p.c.name, p.c.value, p.c.by_reference)
                .where(p.c.job_id.in_(ids))
                .order_by(p.c.job_id, p.c.position)
            ):
                params.setdefault(job_id, []).append(JobParameter(name, value, bool(by_reference)))
            for job_id, *result in await conn.execute(
                select(r.c.job_id, r.c.result_id, r.c.href, r.c.mime_type, r.c.size)
                .where(r.c.job_id.in_(ids))
                .order_by(r.c.job_id, r.c.position)
            ):
                results.setdefault(job_id, []).append(JobResult(*result))
        return [_job(row, params.get(row.job_id, ()), results.get(row.job_id, ())) for row in rows]


def _job(row: Row[Any], params: Iterable[JobParameter], results: Iterable[JobResult]) -> Job:
    """A job from its row in the jobs table and its parameters and results."""
    created = from_us(row.creation_us)
    if created is None:  # the schema says NOT NULL; this satisfies the type checker
        raise UnknownJobError(row.job_id)
    return Job(
        job_id=row.job_id,
        run_id=row.run_id,
        owner_id=row.owner_id,
        phase=Phase(row.phase),
        creation_time=created,
        start_time=from_us(row.start_us),
        end_time=from_us(row.end_us),
        execution_duration=row.execution_duration,
        destruction=from_us(row.destruction_us),
        parameters=tuple(params),
        results=tuple(results),
        error=None if row.error_message is None else JobError(row.error_message, row.error_type),
        quote=from_us(row.quote_us),
    )


@contextlib.asynccontextmanager
async def _guarded(
    context: AbstractAsyncContextManager[AsyncConnection], lock: asyncio.Lock | None
) -> AsyncIterator[AsyncConnection]:
    """Enter an engine context (connect or begin) under the SQLite write lock, if any.

    A lost database becomes :class:`StoreUnavailableError` (HTTP 503, not a crash).
    """
    async with lock if lock is not None else contextlib.nullcontext():
        try:
            async with context as conn:
                yield conn
        except (OSError, OperationalError, InterfaceError) as exc:
            raise StoreUnavailableError(f"the job database is unreachable: {exc}") from exc
