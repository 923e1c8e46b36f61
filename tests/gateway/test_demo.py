"""``adql-gateway demo``: generated configuration, and the whole federation as real processes.

The integration tests run ``python -m gateway.cli demo`` as a subprocess over the cached demo
data (``$ADQL_GATEWAY_DATA`` or ``~/.cache/adql-gateway/demo-v1``), read the run state it
writes (ports, process ids), query the services, then interrupt it and check that no child
process is left.
"""

from __future__ import annotations

import io
import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
import pyvo

from gateway.settings import load_settings
from standins.data import default_data_dir, ensure_demo_data
from standins.demo.config import (
    EXAMPLES,
    RSP_TABLES,
    DemoPorts,
    Example,
    column_metadata,
    dump_toml,
    federation_config,
    rsp_config,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 45.0
RUBIN_CONE = EXAMPLES[0].adql


# --- configuration (no processes) ------------------------------------------------------------


def test_dump_toml_round_trips() -> None:
    doc = {
        "service": {"base_url": "http://x/tap", "n": 3, "f": 0.5, "on": True, "skip": None},
        "backends": [
            {"name": "a b", "tables": [{"name": "s.t", "columns": {"weird key": {"u": "m"}}}]},
            {"name": 'q"uote\\', "list": ["x", 1]},
        ],
    }
    parsed = tomllib.loads(dump_toml(doc))
    assert parsed["service"] == {"base_url": "http://x/tap", "n": 3, "f": 0.5, "on": True}
    assert parsed["backends"][0]["tables"][0]["columns"] == {"weird key": {"u": "m"}}
    assert parsed["backends"][1] == {"name": 'q"uote\\', "list": ["x", 1]}


def test_column_metadata_covers_every_rsp_column() -> None:
    data = ensure_demo_data()
    metadata = column_metadata()
    assert set(metadata) == set(RSP_TABLES)
    for name in RSP_TABLES:
        description, columns = metadata[name]
        assert description
        file_columns = pq.read_schema(data.tables()[name]).names
        assert sorted(columns) == sorted(file_columns), name
        assert all(c.get("ucd") and c.get("description") for c in columns.values()), name
    _, obscore = metadata["ivoa.ObsCore"]
    assert obscore["s_region"]["xtype"] == "polygon"
    assert obscore["s_region"]["ucd"] == "pos.outline;obs.field"
    assert obscore["calib_level"]["utype"] == "obscore:ObsDataset.calibLevel"
    assert obscore["em_min"]["unit"] == "m"
    _, objects = metadata["dp1.Object"]
    assert objects["r_cModelMag"] == {
        "unit": "mag",
        "ucd": "phot.mag;em.opt.R",
        "description": "AB magnitude from the cModel flux in r; NULL when not detected.",
        "principal": True,
    }


def test_generated_configs_load(tmp_path: Path) -> None:
    data = ensure_demo_data()
    rsp = load_settings(write_config(tmp_path / "rsp.toml", rsp_config(data, 9001, tmp_path)))
    assert [b.kind for b in rsp.backends] == ["local"]
    assert [t.name for t in rsp.backends[0].tables] == list(RSP_TABLES)
    assert rsp.base_url == "http://127.0.0.1:9001/tap"
    ports = DemoPorts(main=9000, hsc=9002, sia=9003, spectral=9004, rsp=9001)
    fed = load_settings(write_config(tmp_path / "f.toml", federation_config(ports, tmp_path)))
    backends = {b.name: b for b in fed.backends}
    assert {n: b.kind for n, b in backends.items()} == {
        "hsc": "hsc",
        "rsp": "tap",
        "rsp_sia": "sia",
        "spec": "spectral",
    }
    assert backends["hsc"].url == "http://127.0.0.1:9002/api/v0.1/hsc"
    assert backends["rsp"].url == "http://127.0.0.1:9001/tap"
    assert backends["rsp_sia"].url == "http://127.0.0.1:9003/query"
    assert backends["rsp_sia"].sia_profile == "rubin"
    assert backends["spec"].url == "http://127.0.0.1:9004/spec"
    assert backends["spec"].context == "sdss_dr16"
    assert fed.base_url == "http://127.0.0.1:9000/tap"


# --- the demo as processes -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes (its parent just has not reaped it yet)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class DemoRun:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)
    state: dict[str, object] = field(default_factory=dict)
    pump: threading.Thread | None = None

    def wait_for(self, marker: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if marker in line:
                return line
        pytest.fail(f"demo did not print {marker!r}; output:\n" + "".join(self.output))

    def pids(self) -> dict[str, int]:
        pids = self.state["pids"]
        assert isinstance(pids, dict)
        return {str(k): int(v) for k, v in pids.items()}

    def stop(self, signum: signal.Signals) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:  # never leave the demo behind, whatever happened
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            if self.pump is not None:
                self.pump.join(10)
            if self.process.stdout is not None:
                self.process.stdout.close()


def _cleanup(run: DemoRun) -> None:
    run.stop(signal.SIGTERM)
    for pid in run.pids().values() if run.state else ():
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def start_demo() -> Iterator[list[DemoRun]]:
    runs: list[DemoRun] = []
    yield runs
    for run in runs:
        _cleanup(run)


RESTART_DELAY = 10.0
"""Seconds the shared demo waits before restarting a dead service: long enough for a test to
see it down, whatever the executor's retries cost."""


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoRun]:
    """The full demo on a free port, shared by the tests below (the last one stops it).

    It is started with SIGINT ignored, as a job started with ``&`` by a non-interactive shell
    (a script, a test suite run in the background) is: Ctrl-C must still stop it.
    """
    runs: list[DemoRun] = []
    try:
        yield _launch(
            runs,
            "--port",
            str(_free_port()),
            "--restart-delay",
            str(RESTART_DELAY),
            sigint_ignored=True,
        )
    finally:
        for run in runs:
            _cleanup(run)


def _launch(runs: list[DemoRun], *args: str, sigint_ignored: bool = False) -> DemoRun:
    data = os.environ.get("ADQL_GATEWAY_DATA") or str(default_data_dir())
    ensure_demo_data(Path(data))  # generated once here, outside the start-up timeout
    command = [sys.executable, "-m", "gateway.cli", "demo", "--data", data, *args]
    if sigint_ignored:  # `trap "" INT` is inherited through exec, like a background job's
        command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    run = DemoRun(process)
    runs.append(run)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.lines.put(line)
        run.lines.put(None)

    run.pump = threading.Thread(target=pump, daemon=True)
    run.pump.start()
    state_line = run.wait_for("run state: ")
    run.state = json.loads(Path(state_line.split("run state: ", 1)[1].strip()).read_text())
    run.wait_for("press Ctrl-C to stop")
    return run


def _urls(run: DemoRun) -> tuple[str, dict[str, str]]:
    """The gateway's TAP URL and every backend's URL, from the run state."""
    backends = run.state["backends"]
    assert isinstance(backends, dict)
    return str(run.state["tap_url"]), {str(k): str(v) for k, v in backends.items()}


def _assert_no_orphans(run: DemoRun) -> None:
    deadline = time.monotonic() + 15
    pids = run.pids()
    while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {name: pid for name, pid in pids.items() if _alive(pid)} == {}


@pytest.mark.integration
@pytest.mark.slow
def test_backends_answer_in_their_own_protocols(demo: DemoRun) -> None:
    tap_url, backends = _urls(demo)
    assert set(demo.pids()) == {"hsc", "rsp_sia", "spec", "rsp", "gateway"}
    with httpx.Client(timeout=30, trust_env=False) as client:
        assert client.get(f"{tap_url}/availability").status_code == 200
        hsc = client.get(f"{backends['hsc']}/v3/summary/magaper2/metadata")
        assert hsc.status_code == 200
        assert any(c["name"] == "MatchID" for c in hsc.json())
        sia = client.get(backends["rsp_sia"], params={"POS": "CIRCLE 53.2 -28.1 0.01"})
        assert sia.status_code == 200
        assert "lsst.deep_coadd" in sia.text
        assert client.get(f"{backends['spec']}/ping").text == "OK"


@pytest.mark.integration
@pytest.mark.slow
def test_rsp_is_a_tap_service_with_the_shipped_metadata(demo: DemoRun) -> None:
    _, backends = _urls(demo)
    rsp = pyvo.dal.TAPService(backends["rsp"])
    rows = rsp.run_sync(RUBIN_CONE).to_table()
    assert len(rows) > 100
    assert str(rows["coord_ra"].unit) == "deg"
    meta = rsp.run_sync(
        "SELECT column_name, ucd, utype, xtype FROM TAP_SCHEMA.columns "
        "WHERE table_name = 'ivoa.ObsCore' AND column_name = 's_region'"
    ).to_table()
    assert list(meta["ucd"]) == ["pos.outline;obs.field"]
    assert list(meta["utype"]) == ["obscore:Char.SpatialAxis.Coverage.Support.Area"]
    assert list(meta["xtype"]) == ["polygon"]


@pytest.mark.integration
@pytest.mark.slow
def test_main_gateway_lists_every_federated_table(demo: DemoRun) -> None:
    tables = httpx.get(f"{demo.state['tap_url']}/tables", timeout=30, trust_env=False).text
    for name in ("dp1.Object", "ivoa.ObsCore", "hscv3.summary", "rsp_sia.obscore"):
        assert f"<name>{name}</name>" in tables, name
    assert "sdss_dr16.specobj" in tables


@pytest.mark.integration
@pytest.mark.slow
def test_banner_names_the_query_page_and_a_working_query_command(demo: DemoRun) -> None:
    tap_url = str(demo.state["tap_url"])
    page = next(line for line in demo.output if "query page" in line)
    assert page.split()[-1] == f"{tap_url}/"
    answer = httpx.get(f"{tap_url}/", timeout=30, trust_env=False)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    printed = next(line for line in demo.output if line.strip().startswith("adql-gateway query"))
    command = shlex.split(printed)
    assert command[:3] == ["adql-gateway", "query", "--url"]
    script = str(Path(sys.executable).with_name("adql-gateway"))
    done = subprocess.run(
        [script, *command[1:]], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.startswith("objectId,")
    assert rows


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.title.split(" (")[0] for e in EXAMPLES])
def test_seed_query_returns_rows(demo: DemoRun, example: Example) -> None:
    service = pyvo.dal.TAPService(str(demo.state["tap_url"]))
    assert len(service.run_sync(example.adql)) > 0


