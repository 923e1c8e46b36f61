"""arq workers over the machine's real Redis with the SQL job store: a queued job runs once,
abort through the store stops it, a job whose executor died is retried once and then fails,
and a message delivered twice runs the job once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.jobs.execute import JobBody, JobExecutor
from gateway.jobs.model import Job, JobResult, Phase
from gateway.jobs.queue import ArqQueue, InProcessQueue, QueueUnavailableError
from gateway.jobs.reaper import DEAD_WORKER_MESSAGE, MAX_ATTEMPTS, reap_stale
from gateway.jobs.results import DirectoryResultStore, ResultStore
from gateway.jobs.store import SqlJobStore
from gateway.jobs.worker import build_worker, close_worker
from gateway.query.cancellation import Cancellation
from gateway.settings import GatewaySettings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

REDIS_URL = os.environ.get("ADQLGW_TEST_REDIS", "redis://127.0.0.1:6379/0")


def sleeping_body(results: ResultStore, runs: list[str]) -> JobBody:
    """Sleeps for the job's QUERY seconds (checking for cancellation), then writes a result."""

    async def run(job: Job, cancellation: Cancellation) -> tuple[JobResult, ...]:
        runs.append(job.job_id)
        deadline = time.monotonic() + float(job.parameter("QUERY") or 0)
        while time.monotonic() < deadline:
            if cancellation.cancelled:
                msg = "cancelled"
                raise RuntimeError(msg)
            await asyncio.sleep(0.01)
        results.save(job.job_id, "result", [b"done"])
        return (JobResult("result", "results/result", "text/plain", 4),)

    return JobBody(run)


@pytest.fixture
async def store(job_db_url) -> AsyncIterator[SqlJobStore]:
    s = await SqlJobStore.open(job_db_url)
    yield s
    await s.close()


@pytest.fixture
def settings(tmp_path: Path, job_db_url: str) -> GatewaySettings:
    return GatewaySettings(
        data_dir=tmp_path,
        job_database_url=job_db_url,
        redis_url=REDIS_URL,
        queue_name=f"adqlgw-test:{os.getpid()}:{tmp_path.name}",
        max_concurrent_jobs=2,
    )


@contextlib.asynccontextmanager
async def running_worker(settings: GatewaySettings, runs: list[str]) -> AsyncIterator[None]:
    async def make_body(
        s: GatewaySettings, results: ResultStore
    ) -> tuple[JobBody, Callable[[], Awaitable[None]]]:
        del s

        async def close() -> None:
            pass

        return sleeping_body(results, runs), close

    worker = build_worker(settings, make_body)
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await close_worker(worker)


async def wait_phase(store: SqlJobStore, job_id: str, phases: set[Phase], limit: float = 20) -> Job:
    deadline = time.monotonic() + limit
    while True:
        job = await store.get(job_id)
        assert job is not None
        if job.phase in phases or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


async def test_worker_runs_a_queued_job_once(store, settings):
    runs: list[str] = []
    queue = ArqQueue(REDIS_URL, settings.queue_name)
    try:
        async with running_worker(settings, runs):
            job = await store.create([("QUERY", "0.1")])
            await store.run(job.job_id)
            await queue.enqueue(job.job_id, 0)
            await queue.enqueue(job.job_id, 1)  # a duplicate delivery must not run it again
            done = await wait_phase(store, job.job_id, {Phase.COMPLETED, Phase.ERROR})
            await asyncio.sleep(0.5)
    finally:
        await queue.close()
    assert done.phase is Phase.COMPLETED, done.error
    assert done.results == (JobResult("result", "results/result", "text/plain", 4),)
    assert (settings.data_dir / "jobs" / job.job_id / "result").read_bytes() == b"done"
    assert runs == [job.job_id]


async def test_abort_through_the_store_stops_the_worker(store, settings):
    runs: list[str] = []
    queue = ArqQueue(REDIS_URL, settings.queue_name)
    try:
        async with running_worker(settings, runs):
            job = await store.create([("QUERY", "30")])
            await store.run(job.job_id)
            await queue.enqueue(job.job_id, 0)
            await wait_phase(store, job.job_id, {Phase.EXECUTING})
            started = time.monotonic()
            await store.mark_aborted(job.job_id)
            # The worker notices at its next heartbeat and stops; the phase stays ABORTED.
            await asyncio.sleep(3)
            final = await store.get(job.job_id)
    finally:
        await queue.close()
    assert final is not None
    assert final.phase is Phase.ABORTED
    assert time.monotonic() - started < 10


async def test_a_dead_executor_is_retried_once_then_the_job_fails(store, settings):
    runs: list[str] = []
    results = DirectoryResultStore(settings.data_dir / "jobs")
    queue = InProcessQueue(JobExecutor(store, sleeping_body(results, runs)), 2)
    try:
        job = await store.create([("QUERY", "0")])
        await store.run(job.job_id)
        # An executor claims the job and dies without a heartbeat.
        await store.mark_started(job.job_id, "dead-worker")
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert await reap_stale(store, queue, later, timedelta(seconds=30)) == [job.job_id]
        done = await wait_phase(store, job.job_id, {Phase.COMPLETED, Phase.ERROR})
        assert done.phase is Phase.COMPLETED
        assert runs == [job.job_id]

        again = await store.create([("QUERY", "0")])
        await store.run(again.job_id)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await store.requeue(again.job_id)
            await store.mark_started(again.job_id, "dead-worker")
        assert await reap_stale(store, queue, later, timedelta(seconds=30)) == [again.job_id]
        failed = await store.get(again.job_id)
        assert failed is not None
        assert failed.phase is Phase.ERROR
        assert failed.error is not None
        assert failed.error.message == DEAD_WORKER_MESSAGE.format(attempts=MAX_ATTEMPTS)
    finally:
        await queue.close()


async def test_an_unreachable_redis_is_a_clear_error():
    queue = ArqQueue("redis://127.0.0.1:1/0", "nowhere")
    with pytest.raises(QueueUnavailableError, match="Redis"):
        await queue.enqueue("job", 0)
    with pytest.raises(QueueUnavailableError, match="Redis"):
        await queue.ping()
    await queue.close()
