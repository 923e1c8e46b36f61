"""STILTS taplint against the demo federation's gateway: no errors, warnings or failures.

The federation (HSC, SIAv2 and spectral stand-ins, a second gateway as the ``rsp`` TAP
backend) runs on loopback; the main gateway federates them as ``adql-gateway demo`` does
(``rsp_sia`` with the Rubin ObsCore profile). Stage LOC (ObsLocTAP) is skipped: the service
does not claim it. The gateway over local tables alone validates at 0 warnings, so the
federation must too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from standins.data import ensure_demo_data
from tests.gateway.federation_servers import run_federation
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

TAPLINT_TIMEOUT = 600.0
FEDERATED_TABLES = 13
MAX_WARNINGS = 0
"""Warnings of taplint on the gateway over local tables alone (the baseline)."""


@pytest.fixture(scope="module")
def federation_tap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("federation-taplint")
    demo = ensure_demo_data()
    with run_federation(demo, work / "rsp") as fed:
        sock = reserve_port()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
        settings = GatewaySettings(
            base_url=base,
            data_dir=work / "gateway",
            service_title="adql-gateway demo federation",
            backends=fed.backends(sia_profile="rubin"),
        )
        with serve_app(build_app(settings), sock=sock, lifespan="on") as url:
            yield url + "/tap"


def taplint(url: str, *args: str) -> str:
    """taplint's report (report=EWISF); fails clearly when stilts is absent or stalls."""
    executable = shutil.which("stilts")
    if executable is None:
        pytest.fail("stilts is not on PATH: run tests/install_system_tools.sh (Debian 'stilts')")
    command = [executable, "taplint", "report=EWISF", *args, f"tapurl={url}"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TAPLINT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"taplint did not finish within {TAPLINT_TIMEOUT} s: {exc.stderr!r}")
    if "Totals:" not in done.stdout:
        pytest.fail(f"taplint printed no Totals line:\n{done.stdout[-3000:]}\n{done.stderr}")
    return done.stdout


def totals(report: str) -> dict[str, int]:
    """The counts of the last ``Totals:`` line (Errors, Warnings, Failures...)."""
    line = [ln for ln in report.splitlines() if ln.startswith("Totals:")][-1]
    return {key: int(value) for key, value in re.findall(r"(\w+): (\d+)", line)}


def messages(report: str, kinds: str = "EWF") -> list[str]:
    """Report lines of the given message types (first lines and repeat summaries)."""
    return [ln for ln in report.splitlines() if re.match(rf"[{kinds}]-[A-Z]+-\w+-(\d+|x+) ", ln)]


def test_taplint_on_the_federation_is_clean(federation_tap: str) -> None:
    report = taplint(federation_tap, "stages=-LOC")
    counts = totals(report)
    problems = "\n".join(messages(report)[:60])
    assert counts.get("Errors", 0) == 0, problems
    assert counts.get("Failures", 0) == 0, problems
    assert counts.get("Warnings", 0) <= MAX_WARNINGS, problems
    # Every backend's tables were validated: 8 HSC, 2 rsp (TAP), 1 SIA, 2 spectral + TAP_SCHEMA.
    summaries = [ln for ln in report.splitlines() if re.match(r"S-TM[ES]-SUMM-1 ", ln)]
    assert len(summaries) == 2, summaries
    assert all(f"Tables: {FEDERATED_TABLES + 5}," in ln for ln in summaries), summaries
