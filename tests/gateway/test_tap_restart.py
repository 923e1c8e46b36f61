"""Jobs survive a restart: the service is killed (SIGKILL) mid-job and started again.

The first service runs in a child process (``uvicorn`` on ``build_app``) so it can really be
killed while a slow job executes; the second runs in-process on the same data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.gateway.conftest import (
    UWS_NS,
    TapService,
    create_job,
    job_document,
    job_phase,
    make_stars,
    read_votable,
    run_tap_service,
    threads_in_engine,
    wait_terminal,
    write_config,
    write_stars,
)
from tests.live_server import reserve_port, wait_until_available

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SLOW = (
    "SELECT COUNT(*) AS n FROM demo.stars AS a, demo.stars AS b, "
    "(SELECT TOP 60 id FROM demo.stars) AS c WHERE SIN(a.ra * b.dec + c.id) > COS(a.dec + b.ra)"
)
SERVER = """
import sys
from pathlib import Path
import uvicorn
from gateway.tap.serve import build_app
from gateway.settings import load_settings
uvicorn.run(build_app(load_settings(Path(sys.argv[1]))), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


@pytest.fixture
def child_service(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A service in a child process; yields (TAP URL, process)."""
    write_stars(make_stars(), tmp_path / "stars.parquet")
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()  # the child binds it; nothing else on this loopback-only test box races for it
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(config), str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/tap"
    try:
        wait_until_available(
            process, url, lambda: process.communicate()[0].decode(errors="replace")
        )
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_jobs_survive_a_killed_service(
    child_service: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, process = child_service
    pending = create_job(url, LANG="ADQL", QUERY="SELECT COUNT(*) AS n FROM demo.stars")
    completed = create_job(
        url, LANG="ADQL", QUERY="SELECT id FROM demo.stars WHERE flags = 5 ORDER BY id", PHASE="RUN"
    )
    assert wait_terminal(completed) == "COMPLETED"
    result_before = httpx.get(f"{completed}/results/result", timeout=30).content
    executing = create_job(url, LANG="ADQL", QUERY=SLOW, PHASE="RUN")
    assert job_phase(executing, WAIT="10", PHASE="QUEUED") == "EXECUTING"

    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    stars = make_stars()
    with run_tap_service(tmp_path, stars) as service:
        base = service.url

        def moved(job_url: str) -> str:
            return f"{base}/async/{job_url.rsplit('/', 1)[1]}"

        listing = ET.fromstring(httpx.get(f"{base}/async", timeout=10).content)
        listed = {ref.get("id"): ref.findtext(f"{UWS_NS}phase") for ref in listing}
        ids = {u.rsplit("/", 1)[1] for u in (pending, completed, executing)}
        assert ids <= set(listed)

        assert job_phase(moved(pending)) == "PENDING"
        assert job_phase(moved(completed)) == "COMPLETED"
        result_after = httpx.get(f"{moved(completed)}/results/result", timeout=30)
        assert result_after.status_code == 200
        assert result_after.content == result_before
        expected = [int(i) for i in stars.id[stars.flags == 5]]
        assert [int(i) for i in read_votable(result_after.content)["id"]] == expected

        root = job_document(moved(executing))
        assert root.findtext(f"{UWS_NS}phase") == "ERROR"
        message = root.findtext(f"{UWS_NS}errorSummary/{UWS_NS}message") or ""
        assert "restart" in message
        error = httpx.get(f"{moved(executing)}/error", timeout=10)
        assert error.status_code == 200
        assert b"restart" in error.content

        # the pending job still runs after the restart
        assert httpx.post(f"{moved(pending)}/phase", data={"PHASE": "RUN"}, timeout=10).status_code == 303  # fmt: skip
        assert wait_terminal(moved(pending)) == "COMPLETED"
        counted = read_votable(httpx.get(f"{moved(pending)}/results/result", timeout=30).content)
        assert int(counted["n"][0]) == len(stars.id)


def test_graceful_restart_keeps_finished_jobs(tmp_path: Path) -> None:
    stars = make_stars()
    with run_tap_service(tmp_path, stars) as first:
        done = create_job(
            first.url, LANG="ADQL", QUERY="SELECT COUNT(*) AS n FROM demo.stars", PHASE="RUN"
        )
        assert wait_terminal(done) == "COMPLETED"
        job_id = done.rsplit("/", 1)[1]
        waiting = create_job(first.url, LANG="ADQL", QUERY="SELECT 1 AS one").rsplit("/", 1)[1]
    with run_tap_service(tmp_path, stars) as second:
        result = httpx.get(f"{second.url}/async/{job_id}/results/result", timeout=30)
        assert result.status_code == 200
        assert int(read_votable(result.content)["n"][0]) == len(stars.id)
        assert job_phase(f"{second.url}/async/{waiting}") == "PENDING"
        assert isinstance(second, TapService)


def test_graceful_shutdown_during_a_job(tmp_path: Path) -> None:
    stars = make_stars()
    short_slow = SLOW.replace("TOP 60", "TOP 3")
    with run_tap_service(tmp_path, stars) as first:
        running = create_job(first.url, LANG="ADQL", QUERY=short_slow, PHASE="RUN")
        assert job_phase(running, WAIT="10", PHASE="QUEUED") == "EXECUTING"
        job_id = running.rsplit("/", 1)[1]
    with run_tap_service(tmp_path, stars) as second:
        root = job_document(f"{second.url}/async/{job_id}")
        assert root.findtext(f"{UWS_NS}phase") == "ERROR"
        assert "restart" in (root.findtext(f"{UWS_NS}errorSummary/{UWS_NS}message") or "")
        # the first service's engine thread may still be running its query: let it end
        deadline = time.monotonic() + 30
        while threads_in_engine() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job_phase(f"{second.url}/async/{job_id}") == "ERROR"
