"""SQL side of the SQLite job store: schema, time columns, row -> :class:`Job` mapping, listing.

:mod:`gateway.job_store` owns the connection, locking and phase changes; this module only
knows how jobs are laid out in the tables. Times are stored as integer microseconds since the
epoch so they sort and compare exactly in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.jobs import Job, JobError, JobParameter, JobResult, Phase, UnknownJobError

if TYPE_CHECKING:
    import sqlite3

SCHEMA = """
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


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; integers sort and compare exactly in SQL."""
    if value.tzinfo is None:
        msg = "job times must be timezone-aware"
        raise ValueError(msg)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int | None) -> datetime | None:
    """Inverse of :func:`to_us`; None stays None."""
    if value is None:
        return None
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


def list_query(
    *,
    phases: set[Phase] | None,
    after: datetime | None,
    last: int | None,
    owner: str | None,
) -> tuple[str, list[object]]:
    """Build the SELECT (and its arguments) behind :meth:`SqliteJobStore.list`."""
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
        args.append(to_us(after))
    if owner is not None:
        where.append("owner_id = ?")
        args.append(owner)
    sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY creation_us DESC, seq DESC"  # noqa: S608 (only placeholders are interpolated)
    if last is not None:
        sql += " LIMIT ?"
        args.append(last)
    return sql, args


def load_job(db: sqlite3.Connection, row: Any) -> Job:
    """Build the :class:`Job` for one ``jobs`` row, reading its parameters and results."""
    (job_id, _seq, run_id, owner_id, phase, creation, start, end, duration, destruction,
     quote, err_msg, err_type) = row  # fmt: skip
    params = db.execute(
        "SELECT name, value, by_reference FROM parameters WHERE job_id = ? ORDER BY position",
        (job_id,),
    ).fetchall()
    results = db.execute(
        "SELECT result_id, href, mime_type, size FROM results WHERE job_id = ? ORDER BY position",
        (job_id,),
    ).fetchall()
    created = from_us(creation)
    if created is None:  # the schema says NOT NULL; this satisfies the type checker
        raise UnknownJobError(job_id)
    return Job(
        job_id=job_id,
        run_id=run_id,
        owner_id=owner_id,
        phase=Phase(phase),
        creation_time=created,
        start_time=from_us(start),
        end_time=from_us(end),
        execution_duration=duration,
        destruction=from_us(destruction),
        parameters=tuple(JobParameter(n, v, bool(b)) for n, v, b in params),
        results=tuple(JobResult(*r) for r in results),
        error=None if err_msg is None else JobError(err_msg, err_type),
        quote=from_us(quote),
    )
