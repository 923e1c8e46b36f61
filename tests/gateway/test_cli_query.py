"""``adql-gateway query`` run as a user runs it: the installed script against real servers.

Sync queries go to the conftest's TAP service over ``demo.stars`` and are checked against
numpy over the same arrays. Async jobs go to a federating gateway over the demo federation
whose spectral service stalls, so the job sits in EXECUTING with HSC's rows fetched: the
progress lines, and Ctrl-C (SIGINT to the subprocess) aborting the job, are seen while it
waits. Expected HSC row counts come from the demo Parquet file through numpy.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from gateway.cli import COMMANDS, build_parser, load_commands
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from standins.data import DemoData
from tests.gateway.conftest import (
    UWS_NS,
    TapService,
    angular_distance,
    cone_mask,
    read_votable,
)
from tests.gateway.fault_server import FaultServer
from tests.gateway.federation_servers import (
    ECDFS,
    Federation,
    SwitchableBackend,
    serve_switchable,
)
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).with_name("adql-gateway")
CONE = "CONTAINS(POINT(ra, dec), CIRCLE(10, 10, 0.3)) = 1"
RADIUS = 0.03
#: HSC sources near ECDFS with their spectra, if any: the spectral side is the slow one.
HSC_WITH_SPECTRA = (
    "SELECT h.MatchID, s.z FROM hscv3.summary AS h LEFT OUTER JOIN sdss_dr16.specobj AS s "
    "ON CONTAINS(POINT(s.ra, s.dec), CIRCLE(h.MatchRA, h.MatchDec, 1.0 / 3600)) = 1 "
    f"WHERE CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(53.2, -28.1, {RADIUS})) = 1"
)


def query(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "query", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hsc_in_cone(demo: DemoData) -> int:
    """HSC sources within RADIUS of the ECDFS centre, from the Parquet file (numpy)."""
    table = pq.read_table(demo.tables()["hscv3.summary"], columns=["MatchRA", "MatchDec"])
    ra, dec = (table.column(c).to_numpy() for c in ("MatchRA", "MatchDec"))
    return int((angular_distance(ra, dec, ECDFS[0], ECDFS[1]) <= RADIUS).sum())


# ---------------------------------------------------------------------------- sync


def test_sync_csv_matches_numpy(tap_service: TapService) -> None:
    done = query(
        "--url", tap_service.url, "--format", "csv",
        f"SELECT id, ra, gmag FROM demo.stars WHERE {CONE} ORDER BY id",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["id", "ra", "gmag"]
    stars = tap_service.stars
    mask = cone_mask(stars, 10, 10, 0.3)
    assert mask.sum() > 100
    assert [int(r[0]) for r in rows[1:]] == stars.id[mask].tolist()
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], stars.ra[mask], rtol=1e-12)
    gmag = [float(r[2]) if r[2] else np.nan for r in rows[1:]]
    np.testing.assert_allclose(gmag, stars.gmag[mask], rtol=1e-12)  # NULL is NaN on both sides


def test_text_streams_in_process(tap_service: TapService) -> None:
    # The command run from Python with text-only streams (no binary buffer under them).
    load_commands()
    args = build_parser().parse_args(
        [
            "query",
            "--url",
            tap_service.url,
            "--format",
            "tsv",
            "SELECT COUNT(*) AS n FROM demo.stars",
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    assert COMMANDS["query"].run(args, out, err) == 0, err.getvalue()
    assert out.getvalue().split() == ["n", str(tap_service.stars.id.size)]


def test_stdin_output_file_and_overflow(tap_service: TapService, tmp_path: Path) -> None:
    target = tmp_path / "stars.xml"
    done = query(
        "--url", tap_service.url, "--maxrec", "7", "--output", str(target), "-",
        stdin="SELECT id FROM demo.stars WHERE gmag < 19 ORDER BY id DESC",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "QUERY_STATUS=OVERFLOW" in done.stderr
    table = read_votable(target.read_bytes())
    stars = tap_service.stars
    expected = np.sort(stars.id[stars.gmag < 19])[::-1][:7]
    assert table["id"].tolist() == expected.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["stars.xml"]  # no .part file left


def test_adql_errors_exit_1_with_line_and_column(tap_service: TapService) -> None:
    for mode in ([], ["--async"]):
        done = query("--url", tap_service.url, *mode, "SELECT id\nFROM demo.stars\nWHERE")
        assert done.returncode == 1, (mode, done.stderr)
        assert done.stdout == ""
        assert re.search(r"^error: .*line 3, column \d+", done.stderr, re.MULTILINE), done.stderr
        assert "Traceback" not in done.stderr
    # A mistake found when the job runs: the job document says ERROR, /error says why.
    done = query("--url", tap_service.url, "--async", "SELECT LOWER(gmag) FROM demo.stars")
    assert done.returncode == 1
    assert "LOWER needs" in done.stderr
    assert done.stderr.endswith("at line 1, column 14\n")


def test_failed_output_leaves_no_file(tap_service: TapService, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    done = query("--url", tap_service.url, "--output", str(target), "SELECT nope FROM demo.stars")
    assert done.returncode == 1
    assert "nope" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--maxrec", "x", "SELECT 1"],
        ["--maxrec", "-1", "SELECT 1"],
        ["--param", "PARTIAL", "SELECT 1"],
        ["--param", "QUERY=SELECT 2", "SELECT 1"],
        ["--url", "127.0.0.1:8000/tap", "SELECT 1"],
        ["--url", "ftp://example.org/tap", "SELECT 1"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    done = query(*args)
    assert done.returncode == 2, done.stderr
    assert "usage:" in done.stderr


def test_unreachable_service_exits_1() -> None:
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    sock.close()
    done = query("--url", url, "SELECT 1")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no answer from {url}")


@pytest.mark.parametrize(
    ("route", "params", "message"),
    [
        ("votable_error", {"message": "table gone"}, "error: table gone\n"),
        ("votable_cut", {}, "error: the result stopped before the end of its VOTable document\n"),
        ("status", {"code": "503", "body": "down for maintenance"}, "HTTP 503 from "),
        ("truncated", {}, "broke: peer closed connection"),
    ],
)
def test_a_faulty_service_exits_1(
    route: str, params: dict[str, str], message: str, tmp_path: Path
) -> None:
    switch = SwitchableBackend(FaultServer())
    switch.fault, switch.params = route, params
    with serve_app(switch) as url:
        done = query("--url", f"{url}/tap", "--output", str(tmp_path / "out.xml"), "SELECT 1")
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_progress_is_redrawn_on_a_terminal(tap_service: TapService) -> None:
    leader, follower = os.openpty()
    try:
        done = subprocess.run(
            [str(SCRIPT), "query", "--url", tap_service.url, "--async", "--format", "csv",
             "SELECT COUNT(*) AS n FROM demo.stars"],
            stdout=subprocess.PIPE, stderr=follower, timeout=120, check=False,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        drawn = b""
        while select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed once the child was gone
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0, drawn
    assert done.stdout.split() == [b"n", str(tap_service.stars.id.size).encode()]
    # Each state overwrites the line (carriage return, erase to the end of the line).
    assert re.search(rb"\r\x1b\[KCOMPLETED \(\d+ s\)", drawn), drawn


# ---------------------------------------------------------------------------- async jobs


@contextlib.contextmanager
def stalled_spectra_gateway(
    federation: Federation, demo: DemoData, work: Path, spec_timeout: float
) -> Iterator[str]:
    """The federation behind a gateway whose spectral service waits 10 s before answering."""
    with serve_switchable("spectral", demo, work / "spec") as (spec_url, switch):
        backends = [
            b.model_copy(update={"url": spec_url, "timeout_seconds": spec_timeout})
            if b.name == "spec"
            else b
            for b in federation.backends()
        ]
        sock = reserve_port()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
        settings = GatewaySettings(base_url=base, data_dir=work / "gateway", backends=backends)
        with serve_app(build_app(settings), sock=sock, lifespan="on"):
            switch.fault, switch.params = "hang", {"delay": "10"}
            yield base


def test_async_shows_rows_fetched_per_backend(
    federation: Federation, demo: DemoData, tmp_path: Path
) -> None:
    expected = hsc_in_cone(demo)
    with stalled_spectra_gateway(federation, demo, tmp_path, spec_timeout=1.5) as tap:
        started = time.monotonic()
        done = query(
            "--url", tap, "--async", "--param", "PARTIAL=true", "--output",
            str(tmp_path / "result.xml"), HSC_WITH_SPECTRA,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started > 3  # the spectral side did stall
    lines = done.stderr.splitlines()
    assert re.fullmatch(rf"job {re.escape(tap)}/async/\S+", lines[0]), lines
    # Plain lines (stderr is no terminal), one per change, with HSC's rows while it waits.
    assert f"EXECUTING; fetched hsc {expected:,} rows" in lines
    assert "\r" not in done.stderr
    assert len(lines) == len(set(lines))
    assert any(line.startswith("COMPLETED") for line in lines)
    # PARTIAL: the answer is marked incomplete, and holds every HSC source of the cone.
    assert lines[-1].startswith("warning: result incomplete (QUERY_STATUS=OVERFLOW)")
    assert len(read_votable((tmp_path / "result.xml").read_bytes())) == expected


def _read_until(stream: IO[str], pattern: str, timeout: float) -> list[str]:
    """Lines of ``stream`` up to one matching ``pattern`` (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in {lines}")


def test_ctrl_c_aborts_the_job(federation: Federation, demo: DemoData, tmp_path: Path) -> None:
    with stalled_spectra_gateway(federation, demo, tmp_path, spec_timeout=60) as tap:
        with subprocess.Popen(
            [str(SCRIPT), "query", "--url", tap, "--async", HSC_WITH_SPECTRA],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            try:
                assert child.stderr is not None
                lines = _read_until(child.stderr, r"fetched hsc", timeout=30)
                job = lines[0].removeprefix("job ")
                child.send_signal(signal.SIGINT)
                rest = child.stderr.read()
                assert child.wait(timeout=30) == 130, rest
            finally:
                if child.poll() is None:
                    child.kill()
        assert f"interrupted: job {job} aborted" in rest
        jobs = ET.fromstring(httpx.get(f"{tap}/async", timeout=30).content)
        phases = {ref.get("id"): ref.findtext(f"{UWS_NS}phase") for ref in jobs}
        assert phases == {job.rsplit("/", 1)[-1]: "ABORTED"}
