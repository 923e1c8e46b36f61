"""The UWS job tables, shared by SQLite (embedded default) and PostgreSQL (scale-out).

Times are integer microseconds since the epoch so they sort and compare exactly in both
databases. ``heartbeat_us`` is refreshed by whoever executes a job (an in-process runner or an
arq worker on another machine); a job whose heartbeat stops is found and ended by the reaper,
so a killed worker never leaves a job EXECUTING forever.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    Table,
    Text,
)

metadata = MetaData()

#: Creation order of jobs created in the same microsecond (PostgreSQL; SQLite uses MAX + 1
#: inside its single-writer transaction).
job_seq = Sequence("uws_job_seq", metadata=metadata)

jobs = Table(
    "uws_jobs",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("run_id", Text),
    Column("owner_id", Text),
    Column("phase", Text, nullable=False),
    Column("creation_us", BigInteger, nullable=False),
    Column("start_us", BigInteger),
    Column("end_us", BigInteger),
    Column("execution_duration", Integer, nullable=False),
    Column("destruction_us", BigInteger),
    Column("quote_us", BigInteger),
    Column("error_message", Text),
    Column("error_type", Text),
    Column("heartbeat_us", BigInteger),
    Column("worker_id", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("result_bytes", BigInteger, nullable=False, server_default="0"),
    #: JSON object: rows fetched so far from each backend (the job document's jobInfo).
    Column("progress", Text),
    Index("uws_jobs_creation", "creation_us", "seq"),
    Index("uws_jobs_owner_phase", "owner_id", "phase"),
)

parameters = Table(
    "uws_parameters",
    metadata,
    Column("job_id", Text, ForeignKey("uws_jobs.job_id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("by_reference", Boolean, nullable=False),
)

results = Table(
    "uws_results",
    metadata,
    Column("job_id", Text, ForeignKey("uws_jobs.job_id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("result_id", Text, nullable=False),
    Column("href", Text, nullable=False),
    Column("mime_type", Text),
    Column("size", BigInteger),
)
