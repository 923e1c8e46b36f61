"""Where queued jobs go: tasks in this process (embedded default) or arq workers over Redis.

Either way the store holds the job and its phase; the queue only carries "run job X" and
an executor claims the job from the store, so a message delivered twice runs the job once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Protocol

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from gateway.jobs.execute import JobExecutor

#: The arq function a worker registers for UWS jobs.
RUN_JOB = "run_uws_job"


class QueueUnavailableError(ConnectionError):
    """The job queue (Redis) cannot be reached (HTTP 503; jobs are held, not lost)."""


class JobQueue(Protocol):
    """Hands queued jobs to executors."""

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Ask for the job to be run; ``attempt`` counts retries (0 for the first run)."""
        ...

    def abort(self, job_id: str) -> None:
        """Stop the job now if this process runs it (others notice at their heartbeat)."""
        ...

    async def close(self) -> None:
        """Stop; in-process work is cancelled (the store records what happened)."""
        ...


def process_worker_id() -> str:
    """A name for this process in job records: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class InProcessQueue:
    """Runs jobs as asyncio tasks of this process, at most ``max_concurrent`` at a time."""

    def __init__(self, executor: JobExecutor, max_concurrent: int) -> None:
        self._executor = executor
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._worker_id = process_worker_id()

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Start the job in the background; returns at once."""
        del attempt
        task = asyncio.create_task(self._run(job_id), name=f"uws-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    def abort(self, job_id: str) -> None:
        """Cancel the job's task, if it runs here."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    async def _run(self, job_id: str) -> None:
        async with self._slots:
            await self._executor.execute(job_id, self._worker_id)

    async def close(self) -> None:
        """Cancel running jobs."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ArqQueue:
    """Sends jobs to ``adql-gateway worker`` processes through Redis (arq).

    Connects on first use and reconnects after Redis comes back, so a gateway starts and
    keeps serving (503 for new async runs) while Redis is down.
    """

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self._settings = RedisSettings.from_dsn(redis_url)
        self._settings.conn_retries = 0
        self._queue_name = queue_name
        self._pool: ArqRedis | None = None

    async def _connected(self) -> ArqRedis:
        if self._pool is None:
            try:
                self._pool = await create_pool(self._settings, default_queue_name=self._queue_name)
            except (OSError, RedisError) as exc:
                raise _unavailable(exc) from exc
        return self._pool

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Queue the job for a worker.

        One arq job per attempt, so a retry is not deduplicated away while the first
        attempt's record is still in Redis.
        """
        pool = await self._connected()
        try:
            await pool.enqueue_job(
                RUN_JOB, job_id, _job_id=f"uws:{job_id}:{attempt}", _queue_name=self._queue_name
            )
        except (OSError, RedisError) as exc:
            raise _unavailable(exc) from exc

    def abort(self, job_id: str) -> None:
        """Nothing to do here: the worker sees the ABORTED phase at its next heartbeat."""
        del job_id

    async def ping(self) -> None:
        """Raise :class:`QueueUnavailableError` unless Redis answers."""
        pool = await self._connected()
        try:
            await pool.ping()
        except (OSError, RedisError) as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        """Close the Redis connections."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def _unavailable(exc: BaseException) -> QueueUnavailableError:
    return QueueUnavailableError(f"the job queue (Redis) is unreachable: {exc}")