@pytest.mark.integration
@pytest.mark.slow
def test_pyvo_upload_of_positions_against_obscore(demo: DemoRun) -> None:
    # The PyVO course's pattern: a user's positions uploaded and joined with ObsCore.
    from astropy import units as u  # noqa: PLC0415
    from astropy.coordinates import SkyCoord  # noqa: PLC0415
    from astropy.table import Table  # noqa: PLC0415

    mine = Table(
        {"name": ["a", "b", "far"], "ra": [53.2, 53.35, 10.0], "dec": [-28.1, -27.95, 10.0]}
    )
    service = pyvo.dal.TAPService(str(demo.state["tap_url"]))
    got = service.run_sync(
        "SELECT u.name, o.obs_id FROM ivoa.ObsCore AS o JOIN TAP_UPLOAD.mine AS u "
        "ON 1 = CONTAINS(POINT('ICRS', o.s_ra, o.s_dec), CIRCLE('ICRS', u.ra, u.dec, 0.1))",
        uploads={"mine": mine},
    ).to_table()
    obscore = pq.read_table(
        ensure_demo_data().tables()["ivoa.ObsCore"], columns=["obs_id", "s_ra", "s_dec"]
    )
    images = SkyCoord(obscore["s_ra"].to_numpy() * u.deg, obscore["s_dec"].to_numpy() * u.deg)
    expected = set()
    for name, ra, dec in zip(mine["name"], mine["ra"], mine["dec"], strict=True):
        near = images.separation(SkyCoord(ra * u.deg, dec * u.deg)) <= 0.1 * u.deg
        expected |= {(str(name), str(obs)) for obs in obscore["obs_id"].to_numpy()[near]}
    assert expected
    assert {(str(r["name"]), str(r["obs_id"])) for r in got} == expected


