"""Executing one UWS job, the same way in the gateway process and in an arq worker.

The store holds the truth: the executor claims the job (QUEUED -> EXECUTING, a conditional
update, so two executors never both run it), beats a heartbeat while it works, and stops the
work when the job leaves EXECUTING behind its back (ABORT through any replica) or overruns its
execution duration. A killed executor stops beating; the reaper then retries or fails the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.errors import classify
from gateway.jobs.model import ErrorType, Job, JobPhaseError, JobResult, UnknownJobError
from gateway.jobs.progress import JobProgress
from gateway.jobs.store import SqlJobStore
from gateway.query.cancellation import Cancellation

log = logging.getLogger(__name__)

#: Seconds between heartbeats; a job is stale after several missed beats.
HEARTBEAT_INTERVAL = 2.0


@dataclass(frozen=True, slots=True)
class JobBody:
    """The body of a job (a coroutine); returns the results to record on success.

    It stops when its task is cancelled or when the cancellation is (both interrupt the
    query it runs).
    """

    run: Callable[[Job, Cancellation], Awaitable[tuple[JobResult, ...]]]
    progress: JobProgress = field(default_factory=JobProgress)
    """Where ``run`` reports the rows its query fetched from each backend; the executor
    copies it into the store with every heartbeat, so any replica can show it."""


class JobExecutor:
    """Runs jobs of one store with one body."""

    def __init__(
        self, store: SqlJobStore, body: JobBody, *, heartbeat: float = HEARTBEAT_INTERVAL
    ) -> None:
        self._store = store
        self._body = body
        self._heartbeat = heartbeat

    async def execute(self, job_id: str, worker_id: str) -> None:
        """Run the job if it is still QUEUED; record how it ended."""
        try:
            job = await self._store.mark_started(job_id, worker_id)
        except (JobPhaseError, UnknownJobError):
            return  # aborted, deleted, or claimed by another executor meanwhile
        cancellation = Cancellation()
        work = asyncio.create_task(self._work(job, cancellation))
        beats = asyncio.create_task(self._beat(job_id, work))
        try:
            await work
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            if work.cancelled():
                cancellation.cancel()

    async def _work(self, job: Job, cancellation: Cancellation) -> None:
        limit = job.execution_duration or None
        try:
            async with asyncio.timeout(limit):
                # The timeout cancels the body's task: fetches in flight stop, and the work in
                # worker threads is interrupted through the cancellation.
                results = await self._body.run(job, cancellation)
        except TimeoutError:
            cancellation.cancel()
            await self._finish_error(
                job.job_id,
                f"the job exceeded its execution duration of {limit} s and was stopped",
                "transient",
            )
        except asyncio.CancelledError:
            cancellation.cancel()
            raise
        except Exception as exc:  # noqa: BLE001  (every failure must end the job in ERROR)
            fault = classify(exc)
            await self._finish_error(job.job_id, fault.message, fault.kind)
        else:
            with contextlib.suppress(JobPhaseError, UnknownJobError):
                await self._store.mark_completed(
                    job.job_id, results, self._body.progress.rows(job.job_id)
                )
        finally:
            self._body.progress.forget(job.job_id)

    async def _finish_error(self, job_id: str, message: str, kind: ErrorType) -> None:
        with contextlib.suppress(JobPhaseError, UnknownJobError):
            await self._store.mark_error(job_id, message, kind)

    async def _beat(self, job_id: str, work: asyncio.Task[None]) -> None:
        while not work.done():
            await asyncio.sleep(self._heartbeat)
            try:
                alive = await self._store.heartbeat(job_id, self._body.progress.rows(job_id))
            except ConnectionError:
                log.warning("job %s: heartbeat failed, job database unreachable", job_id)
                continue
            if not alive:
                # Aborted (or failed by the reaper) through another process: stop working.
                work.cancel()
                return
