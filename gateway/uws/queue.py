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

from gateway.uws.execute import JobExecutor

#: The arq function a worker registers for UWS jobs.
RUN_JOB = "run_uws_job"


class QueueUnavailableError(ConnectionError):
    """The job queue (Redis) cannot be reached (HTTP 503; jobs are held, not lost)."""


class JobQueue(Protocol):
    """Hands queued jobs to executors."""

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Ask for the job to be run; ``attempt`` counts retries (0 for the first run)."""
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
        self._tasks: set[asyncio.Task[None]] = set()
        self._worker_id = process_worker_id()

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Start the job in the background; returns at once."""
        del attempt
        task = asyncio.create_task(self._run(job_id), name=f"uws-job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: str) -> None:
        async with self._slots:
            await self._executor.execute(job_id, self._worker_id)

    async def close(self) -> None:
        """Cancel running jobs."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ArqQueue:
    """Sends jobs to ``adql-gateway worker`` processes through Redis (arq)."""

    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self._pool = pool
        self._queue_name = queue_name

    @classmethod
    async def connect(cls, redis_url: str, queue_name: str) -> ArqQueue:
        """Connect to Redis; :class:`QueueUnavailableError` when it does not answer."""
        settings = RedisSettings.from_dsn(redis_url)
        settings.conn_retries = 0
        try:
            pool = await create_pool(settings, default_queue_name=queue_name)
        except (OSError, RedisError) as exc:
            raise QueueUnavailableError(f"the job queue (Redis) is unreachable: {exc}") from exc
        return cls(pool, queue_name)

    async def enqueue(self, job_id: str, attempt: int) -> None:
        """Queue the job for a worker.

        One arq job per attempt, so a retry is not deduplicated away while the first
        attempt's record is still in Redis.
        """
        try:
            await self._pool.enqueue_job(
                RUN_JOB, job_id, _job_id=f"uws:{job_id}:{attempt}", _queue_name=self._queue_name
            )
        except (OSError, RedisError) as exc:
            raise QueueUnavailableError(f"the job queue (Redis) is unreachable: {exc}") from exc

    async def ping(self) -> None:
        """Raise :class:`QueueUnavailableError` unless Redis answers."""
        try:
            await self._pool.ping()
        except (OSError, RedisError) as exc:
            raise QueueUnavailableError(f"the job queue (Redis) is unreachable: {exc}") from exc

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._pool.aclose()
