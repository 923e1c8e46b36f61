"""``adql-gateway worker``: an arq worker that executes the gateway's async jobs.

Workers share the job database and the result directory with the gateway replicas; Redis
only carries "run job X". A worker claims a job in the database before running it, so a
message delivered twice (arq re-delivers a job whose worker vanished) runs it once; a worker
that dies mid-job stops its heartbeat and the replicas' reaper retries or fails the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func
from redis.exceptions import RedisError

from gateway.jobs.execute import JobBody, JobExecutor
from gateway.jobs.queue import RUN_JOB, process_worker_id
from gateway.jobs.results import ResultStore, result_store
from gateway.jobs.store import SqlJobStore
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

#: Builds the job body once per worker process, on the worker's event loop (it owns the
#: query service, started on that loop); returns the body and how to close it there.
BodyFactory = Callable[
    [GatewaySettings, ResultStore],
    Awaitable[tuple[JobBody, Callable[[], Awaitable[None]]]],
]


def job_database_url(settings: GatewaySettings) -> str:
    """The configured job database, or SQLite in the data directory."""
    if settings.job_database_url:
        return settings.job_database_url
    return f"sqlite+aiosqlite:///{settings.data_dir / 'uws.sqlite3'}"


def result_store_for(settings: GatewaySettings) -> ResultStore:
    """The configured result store (bucket or directory) of replicas and workers alike."""
    return result_store(
        settings.data_dir,
        bucket=settings.results_bucket,
        prefix=settings.results_prefix,
        endpoint_url=settings.results_endpoint_url,
        region=settings.results_region,
    )


async def _run_job(ctx: dict[str, Any], job_id: str) -> None:
    executor: JobExecutor = ctx["executor"]
    await executor.execute(job_id, ctx["worker_id"])


def build_worker(settings: GatewaySettings, make_body: BodyFactory) -> Worker:
    """An arq worker for ``settings`` (which must name ``redis_url``)."""
    if not settings.redis_url:
        msg = "a worker needs redis_url in the configuration (or ADQL_GATEWAY_REDIS_URL)"
        raise ValueError(msg)

    async def startup(ctx: dict[str, Any]) -> None:
        store = await SqlJobStore.open(job_database_url(settings))
        results = result_store_for(settings)
        body, close_body = await make_body(settings, results)
        ctx.update(
            store=store,
            close_body=close_body,
            executor=JobExecutor(store, body),
            worker_id=process_worker_id(),
        )
        log.info("worker %s ready on queue %s", ctx["worker_id"], settings.queue_name)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "store" in ctx:
            await ctx["store"].close()
            await ctx["close_body"]()

    return Worker(
        # One try per delivery: retries after a dead worker are the reaper's decision, made
        # from the job's heartbeat, so a job never runs more often than MAX_ATTEMPTS.
        functions=[func(_run_job, name=RUN_JOB, max_tries=1)],
        queue_name=settings.queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.max_concurrent_jobs,
        # The executor enforces each job's own execution duration; this only bounds a hang.
        job_timeout=settings.execution_duration_hard + 60,
        keep_result=60,
        handle_signals=False,
        poll_delay=0.2,
    )


def run_worker(settings: GatewaySettings, make_body: BodyFactory) -> None:
    """Run a worker until SIGINT or SIGTERM.

    When Redis goes away the worker waits and reconnects (with back-off) instead of
    exiting; jobs it was running stop beating and the replicas' reaper retries them.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        delay = 1.0
        while not stop.is_set():
            # arq binds a worker to the event loop current when it is built: build it here.
            worker = build_worker(settings, make_body)
            outcome = await _run_until(worker, stop)
            if outcome is None:
                return
            log.warning("worker lost Redis (%s); reconnecting in %.0f s", outcome, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)

    asyncio.run(main())


async def _run_until(worker: Worker, stop: asyncio.Event) -> BaseException | None:
    """Run ``worker`` until ``stop`` is set (None) or Redis fails (the error)."""
    task = asyncio.create_task(worker.async_run())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    failure: BaseException | None = None
    if task.done() and not task.cancelled():
        failure = task.exception()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, OSError, RedisError):
        await task
    with contextlib.suppress(OSError, RedisError):
        await close_worker(worker)
    if failure is not None and not isinstance(failure, OSError | RedisError):
        raise failure
    return failure if not stop.is_set() else None


async def close_worker(worker: Worker) -> None:
    """Run the worker's shutdown and close its Redis pool."""
    # arq closes its pool with redis-py's deprecated close(); the replacement is the same.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
        await worker.close()