@pytest.mark.integration
@pytest.mark.slow
def test_obscore_access_urls_lead_to_images_served_on_loopback(demo: DemoRun) -> None:
    from astropy.io import fits  # noqa: PLC0415

    tap_url, backends = _urls(demo)
    rows = pyvo.dal.TAPService(tap_url).run_sync(EXAMPLES[1].adql)  # deep coadds, access_url
    assert len(rows) > 0
    # The rsp instance routes the same IDs through its own DataLink endpoint.
    direct = pyvo.dal.TAPService(backends["rsp"]).run_sync(EXAMPLES[1].adql)
    assert str(direct[0]["access_url"]).startswith(f"{backends['rsp']}/datalink/links?ID=")
    for row in list(rows)[:3]:
        url = str(row["access_url"])
        assert url.startswith(f"{tap_url}/datalink/links?ID=")
        links = pyvo.dal.adhoc.DatalinkResults.from_result_url(url)
        this = next(links.bysemantics("#this", include_narrower=False))
        assert str(this["access_url"]).startswith("http://127.0.0.1:")
        with fits.open(io.BytesIO(this.getdataset().read())) as hdus:
            assert hdus[0].header["OBS_ID"] == row["obs_id"]


def _state(run: DemoRun) -> dict[str, object]:
    path = Path(str(run.state["run_dir"])) / "demo.json"
    state: dict[str, object] = json.loads(path.read_text())
    return state


