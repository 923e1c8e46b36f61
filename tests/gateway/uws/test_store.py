"""The SQL job store on SQLite and on a real PostgreSQL: phases, filters, persistence,
recovery, races between two store instances (two replicas), heartbeats, quotas."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from gateway.jobs.model import (
    RESTART_MESSAGE,
    JobError,
    JobParameter,
    JobPhaseError,
    JobResult,
    Phase,
    UnknownJobError,
)
from gateway.jobs.store import SqlJobStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that advances one second per reading, so creation times are distinct."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def store(job_db_url, clock) -> AsyncIterator[SqlJobStore]:
    s = await SqlJobStore.open(job_db_url, clock=clock)
    yield s
    await s.close()


async def test_create_records_parameters_in_order_with_upper_case_names(store):
    job = await store.create(
        [("lang", "ADQL"), ("Query", "SELECT a FROM t"), ("upload", "a,param:a")],
        owner="alice",
        run_id="run-7",
        execution_duration=60,
    )
    assert job.phase is Phase.PENDING
    assert [(p.name, p.value) for p in job.parameters] == [
        ("LANG", "ADQL"),
        ("QUERY", "SELECT a FROM t"),
        ("UPLOAD", "a,param:a"),
    ]
    assert (job.owner_id, job.run_id, job.execution_duration) == ("alice", "run-7", 60)
    assert job.start_time is None
    assert job.end_time is None
    assert await store.get(job.job_id) == job


async def test_job_ids_are_random_url_safe_and_unique(store):
    ids = {(await store.create([])).job_id for _ in range(30)}
    assert len(ids) == 30
    for job_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", job_id)


async def test_by_reference_parameters_survive(store):
    job = await store.create([JobParameter("mine", "parameters/mine", by_reference=True)])
    got = await store.get(job.job_id)
    assert got is not None
    assert got.parameters == (JobParameter("MINE", "parameters/mine", by_reference=True),)


async def test_normal_lifecycle_sets_times_results_and_worker(store):
    job = await store.create([("LANG", "ADQL")])
    assert (await store.run(job.job_id)).phase is Phase.QUEUED
    started = await store.mark_started(job.job_id, "worker-1")
    assert started.phase is Phase.EXECUTING
    assert started.start_time is not None
    assert started.start_time > job.creation_time
    result = JobResult("result", "results/result", "application/x-votable+xml", 42)
    done = await store.mark_completed(job.job_id, [result])
    assert done.phase is Phase.COMPLETED
    assert done.end_time is not None
    assert done.end_time > started.start_time
    assert done.results == (result,)
    assert await store.result_bytes(None) == 42


async def test_run_is_idempotent_while_queued_or_running(store):
    job = await store.create([])
    await store.run(job.job_id)
    assert (await store.run(job.job_id)).phase is Phase.QUEUED
    await store.mark_started(job.job_id)
    assert (await store.run(job.job_id)).phase is Phase.EXECUTING


@pytest.mark.parametrize("finish", ["complete", "error", "abort"])
async def test_run_of_a_finished_job_is_a_phase_error(store, finish):
    job = await store.create([])
    await store.run(job.job_id)
    await store.mark_started(job.job_id)
    if finish == "complete":
        await store.mark_completed(job.job_id, [])
    elif finish == "error":
        await store.mark_error(job.job_id, "boom")
    else:
        await store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError, match="cannot run"):
        await store.run(job.job_id)


async def test_illegal_transitions_are_refused_and_leave_the_job_alone(store):
    job = await store.create([])
    with pytest.raises(JobPhaseError):
        await store.mark_completed(job.job_id, [])
    with pytest.raises(JobPhaseError):
        await store.mark_started(job.job_id)
    with pytest.raises(JobPhaseError):
        await store.set_phase(job.job_id, Phase.EXECUTING)
    assert (await store.get(job.job_id)).phase is Phase.PENDING
    await store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError):
        await store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError):
        await store.mark_error(job.job_id, "late")
    assert (await store.set_phase(job.job_id, Phase.ARCHIVED)).phase is Phase.ARCHIVED


async def test_unknown_job(store):
    assert await store.get("nope") is None
    with pytest.raises(UnknownJobError):
        await store.run("nope")
    with pytest.raises(UnknownJobError):
        await store.delete("nope")


async def test_error_summary(store):
    job = await store.create([])
    await store.run(job.job_id)
    failed = await store.mark_error(job.job_id, "backend hsc timed out", "transient")
    assert failed.phase is Phase.ERROR
    assert failed.error == JobError("backend hsc timed out", "transient")
    assert failed.end_time is not None


async def test_update_parameters_only_while_pending(store):
    job = await store.create([("LANG", "ADQL"), ("QUERY", "SELECT 1"), ("UPLOAD", "a,param:a")])
    updated = await store.update_parameters(
        job.job_id, [("query", "SELECT 2"), ("upload", "b,param:b")]
    )
    assert updated.parameter("QUERY") == "SELECT 2"
    assert updated.parameter_values("UPLOAD") == ("a,param:a", "b,param:b")
    await store.run(job.job_id)
    with pytest.raises(JobPhaseError):
        await store.update_parameters(job.job_id, [("QUERY", "SELECT 3")])
    assert (await store.get(job.job_id)).parameter("QUERY") == "SELECT 2"


async def test_execution_duration_and_destruction(store):
    job = await store.create([])
    assert (await store.set_execution_duration(job.job_id, 30)).execution_duration == 30
    when = T0 + timedelta(days=3)
    assert (await store.set_destruction(job.job_id, when)).destruction == when
    with pytest.raises(ValueError, match=">= 0"):
        await store.set_execution_duration(job.job_id, -1)
    await store.run(job.job_id)
    with pytest.raises(JobPhaseError):
        await store.set_execution_duration(job.job_id, 10)


async def _make_jobs(store):
    """Five jobs, oldest first: PENDING(a), COMPLETED(a), ERROR(b), ARCHIVED(b), QUEUED(a)."""
    jobs = [await store.create([], owner=o) for o in ("a", "a", "b", "b", "a")]
    ids = [j.job_id for j in jobs]
    await store.run(ids[1])
    await store.mark_started(ids[1])
    await store.mark_completed(ids[1], [])
    await store.mark_error(ids[2], "x")
    await store.mark_aborted(ids[3])
    await store.set_phase(ids[3], Phase.ARCHIVED)
    await store.run(ids[4])
    return jobs


async def test_listing_filters_and_order(store):
    jobs = await _make_jobs(store)
    assert [j.job_id for j in await store.list()] == [jobs[i].job_id for i in (4, 2, 1, 0)]
    assert [j.job_id for j in await store.list(phases={Phase.ARCHIVED})] == [jobs[3].job_id]
    got = {j.job_id for j in await store.list(phases={Phase.PENDING, Phase.ERROR})}
    assert got == {jobs[0].job_id, jobs[2].job_id}
    after = await store.list(after=jobs[1].creation_time)
    assert [j.job_id for j in after] == [jobs[4].job_id, jobs[2].job_id]
    assert [j.job_id for j in await store.list(last=2)] == [jobs[4].job_id, jobs[2].job_id]
    assert await store.list(last=0) == []
    with pytest.raises(ValueError, match="LAST"):
        await store.list(last=-1)
    got_a = await store.list(owner="a", phases={Phase.PENDING, Phase.QUEUED, Phase.ERROR}, last=1)
    assert [j.job_id for j in got_a] == [jobs[4].job_id]
    assert await store.count_active("a") == 1
    assert await store.count_active("b") == 0


async def test_expired_and_delete(store):
    keep = await store.create([], destruction=T0 + timedelta(days=10))
    old = await store.create([], destruction=T0 + timedelta(hours=1))
    await store.create([])  # no destruction time: never expires
    assert await store.expired(T0 + timedelta(days=1)) == [old.job_id]
    await store.delete(old.job_id)
    assert await store.get(old.job_id) is None
    assert await store.get(keep.job_id) is not None


async def test_state_persists_across_reopen(job_db_url, clock):
    first = await SqlJobStore.open(job_db_url, clock=clock)
    job = await first.create(
        [("LANG", "ADQL"), JobParameter("F", "parameters/f", by_reference=True)],
        owner="o",
        run_id="r",
        execution_duration=5,
        destruction=T0 + timedelta(days=1),
    )
    await first.run(job.job_id)
    await first.mark_started(job.job_id)
    done = await first.mark_completed(
        job.job_id, [JobResult("result", "results/result", "text/csv", 9)]
    )
    await first.close()
    second = await SqlJobStore.open(job_db_url, clock=clock)
    try:
        assert await second.get(job.job_id) == done
    finally:
        await second.close()


async def test_restart_fails_running_jobs_and_keeps_the_rest(store):
    pending = await store.create([])
    queued = await store.create([])
    await store.run(queued.job_id)
    executing = await store.create([])
    await store.run(executing.job_id)
    await store.mark_started(executing.job_id)
    recovered = await store.recover_after_restart()
    assert set(recovered) == {queued.job_id, executing.job_id}
    for job_id in recovered:
        job = await store.get(job_id)
        assert job.phase is Phase.ERROR
        assert job.error == JobError(RESTART_MESSAGE, "transient")
    assert (await store.get(pending.job_id)).phase is Phase.PENDING
    assert await store.recover_after_restart() == []


async def test_heartbeats_and_stale_jobs(store, clock):
    job = await store.create([])
    await store.run(job.job_id)
    await store.mark_started(job.job_id, "w")
    beat_at = clock.now
    assert await store.heartbeat(job.job_id)
    assert await store.stale(beat_at) == []
    stale = await store.stale(clock.now + timedelta(seconds=30))
    assert stale == [(job.job_id, 1)]
    assert (await store.requeue(job.job_id)).phase is Phase.QUEUED
    assert not await store.heartbeat(job.job_id)


async def test_two_replicas_race_abort_against_completion(job_db_url, clock):
    """Two store instances (as two gateway replicas or a replica and a worker) racing on one
    job: exactly one of completion and abort wins, every time."""
    first = await SqlJobStore.open(job_db_url, clock=clock)
    second = await SqlJobStore.open(job_db_url, clock=clock)
    try:
        for _ in range(15):
            job = await first.create([])
            await first.run(job.job_id)
            await second.mark_started(job.job_id)
            outcomes = await asyncio.gather(
                first.mark_completed(job.job_id, []),
                second.mark_aborted(job.job_id),
                return_exceptions=True,
            )
            lost = [o for o in outcomes if isinstance(o, JobPhaseError)]
            assert len(lost) == 1, outcomes
            final = await first.get(job.job_id)
            assert final is not None
            assert final.phase in {Phase.COMPLETED, Phase.ABORTED}
    finally:
        await first.close()
        await second.close()


async def test_concurrent_creation_from_many_tasks(store):
    async def one() -> None:
        for _ in range(5):
            job = await store.create([("QUERY", "SELECT 1")])
            await store.run(job.job_id)
            await store.mark_started(job.job_id)
            await store.mark_completed(job.job_id, [JobResult("result", "results/result")])

    await asyncio.gather(*(one() for _ in range(8)))
    jobs = await store.list()
    assert len(jobs) == 40
    assert {j.phase for j in jobs} == {Phase.COMPLETED}


async def test_wait_for_change_sees_a_change_made_by_another_instance(job_db_url, clock):
    waiter = await SqlJobStore.open(job_db_url, clock=clock)
    other = await SqlJobStore.open(job_db_url, clock=clock)
    try:
        job = await waiter.create([])
        await waiter.run(job.job_id)

        async def later() -> None:
            await asyncio.sleep(0.1)
            await other.mark_started(job.job_id)

        task = asyncio.create_task(later())
        changed = await waiter.wait_for_change(job.job_id, Phase.QUEUED, limit=5)
        await task
        assert changed.phase is Phase.EXECUTING
        same = await waiter.wait_for_change(job.job_id, Phase.EXECUTING, limit=0.05)
        assert same.phase is Phase.EXECUTING
    finally:
        await waiter.close()
        await other.close()


async def test_a_change_wakes_only_the_waiters_of_that_job(store):
    """Many clients WAIT on their own jobs while other jobs change: no change may make every
    waiter read the database again (one wake-up for all is N waiters x M changes reads)."""
    waited = [await store.create([]) for _ in range(40)]
    for job in waited:
        await store.run(job.job_id)
    busy = [await store.create([]) for _ in range(8)]
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    waiters = {
        j.job_id: asyncio.create_task(store.wait_for_change(j.job_id, Phase.QUEUED, limit=60))
        for j in waited
    }
    try:
        await asyncio.sleep(1.6)  # the waiters' polling slows down to about once a second
        before = statements
        for job in busy:  # 24 changes, none to a waited job
            await store.run(job.job_id)
            await store.mark_started(job.job_id)
            await store.mark_completed(job.job_id, [])
        during = statements - before
        assert during < 24 * len(waited), f"{during} statements for 24 changes"
        assert not any(task.done() for task in waiters.values())
        # A change to a waited job still ends that wait (and only that one).
        await store.mark_started(waited[0].job_id)
        changed = await asyncio.wait_for(waiters[waited[0].job_id], 5)
        assert changed.phase is Phase.EXECUTING
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in list(waiters.values())[1:])
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
        for task in waiters.values():
            task.cancel()
        await asyncio.gather(*waiters.values(), return_exceptions=True)


async def test_a_long_job_list_reads_parameters_and_results_in_blocks(store):
    """Listing N jobs costs a few statements per 500 jobs, not two per job, and every job
    still gets its own parameters and results."""
    jobs = [await store.create([("QUERY", f"SELECT {i} FROM t")]) for i in range(620)]
    for job in jobs[:3]:
        await store.run(job.job_id)
        await store.mark_started(job.job_id)
        await store.mark_completed(job.job_id, [JobResult("result", f"/r/{job.job_id}", None, 7)])
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        listed = await store.list()
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert len(listed) == 620
    assert statements <= 1 + 2 * 2 + 2  # the jobs, two blocks of two, and a connection's set-up
    by_id = {job.job_id: job for job in listed}
    for i, job in enumerate(jobs):
        assert by_id[job.job_id].parameters == (
            JobParameter("QUERY", f"SELECT {i} FROM t", by_reference=False),
        )
    for job in jobs[:3]:
        assert by_id[job.job_id].results == (JobResult("result", f"/r/{job.job_id}", None, 7),)
    assert all(by_id[job.job_id].results == () for job in jobs[3:])
