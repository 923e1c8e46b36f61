"""Scale-out for real: gateway replicas and arq workers as separate processes over one
PostgreSQL job database and one Redis queue, driven over HTTP like a TAP client would.

Each job's answer is checked against numpy over the same Parquet file. Faults: a worker killed
mid-job (the job is retried on the other worker, never left EXECUTING), a replica killed (its
jobs stay reachable through the other), Redis and PostgreSQL stopped and started again (503
with a reason meanwhile; service back without a restart).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from tests.gateway.conftest import empty_job_database
from tests.gateway.uws.scaleout import (
    Cluster,
    private_postgres,
    private_redis,
    write_config,
    write_stars,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS_URL = os.environ.get("ADQLGW_TEST_REDIS", "redis://127.0.0.1:6379/0")
TERMINAL = {"COMPLETED", "ERROR", "ABORTED"}
#: Slow enough to kill a worker in the middle: a non-equi self join DuckDB evaluates pairwise.
SLOW_QUERY = (
    "SELECT COUNT(*) AS n FROM demo.stars AS a JOIN demo.stars AS b "
    "ON MOD(a.id * 7 + b.id * 13, 1000003) = 5 WHERE a.id < 20000"
)


def submit(base: str, query: str, **extra: str) -> str:
    response = httpx.post(
        f"{base}/async",
        data={"LANG": "ADQL", "QUERY": query, "PHASE": "RUN", **extra},
        follow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def phase(job_url: str) -> str:
    return httpx.get(f"{job_url}/phase", timeout=30).text.strip()


def wait_done(job_url: str, limit: float = 120) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        current = phase(job_url)
        if current in TERMINAL:
            return current
        time.sleep(0.2)
    return phase(job_url)


def result_table(job_url: str) -> Table:
    response = httpx.get(f"{job_url}/results/result", timeout=30)
    assert response.status_code == 200, response.text
    return parse_single_table(io.BytesIO(response.content)).to_table()


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def stars(cluster_dir: Path) -> dict[str, np.ndarray]:
    return write_stars(cluster_dir / "stars.parquet")


@pytest.fixture
def shared_pg(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied."""
    return empty_job_database(pg_database)


@contextlib.contextmanager
def cluster_over(
    directory: Path, *, database_url: str, redis_url: str, queue: str
) -> Iterator[Cluster]:
    """Replicas and workers (none started yet) over one configuration; all stopped at the end."""
    config = write_config(directory, database_url=database_url, redis_url=redis_url, queue=queue)
    logs = directory / "logs"
    logs.mkdir()
    running = Cluster(config, logs)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def cluster(cluster_dir: Path, stars, shared_pg: str) -> Iterator[Cluster]:
    del stars
    with cluster_over(
        cluster_dir, database_url=shared_pg, redis_url=REDIS_URL, queue=f"t{cluster_dir.name}"
    ) as running:
        yield running


def test_two_replicas_two_workers_share_jobs(cluster: Cluster, stars):
    a = cluster.start_replica()
    b = cluster.start_replica()
    cluster.start_worker()
    cluster.start_worker()
    queries = {
        submit(a if i % 2 else b, f"SELECT id, mag FROM demo.stars WHERE mag < {15 + i * 0.5}"): i
        for i in range(6)
    }
    for job_url, i in queries.items():
        other = job_url.replace(a, b) if job_url.startswith(a) else job_url.replace(b, a)
        assert wait_done(other) == "COMPLETED", cluster.log_text()
        table = result_table(other)
        expected = np.sort(stars["id"][stars["mag"] < 15 + i * 0.5])
        assert np.array_equal(np.sort(np.asarray(table["id"])), expected)
    listing = httpx.get(f"{a}/async", timeout=30).text
    assert all(url.rsplit("/", 1)[1] in listing for url in queries)


def test_a_worker_killed_mid_job_leaves_no_job_executing(cluster: Cluster, stars):
    base = cluster.start_replica()
    first = cluster.start_worker()
    job_url = submit(base, SLOW_QUERY)
    deadline = time.monotonic() + 60
    while phase(job_url) != "EXECUTING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert phase(job_url) == "EXECUTING", cluster.log_text()
    first.send_signal(signal.SIGKILL)
    first.wait()
    cluster.start_worker()
    final = wait_done(job_url, limit=180)
    assert final == "COMPLETED", cluster.log_text()
    a = stars["id"][stars["id"] < 20000]
    b = stars["id"]
    expected = int(np.count_nonzero((a[:, None] * 7 + b[None, :] * 13) % 1000003 == 5))
    assert int(result_table(job_url)["n"][0]) == expected
    # The job document says it was started twice (the retry), by two different workers.
    info = httpx.get(job_url, timeout=30).text
    assert "COMPLETED" in info


def test_a_killed_replica_loses_no_job(cluster: Cluster, stars):
    a = cluster.start_replica()
    b = cluster.start_replica()
    cluster.start_worker()
    job_url = submit(a, "SELECT COUNT(*) AS n FROM demo.stars WHERE dec > 0")
    port = int(a.rsplit(":", 1)[1].split("/")[0])
    cluster.replicas[port].send_signal(signal.SIGKILL)
    cluster.replicas[port].wait()
    via_b = job_url.replace(a, b)
    assert wait_done(via_b) == "COMPLETED", cluster.log_text()
    assert int(result_table(via_b)["n"][0]) == int(np.count_nonzero(stars["dec"] > 0))


def test_redis_down_is_503_and_the_service_recovers(cluster_dir: Path, stars, shared_pg: str):
    del stars
    with (
        private_redis() as (redis_url, redis_proc, argv),
        cluster_over(
            cluster_dir, database_url=shared_pg, redis_url=redis_url, queue="q"
        ) as cluster,
    ):
        base = cluster.start_replica()
        cluster.start_worker()
        assert wait_done(submit(base, "SELECT TOP 3 id FROM demo.stars")) == "COMPLETED"
        redis_proc.kill()
        redis_proc.wait()
        response = httpx.post(
            f"{base}/async",
            data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM demo.stars", "PHASE": "RUN"},
            timeout=30,
        )
        assert response.status_code == 503, response.text
        assert "Redis" in response.text
        held = httpx.get(f"{base}/async?PHASE=HELD", timeout=30).text
        job_id = held.split('jobref id="')[1].split('"')[0]
        restarted = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            again = httpx.post(f"{base}/async/{job_id}/phase", data={"PHASE": "RUN"}, timeout=30)
            assert again.status_code == 303, again.text
            assert wait_done(f"{base}/async/{job_id}", limit=60) == "COMPLETED", cluster.log_text()
        finally:
            cluster.stop()
            restarted.kill()
            restarted.wait()


def test_postgres_down_is_503_and_the_service_recovers(cluster_dir: Path, stars):
    del stars
    with (
        private_postgres() as pg,
        cluster_over(cluster_dir, database_url=pg.url, redis_url=REDIS_URL, queue="p") as cluster,
    ):
        base = cluster.start_replica()
        cluster.start_worker()
        assert wait_done(submit(base, "SELECT TOP 3 id FROM demo.stars")) == "COMPLETED"
        pg.stop()
        down = httpx.get(f"{base}/async", timeout=30)
        assert down.status_code == 503, down.text
        assert "job database" in down.text
        # Synchronous queries need no job database: they go on.
        sync = httpx.post(
            f"{base}/sync",
            data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM demo.stars"},
            timeout=30,
        )
        assert sync.status_code == 200
        pg.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/async", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, cluster.log_text()
            time.sleep(0.5)
        assert wait_done(submit(base, "SELECT TOP 2 id FROM demo.stars")) == "COMPLETED"