def _spectra(tap_url: str, **params: str) -> httpx.Response:
    query = (
        "SELECT specobjid FROM sdss_dr16.specobj "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53.2, -28.1, 0.05)) = 1"
    )
    return httpx.post(
        f"{tap_url}/sync",
        data={"LANG": "ADQL", "QUERY": query, **params},
        timeout=60,
        trust_env=False,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_standin_is_marked_down_then_restarted(demo: DemoRun) -> None:
    tap_url = str(demo.state["tap_url"])
    before = _spectra(tap_url)
    assert before.status_code == 200
    assert _rows(before) > 0
    old_pid = demo.pids()["spec"]
    os.killpg(old_pid, signal.SIGKILL)
    demo.wait_for("spec exited with")
    assert _state(demo)["states"] == {
        "hsc": "up", "rsp_sia": "up", "spec": "down", "rsp": "up", "gateway": "up",
    }  # fmt: skip
    # The gateway keeps serving: PARTIAL=true answers with an INFO naming the dead backend,
    # without it the query fails naming it, and other backends answer as before.
    partial = _spectra(tap_url, PARTIAL="true", FORMAT="votable/td")
    assert partial.status_code == 200
    assert '<INFO name="BACKEND_ERROR" value="spec"' in partial.text, partial.text[:1500]
    assert "<TR>" not in partial.text
    failed = _spectra(tap_url)
    assert failed.status_code in {502, 503}
    assert "backend 'spec'" in failed.text
    service = pyvo.dal.TAPService(tap_url)
    assert len(service.run_sync(EXAMPLES[2].adql)) > 0  # HSC
    demo.wait_for("spec is up again", timeout=RESTART_DELAY + START_TIMEOUT)
    state = _state(demo)
    assert state["states"] == dict.fromkeys(("hsc", "rsp_sia", "spec", "rsp", "gateway"), "up")
    pids = state["pids"]
    assert isinstance(pids, dict)
    assert pids["spec"] != old_pid
    assert not _alive(old_pid)
    after = _spectra(tap_url)
    assert after.status_code == 200
    assert _rows(after) == _rows(before)
    demo.state["pids"] = pids  # the cleanup must know the new process


def _rows(response: httpx.Response) -> int:
    """Rows of a VOTable answer (astropy reads it; any serialization)."""
    from astropy.io.votable import parse_single_table  # noqa: PLC0415

    return len(parse_single_table(io.BytesIO(response.content)).array)


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_stops_every_child(demo: DemoRun) -> None:
    run_dir = Path(str(demo.state["run_dir"]))
    assert demo.stop(signal.SIGINT) == 0
    _assert_no_orphans(demo)
    output = "".join(demo.output) + _drain(demo)
    assert "stopping the demo services" in output
    # The run directory outlives the demo: configuration, logs and state can be read after.
    assert f"logs and configuration stay in {run_dir}" in output
    assert (run_dir / "federation.toml").is_file()
    assert (run_dir / "logs" / "spectral.log").stat().st_size > 0
    assert (run_dir / "logs" / "gateway.log").is_file()


def _drain(run: DemoRun) -> str:
    text: list[str] = []
    while True:
        try:
            line = run.lines.get_nowait()
        except queue.Empty:
            return "".join(text)
        if line is None:
            return "".join(text)
        text.append(line)


@pytest.mark.integration
def test_no_gateway_then_sigterm(start_demo: list[DemoRun]) -> None:
    run = _launch(start_demo, "--no-gateway", "--port", str(_free_port()))
    config = Path(str(run.state["federation_config"]))
    assert config.is_file()
    assert {b.name for b in load_settings(config).backends} == {"hsc", "rsp", "rsp_sia", "spec"}
    assert set(run.pids()) == {"hsc", "rsp_sia", "spec", "rsp"}
    assert run.stop(signal.SIGTERM) == 0
    _assert_no_orphans(run)
    assert config.is_file()  # the run directory is kept
