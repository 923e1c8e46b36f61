"""SQLite implementation of :class:`gateway.jobs.JobStore`.

Records live in ``<data_dir>/jobs.sqlite3`` (WAL mode, so readers never block the writer),
result files in ``<data_dir>/jobs/<job_id>/``. One connection guarded by a lock serves every
thread: FastAPI runs sync handlers in a threadpool, and job metadata traffic is far too small
for connection-level parallelism to matter. Every phase change is one conditional UPDATE
(``WHERE phase IN (...)``) so a racing abort and completion cannot both win.
"""

from __future__ import annotations

import builtins
import re
import secrets
import shutil
import sqlite3
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.jobs import (
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

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

#: Parameters that accumulate when posted again; every other name is replaced (DALI §3.1).
REPEATABLE_PARAMETERS = frozenset({"UPLOAD"})
#: Ids used as path components: no separators, no dot-dot.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    run_id TEXT,
    owner_id TEXT,
    phase TEXT NOT NULL,
    creation_us INTEGER NOT NULL,
    start_us INTEGER,
    end_us INTEGER,
    execution_duration INTEGER NOT NULL,
    destruction_us INTEGER,
    quote_us INTEGER,
    error_message TEXT,
    error_type TEXT
);
CREATE INDEX IF NOT EXISTS jobs_creation ON jobs (creation_us, seq);
CREATE TABLE IF NOT EXISTS parameters (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    by_reference INTEGER NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    result_id TEXT NOT NULL,
    href TEXT NOT NULL,
    mime_type TEXT,
    size INTEGER,
    PRIMARY KEY (job_id, position)
);
"""


def _to_us(value: datetime) -> int:
    """Microseconds since the epoch; integers sort and compare exactly in SQL."""
    if value.tzinfo is None:
        msg = "job times must be timezone-aware"
        raise ValueError(msg)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqliteJobStore:
    """UWS job store in SQLite under a data directory.

    Parameters
    ----------
    path
        The data directory; created if missing.
    clock
        Returns the current aware UTC time (tests inject a fake one).
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] = _utcnow) -> None:
        self._root = path
        self._jobs_dir = path / "jobs"
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        # A Condition doubles as the lock and lets waiters block until any phase changes
        # (UWS WAIT, U §2.2.1.2).
        self._changed = threading.Condition(threading.RLock())
        self._db = sqlite3.connect(
            path / "jobs.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._changed:
            self._db.close()

    # -- reading -------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """Return the job, or None if there is none with this id."""
        with self._changed:
            row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return None if row is None else self._load(row)

    def list(
        self,
        *,
        phases: set[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
        owner: str | None = None,
    ) -> list[Job]:
        """Return jobs, newest first.

        Filters AND together (U §2.2.2.1): ``phases`` keeps jobs in any of the phases
        (without it ARCHIVED jobs are hidden), ``after`` keeps jobs created strictly later,
        ``last`` keeps the ``last`` most recent, ``owner`` keeps one owner's jobs.
        """
        if last is not None and last < 0:
            msg = "LAST must be a non-negative integer"
            raise ValueError(msg)
        where: list[str] = []
        args: list[object] = []
        wanted = phases if phases is not None else set(Phase) - {Phase.ARCHIVED}
        where.append(f"phase IN ({','.join('?' * len(wanted))})")
        args.extend(p.value for p in wanted)
        if after is not None:
            where.append("creation_us > ?")
            args.append(_to_us(after))
        if owner is not None:
            where.append("owner_id = ?")
            args.append(owner)
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY creation_us DESC, seq DESC"  # noqa: S608 (only placeholders are interpolated)
        if last is not None:
            sql += " LIMIT ?"
            args.append(last)
        with self._changed:
            rows = self._db.execute(sql, args).fetchall()
            return [self._load(row) for row in rows]

    def expired(self, now: datetime) -> builtins.list[str]:
        """Return ids of jobs whose destruction time is at or before ``now``."""
        with self._changed:
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE destruction_us IS NOT NULL AND destruction_us <= ?"
                " ORDER BY destruction_us",
                (_to_us(now),),
            ).fetchall()
        return [r[0] for r in rows]

    def wait_for_change(self, job_id: str, phase: Phase, timeout: float | None) -> Job:
        """Block until the job leaves ``phase`` or ``timeout`` seconds pass (None: forever).

        For UWS ``WAIT``; call it from a worker thread, never on the event loop.
        """
        with self._changed:
            job = self._require(job_id)
            self._changed.wait_for(
                lambda: (j := self.get(job_id)) is None or j.phase is not phase, timeout
            )
            return self.get(job_id) or job

    # -- creating and changing -------------------------------------------------------------

    def create(
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
        # 144 random bits: ids are capabilities for anonymous users, so they must not be
        # enumerable.
        job_id = secrets.token_urlsafe(18)
        now = _to_us(self._clock())
        with self._changed:
            self._db.execute("BEGIN")
            try:
                seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
                self._db.execute(
                    "INSERT INTO jobs (job_id, seq, run_id, owner_id, phase, creation_us,"
                    " execution_duration, destruction_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        seq,
                        run_id,
                        owner,
                        Phase.PENDING.value,
                        now,
                        execution_duration,
                        None if destruction is None else _to_us(destruction),
                    ),
                )
                self._insert_parameters(job_id, params, start=0)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        return self._require(job_id)

    def set_phase(self, job_id: str, phase: Phase) -> Job:
        """Move to ``phase``; :class:`JobPhaseError` if the transition is illegal."""
        allowed = {src for src, targets in TRANSITIONS.items() if phase in targets}
        return self._transition(job_id, allowed, phase, f"move to {phase.value}")

    def run(self, job_id: str) -> Job:
        """``PHASE=RUN``: PENDING or HELD -> QUEUED; a no-op when already queued or running."""
        with self._changed:
            job = self._require(job_id)
            if job.phase in RUNNING_PHASES:
                return job
            return self._transition(job_id, {Phase.PENDING, Phase.HELD}, Phase.QUEUED, "run")

    def mark_started(self, job_id: str) -> Job:
        """QUEUED (or SUSPENDED) -> EXECUTING and record startTime."""
        return self._transition(
            job_id, {Phase.QUEUED, Phase.SUSPENDED}, Phase.EXECUTING, "start", start=True
        )

    def mark_completed(self, job_id: str, results: Sequence[JobResult]) -> Job:
        """EXECUTING -> COMPLETED with ``results``; records endTime."""
        with self._changed:
            self._db.execute("BEGIN")
            try:
                job = self._transition(
                    job_id, {Phase.EXECUTING}, Phase.COMPLETED, "complete", end=True
                )
                self._db.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
                self._db.executemany(
                    "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (job_id, i, r.result_id, r.href, r.mime_type, r.size)
                        for i, r in enumerate(results)
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._require(job.job_id)

    def mark_error(self, job_id: str, message: str, error_type: ErrorType = "fatal") -> Job:
        """Move an unfinished job to ERROR with an errorSummary; records endTime."""
        return self._transition(
            job_id, ACTIVE_PHASES | {Phase.UNKNOWN}, Phase.ERROR, "fail", end=True,
            error=JobError(message, error_type),
        )  # fmt: skip

    def mark_aborted(self, job_id: str) -> Job:
        """``PHASE=ABORT``: move an unfinished job to ABORTED; records endTime."""
        return self._transition(
            job_id, ACTIVE_PHASES | {Phase.UNKNOWN}, Phase.ABORTED, "abort", end=True
        )

    def update_parameters(self, job_id: str, parameters: Iterable[ParameterInput]) -> Job:
        """Add parameters to a PENDING job; a name other than UPLOAD replaces earlier values."""
        params = normalize_parameters(parameters)
        with self._changed:
            job = self._require(job_id)
            if job.phase is not Phase.PENDING:
                raise JobPhaseError(job_id, job.phase, "change parameters of")
            self._db.execute("BEGIN")
            try:
                replaced = {p.name for p in params} - REPEATABLE_PARAMETERS
                kept = [p for p in job.parameters if p.name not in replaced]
                self._db.execute("DELETE FROM parameters WHERE job_id = ?", (job_id,))
                self._insert_parameters(job_id, (*kept, *params), start=0)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._require(job_id)

    def set_destruction(self, job_id: str, destruction: datetime) -> Job:
        """Change the destruction time (any phase; the service may clamp it beforehand)."""
        return self._update_field(job_id, "destruction_us", _to_us(destruction), None)

    def set_execution_duration(self, job_id: str, seconds: int) -> Job:
        """Change executionDuration; only while PENDING, since a running job has its budget."""
        if seconds < 0:
            msg = "execution duration must be >= 0 (0 = unlimited)"
            raise ValueError(msg)
        return self._update_field(job_id, "execution_duration", seconds, Phase.PENDING)

    def delete(self, job_id: str) -> None:
        """Remove the job record and its directory."""
        with self._changed:
            cur = self._db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            if cur.rowcount == 0:
                raise UnknownJobError(job_id)
            self._changed.notify_all()
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def recover_after_restart(self) -> builtins.list[str]:
        """Fail every job a previous process left QUEUED or EXECUTING.

        Call once at start-up before accepting work: nothing in this process runs those jobs,
        so without this they would stay "running" forever.
        """
        with self._changed:
            running = [p.value for p in RUNNING_PHASES]
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE phase IN (?, ?)", running
            ).fetchall()
            for (job_id,) in rows:
                self.mark_error(job_id, RESTART_MESSAGE, "transient")
        return [r[0] for r in rows]

    # -- files -----------------------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        """Return ``<data_dir>/jobs/<job_id>``; rejects ids that could escape it."""
        if not _SAFE_ID.fullmatch(job_id) or job_id in {".", ".."}:
            raise UnknownJobError(job_id)
        return self._jobs_dir / job_id

    def result_path(self, job_id: str, result_id: str) -> Path:
        """Return ``<data_dir>/jobs/<job_id>/<result_id>``."""
        if not _SAFE_ID.fullmatch(result_id) or result_id in {".", ".."}:
            msg = f"invalid result id {result_id!r}"
            raise ValueError(msg)
        return self.job_dir(job_id) / result_id

    # -- internals -------------------------------------------------------------------------

    def _transition(
        self,
        job_id: str,
        sources: set[Phase] | frozenset[Phase],
        target: Phase,
        action: str,
        *,
        start: bool = False,
        end: bool = False,
        error: JobError | None = None,
    ) -> Job:
        now = _to_us(self._clock())
        sets = ["phase = ?"]
        args: builtins.list[object] = [target.value]
        if start:
            sets.append("start_us = ?")
            args.append(now)
        if end:
            sets.append("end_us = ?")
            args.append(now)
        if error is not None:
            sets.extend(["error_message = ?", "error_type = ?"])
            args.extend([error.message, error.type])
        phases = [p.value for p in sources]
        sql = (
            f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ?"  # noqa: S608 (fixed column names)
            f" AND phase IN ({','.join('?' * len(phases))})"
        )
        with self._changed:
            cur = self._db.execute(sql, [*args, job_id, *phases])
            if cur.rowcount == 0:
                job = self._require(job_id)
                raise JobPhaseError(job_id, job.phase, action)
            self._changed.notify_all()
            return self._require(job_id)

    def _update_field(self, job_id: str, column: str, value: object, only: Phase | None) -> Job:
        with self._changed:
            job = self._require(job_id)
            if only is not None and job.phase is not only:
                raise JobPhaseError(job_id, job.phase, f"change {column} of")
            self._db.execute(
                f"UPDATE jobs SET {column} = ? WHERE job_id = ?",  # noqa: S608 (internal column name)
                (value, job_id),
            )
            return self._require(job_id)

    def _insert_parameters(
        self, job_id: str, params: Sequence[JobParameter], *, start: int
    ) -> None:
        self._db.executemany(
            "INSERT INTO parameters VALUES (?, ?, ?, ?, ?)",
            [
                (job_id, start + i, p.name, p.value, int(p.by_reference))
                for i, p in enumerate(params)
            ],
        )

    def _require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise UnknownJobError(job_id)
        return job

    def _load(self, row: Any) -> Job:
        (job_id, _seq, run_id, owner_id, phase, creation, start, end, duration, destruction,
         quote, err_msg, err_type) = row  # fmt: skip
        params = self._db.execute(
            "SELECT name, value, by_reference FROM parameters WHERE job_id = ? ORDER BY position",
            (job_id,),
        ).fetchall()
        results = self._db.execute(
            "SELECT result_id, href, mime_type, size FROM results WHERE job_id = ?"
            " ORDER BY position",
            (job_id,),
        ).fetchall()
        created = _from_us(creation)
        if created is None:  # the schema says NOT NULL; this satisfies the type checker
            raise UnknownJobError(job_id)
        return Job(
            job_id=job_id,
            run_id=run_id,
            owner_id=owner_id,
            phase=Phase(phase),
            creation_time=created,
            start_time=_from_us(start),
            end_time=_from_us(end),
            execution_duration=duration,
            destruction=_from_us(destruction),
            parameters=tuple(JobParameter(n, v, bool(b)) for n, v, b in params),
            results=tuple(JobResult(*r) for r in results),
            error=None if err_msg is None else JobError(err_msg, err_type),
            quote=_from_us(quote),
        )
