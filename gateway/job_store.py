"""SQLite implementation of :class:`gateway.jobs.JobStore`.

Records live in ``<data_dir>/jobs.sqlite3`` (WAL mode, so readers never block the writer),
result files in ``<data_dir>/jobs/<job_id>/``. One connection guarded by a lock serves every
thread: FastAPI runs sync handlers in a threadpool, and job metadata traffic is far too small
for connection-level parallelism to matter. Every phase change is one conditional UPDATE
(``WHERE phase IN (...)``) so a racing abort and completion cannot both win. The schema and the
row <-> :class:`Job` mapping live in :mod:`gateway.job_rows`.
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

from gateway.job_rows import SCHEMA as _SCHEMA
from gateway.job_rows import list_query, load_job
from gateway.job_rows import to_us as _to_us
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
        sql, args = list_query(phases=phases, after=after, last=last, owner=owner)
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
        return load_job(self._db, row)
