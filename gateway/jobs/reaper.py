"""Housekeeping any replica may do: retry or fail jobs whose executor died, destroy old jobs.

Every step is a conditional update in the store, so replicas sweeping at the same time agree:
one requeues a stale job, the others find it no longer EXECUTING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from gateway.jobs.model import JobPhaseError, UnknownJobError
from gateway.jobs.queue import JobQueue
from gateway.jobs.results import ResultStore
from gateway.jobs.store import SqlJobStore

log = logging.getLogger(__name__)

#: How many times a job is started before a dead executor fails it for good.
MAX_ATTEMPTS = 2
DEAD_WORKER_MESSAGE = (
    "the worker running this job stopped responding {attempts} time(s); the job was not retried"
)


async def reap_stale(
    store: SqlJobStore, queue: JobQueue, now: datetime, stale_after: timedelta
) -> list[str]:
    """Requeue (once) or fail jobs whose heartbeat stopped; return their ids."""
    touched: list[str] = []
    for job_id, attempts in await store.stale(now - stale_after):
        try:
            if attempts < MAX_ATTEMPTS:
                await store.requeue(job_id)
                await queue.enqueue(job_id, attempts)
                log.warning("job %s: executor stopped; retrying (attempt %d)", job_id, attempts + 1)
            else:
                await store.mark_error(
                    job_id, DEAD_WORKER_MESSAGE.format(attempts=attempts), "transient"
                )
                log.warning("job %s: executor stopped again; job failed", job_id)
        except (JobPhaseError, UnknownJobError):
            continue  # another replica (or the job's own executor) got there first
        touched.append(job_id)
    return touched


async def reap_expired(store: SqlJobStore, results: ResultStore, now: datetime) -> list[str]:
    """Destroy jobs past their destruction time: abort if unfinished, delete record and files."""
    gone: list[str] = []
    for job_id in await store.expired(now):
        with contextlib.suppress(JobPhaseError, UnknownJobError):  # finished jobs just go
            await store.mark_aborted(job_id)
        try:
            await store.delete(job_id)
        except UnknownJobError:
            continue
        await asyncio.to_thread(results.delete, job_id)
        gone.append(job_id)
    return gone
