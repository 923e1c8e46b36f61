"""UWS job model and SQLite store: phases, filters, persistence, recovery, threads."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.job_store import SqliteJobStore
from gateway.jobs import (
    RESTART_MESSAGE,
    JobError,
    JobParameter,
    JobPhaseError,
    JobResult,
    Phase,
    UnknownJobError,
)

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
def store(tmp_path, clock):
    s = SqliteJobStore(tmp_path, clock=clock)
    yield s
    s.close()


def test_create_records_parameters_in_order_with_upper_case_names(store):
    job = store.create(
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
    assert job.owner_id == "alice"
    assert job.run_id == "run-7"
    assert job.execution_duration == 60
    assert job.start_time is None
    assert job.end_time is None
    assert job.creation_time.tzinfo is not None
    assert job.parameter("query") == "SELECT a FROM t"
    assert store.get(job.job_id) == job


def test_job_ids_are_random_url_safe_and_unique(store):
    ids = {store.create([]).job_id for _ in range(50)}
    assert len(ids) == 50
    for job_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", job_id)


def test_by_reference_parameters_survive(store):
    job = store.create([JobParameter("mine", "parameters/mine", by_reference=True)])
    assert store.get(job.job_id).parameters == (
        JobParameter("MINE", "parameters/mine", by_reference=True),
    )


def test_normal_lifecycle_sets_times_and_results(store):
    job = store.create([("LANG", "ADQL")])
    queued = store.run(job.job_id)
    assert queued.phase is Phase.QUEUED
    started = store.mark_started(job.job_id)
    assert started.phase is Phase.EXECUTING
    assert started.start_time is not None
    assert started.start_time > job.creation_time
    result = JobResult("result", "results/result", "application/x-votable+xml", 42)
    done = store.mark_completed(job.job_id, [result])
    assert done.phase is Phase.COMPLETED
    assert done.end_time is not None
    assert done.end_time > started.start_time
    assert done.results == (result,)


def test_run_is_idempotent_while_queued_or_running(store):
    job = store.create([])
    store.run(job.job_id)
    assert store.run(job.job_id).phase is Phase.QUEUED
    store.mark_started(job.job_id)
    assert store.run(job.job_id).phase is Phase.EXECUTING


@pytest.mark.parametrize("finish", ["complete", "error", "abort"])
def test_run_of_a_finished_job_is_a_phase_error(store, finish):
    job = store.create([])
    store.run(job.job_id)
    store.mark_started(job.job_id)
    if finish == "complete":
        store.mark_completed(job.job_id, [])
    elif finish == "error":
        store.mark_error(job.job_id, "boom")
    else:
        store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError, match="cannot run"):
        store.run(job.job_id)


def test_illegal_transitions_are_refused_and_leave_the_job_alone(store):
    job = store.create([])
    with pytest.raises(JobPhaseError):
        store.mark_completed(job.job_id, [])
    with pytest.raises(JobPhaseError):
        store.mark_started(job.job_id)
    with pytest.raises(JobPhaseError):
        store.set_phase(job.job_id, Phase.EXECUTING)
    assert store.get(job.job_id).phase is Phase.PENDING
    store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError):
        store.mark_aborted(job.job_id)
    with pytest.raises(JobPhaseError):
        store.mark_error(job.job_id, "late")
    assert store.set_phase(job.job_id, Phase.ARCHIVED).phase is Phase.ARCHIVED
    with pytest.raises(JobPhaseError):
        store.set_phase(job.job_id, Phase.ABORTED)


def test_unknown_job(store):
    assert store.get("nope") is None
    with pytest.raises(UnknownJobError):
        store.run("nope")
    with pytest.raises(UnknownJobError):
        store.delete("nope")


def test_error_summary(store):
    job = store.create([])
    store.run(job.job_id)
    failed = store.mark_error(job.job_id, "backend hsc timed out", "transient")
    assert failed.phase is Phase.ERROR
    assert failed.error is not None
    assert failed.error.message == "backend hsc timed out"
    assert failed.error.type == "transient"
    assert failed.end_time is not None


def test_update_parameters_only_while_pending(store):
    job = store.create([("LANG", "ADQL"), ("QUERY", "SELECT 1"), ("UPLOAD", "a,param:a")])
    updated = store.update_parameters(job.job_id, [("query", "SELECT 2"), ("upload", "b,param:b")])
    assert updated.parameter("QUERY") == "SELECT 2"
    assert updated.parameter_values("UPLOAD") == ("a,param:a", "b,param:b")
    assert [p.name for p in updated.parameters].count("QUERY") == 1
    store.run(job.job_id)
    with pytest.raises(JobPhaseError):
        store.update_parameters(job.job_id, [("QUERY", "SELECT 3")])
    assert store.get(job.job_id).parameter("QUERY") == "SELECT 2"


def test_execution_duration_and_destruction(store):
    job = store.create([])
    assert store.set_execution_duration(job.job_id, 30).execution_duration == 30
    when = T0 + timedelta(days=3)
    assert store.set_destruction(job.job_id, when).destruction == when
    with pytest.raises(ValueError, match=">= 0"):
        store.set_execution_duration(job.job_id, -1)
    store.run(job.job_id)
    with pytest.raises(JobPhaseError):
        store.set_execution_duration(job.job_id, 10)


def _make_jobs(store):
    """Five jobs, oldest first: PENDING(a), COMPLETED(a), ERROR(b), ARCHIVED(b), QUEUED(a)."""
    jobs = [store.create([], owner=o) for o in ("a", "a", "b", "b", "a")]
    ids = [j.job_id for j in jobs]
    store.run(ids[1])
    store.mark_started(ids[1])
    store.mark_completed(ids[1], [])
    store.mark_error(ids[2], "x")
    store.mark_aborted(ids[3])
    store.set_phase(ids[3], Phase.ARCHIVED)
    store.run(ids[4])
    return jobs


def test_default_listing_hides_archived_newest_first(store):
    jobs = _make_jobs(store)
    listed = [j.job_id for j in store.list()]
    assert listed == [jobs[i].job_id for i in (4, 2, 1, 0)]


def test_phase_filter_is_a_union_and_can_show_archived(store):
    jobs = _make_jobs(store)
    assert [j.job_id for j in store.list(phases={Phase.ARCHIVED})] == [jobs[3].job_id]
    got = {j.job_id for j in store.list(phases={Phase.PENDING, Phase.ERROR})}
    assert got == {jobs[0].job_id, jobs[2].job_id}


def test_after_is_strict_and_last_takes_most_recent(store):
    jobs = _make_jobs(store)
    after = store.list(after=jobs[1].creation_time)
    assert [j.job_id for j in after] == [jobs[4].job_id, jobs[2].job_id]
    last2 = store.list(last=2)
    assert [j.job_id for j in last2] == [jobs[4].job_id, jobs[2].job_id]
    assert store.list(last=0) == []
    with pytest.raises(ValueError, match="LAST"):
        store.list(last=-1)


def test_filters_and_together(store):
    jobs = _make_jobs(store)
    got = store.list(owner="a", phases={Phase.PENDING, Phase.QUEUED, Phase.ERROR}, last=1)
    assert [j.job_id for j in got] == [jobs[4].job_id]
    got = store.list(owner="a", after=jobs[0].creation_time, phases={Phase.PENDING})
    assert got == []


def test_expired_and_delete_remove_files(store):
    keep = store.create([], destruction=T0 + timedelta(days=10))
    old = store.create([], destruction=T0 + timedelta(hours=1))
    store.create([])  # no destruction time: never expires
    assert store.expired(T0 + timedelta(days=1)) == [old.job_id]
    path = store.result_path(old.job_id, "result")
    path.write_bytes(b"data")
    store.delete(old.job_id)
    assert not path.parent.exists()
    assert store.get(old.job_id) is None
    assert store.get(keep.job_id) is not None


def test_result_path_is_under_the_job_directory(store, tmp_path):
    job = store.create([])
    assert store.result_path(job.job_id, "result") == tmp_path / "jobs" / job.job_id / "result"
    for bad in ("../x", "a/b", "..", ""):
        with pytest.raises(ValueError, match="invalid result id"):
            store.result_path(job.job_id, bad)
    with pytest.raises(UnknownJobError):
        store.job_dir("../etc")


def test_state_persists_across_reopen(tmp_path, clock):
    first = SqliteJobStore(tmp_path, clock=clock)
    job = first.create(
        [("LANG", "ADQL"), JobParameter("F", "parameters/f", by_reference=True)],
        owner="o",
        run_id="r",
        execution_duration=5,
        destruction=T0 + timedelta(days=1),
    )
    first.run(job.job_id)
    first.mark_started(job.job_id)
    done = first.mark_completed(job.job_id, [JobResult("result", "results/result", "text/csv", 9)])
    first.close()
    second = SqliteJobStore(tmp_path, clock=clock)
    try:
        assert second.get(job.job_id) == done
        mode = sqlite3.connect(tmp_path / "jobs.sqlite3").execute("PRAGMA journal_mode").fetchone()
        assert mode[0] == "wal"
    finally:
        second.close()


def test_restart_fails_running_jobs_and_keeps_the_rest(tmp_path, clock):
    first = SqliteJobStore(tmp_path, clock=clock)
    pending = first.create([])
    queued = first.create([])
    first.run(queued.job_id)
    executing = first.create([])
    first.run(executing.job_id)
    first.mark_started(executing.job_id)
    first.close()

    second = SqliteJobStore(tmp_path, clock=clock)
    try:
        recovered = second.recover_after_restart()
        assert set(recovered) == {queued.job_id, executing.job_id}
        for job_id in recovered:
            job = second.get(job_id)
            assert job is not None
            assert job.phase is Phase.ERROR
            assert job.error == JobError(RESTART_MESSAGE, "transient")
            assert job.end_time is not None
        still = second.get(pending.job_id)
        assert still is not None
        assert still.phase is Phase.PENDING
        assert second.recover_after_restart() == []
    finally:
        second.close()


def test_concurrent_threads_create_and_advance_jobs(store):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(20):
                job = store.create([("QUERY", "SELECT 1")])
                store.run(job.job_id)
                store.mark_started(job.job_id)
                store.mark_completed(job.job_id, [JobResult("result", "results/result")])
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    jobs = store.list()
    assert len(jobs) == 160
    assert {j.phase for j in jobs} == {Phase.COMPLETED}


def _race(store: SqliteJobStore, job_id: str) -> list[str]:
    """Complete and abort the same job from two threads released together."""
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(action: Callable[[], object], name: str) -> None:
        barrier.wait()
        try:
            action()
            outcomes.append(name)
        except JobPhaseError:
            outcomes.append("lost")

    threads = [
        threading.Thread(target=attempt, args=(lambda: store.mark_completed(job_id, []), "done")),
        threading.Thread(target=attempt, args=(lambda: store.mark_aborted(job_id), "aborted")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_racing_abort_and_completion_have_exactly_one_winner(store):
    for _ in range(20):
        job = store.create([])
        store.run(job.job_id)
        store.mark_started(job.job_id)
        outcomes = _race(store, job.job_id)
        assert outcomes.count("lost") == 1
        assert store.get(job.job_id).phase in {Phase.COMPLETED, Phase.ABORTED}


def test_wait_for_change_wakes_on_phase_change(store):
    job = store.create([])
    store.run(job.job_id)
    timer = threading.Timer(0.05, store.mark_started, args=(job.job_id,))
    timer.start()
    try:
        changed = store.wait_for_change(job.job_id, Phase.QUEUED, timeout=5)
    finally:
        timer.join()
    assert changed.phase is Phase.EXECUTING
    same = store.wait_for_change(job.job_id, Phase.EXECUTING, timeout=0.01)
    assert same.phase is Phase.EXECUTING
