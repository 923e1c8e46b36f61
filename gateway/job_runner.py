"""Runs UWS jobs: a bounded pool of asyncio tasks, execution-duration limits, abort, WAIT.

The store holds the truth about every job; this module only drives phase changes and wakes
clients blocked in ``WAIT``. The work itself (parse, execute, write the result file) is a
blocking function run in a worker thread, so the event loop keeps serving while jobs run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread

from gateway.cancellation import Cancellation
from gateway.errors import classify
from gateway.job_progress import JobProgress
from gateway.jobs import Job, JobResult, JobStore, Phase

log = logging.getLogger(__name__)

ACTIVE_PHASES = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})


@dataclass(frozen=True, slots=True)
class JobWork:
    """The blocking body of a job; returns the results to record on success."""

    run: Callable[[Job, Cancellation], tuple[JobResult, ...]]
    progress: JobProgress = field(default_factory=JobProgress)
    """Where ``run`` reports the rows its query fetched from each backend."""


class JobRunner:
    """Starts, limits, aborts and watches jobs of one store."""

    def __init__(self, store: JobStore, work: JobWork, *, max_concurrent: int) -> None:
        self._store = store
        self._work = work
        self.progress = work.progress
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        """Wake every client blocked in WAIT (a phase may have changed)."""
        async with self._changed:
            self._changed.notify_all()

    async def start(self, job_id: str) -> None:
        """Queue a PENDING job (PHASE=RUN); returns at once."""
        self._store.set_phase(job_id, Phase.QUEUED)
        task = asyncio.create_task(self._run(job_id), name=f"uws-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))
        await self.notify()

    async def abort(self, job_id: str) -> None:
        """Abort a job that has not finished; a finished job is left as it is."""
        job = self._store.get(job_id)
        if job is None or job.phase not in ACTIVE_PHASES:
            return
        self._store.mark_aborted(job_id)
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
        await self.notify()

    async def wait(self, job_id: str, limit: float | None, phase: Phase | None) -> None:
        """Block while the job is active and unchanged, up to ``limit`` s (None: forever).

        With ``phase`` given, return at once unless the job is in that phase (UWS 1.1 §2.2.1.2).
        """
        job = self._store.get(job_id)
        if job is None or job.phase not in ACTIVE_PHASES:
            return
        if phase is not None and job.phase is not phase:
            return
        start_phase = job.phase

        def changed() -> bool:
            current = self._store.get(job_id)
            return current is None or current.phase is not start_phase

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit), self._changed:
                await self._changed.wait_for(changed)

    async def _run(self, job_id: str) -> None:
        async with self._slots:
            job = self._store.get(job_id)
            if job is None or job.phase is not Phase.QUEUED:
                return
            self._store.mark_started(job_id)
            await self.notify()
            job = self._store.get(job_id)
            if job is None:
                return
            limit = job.execution_duration or None
            cancellation = Cancellation()
            try:
                async with asyncio.timeout(limit):
                    # Abandoned on cancel so the deadline holds; the cancellation then
                    # interrupts the query so the abandoned thread stops burning CPU.
                    results = await anyio.to_thread.run_sync(
                        self._work.run, job, cancellation, abandon_on_cancel=True
                    )
            except TimeoutError:
                cancellation.cancel()
                self._store.mark_error(
                    job_id,
                    f"the job exceeded its execution duration of {limit} s and was stopped",
                    "transient",
                )
            except asyncio.CancelledError:
                # ABORT or shutdown: stop the query; the store already says ABORTED.
                cancellation.cancel()
                await self.notify()
                raise
            except Exception as exc:  # noqa: BLE001  (every failure must end the job in ERROR)
                fault = classify(exc)
                self._store.mark_error(job_id, fault.message, fault.kind)
            else:
                current = self._store.get(job_id)
                if current is not None and current.phase is Phase.EXECUTING:
                    self._store.mark_completed(job_id, results)
            await self.notify()

    async def shutdown(self) -> None:
        """Cancel running jobs (the store records them as ERROR on the next start-up)."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
