"""What clients see of the federation's health: PARTIAL answers, job progress, availability.

Real servers on 127.0.0.1: the demo federation's stand-ins and ``rsp`` gateway, one backend
behind a :class:`tests.gateway.federation_servers.SwitchableBackend` where a test needs it to
stall or die, and the federating gateway. pyvo is the real client; expected row counts come
from the demo Parquet files through astropy, not through the gateway.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astroquery.utils.tap.core import TapPlus
from pyvo.dal.exceptions import DALOverflowWarning

from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from gateway.tap.uws_xml import JOB_INFO_NS
from standins.data import DemoData
from tests.gateway.conftest import UWS_NS, create_job, wait_terminal
from tests.gateway.federation_servers import (
    ECDFS,
    Federation,
    dead_url,
    serve_switchable,
)
from tests.live_server import reserve_port, serve_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.interop,
    # astroquery's TapPlus leaves its http.client sockets to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

AV = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
RADIUS = 0.03
ARCSEC = "1.0 / 3600"
HSC_CONE = f"CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(53.2, -28.1, {RADIUS})) = 1"
#: HSC sources near ECDFS with their spectra, if any (the spectral side may fail).
HSC_WITH_SPECTRA = (
    "SELECT h.MatchID, s.z FROM hscv3.summary AS h LEFT OUTER JOIN sdss_dr16.specobj AS s "
    f"ON CONTAINS(POINT(s.ra, s.dec), CIRCLE(h.MatchRA, h.MatchDec, {ARCSEC})) = 1 "
    f"WHERE {HSC_CONE}"
)


def hsc_in_cone(demo: DemoData) -> int:
    """HSC sources within RADIUS of the ECDFS centre, from the Parquet file (astropy)."""
    table = pq.read_table(demo.tables()["hscv3.summary"], columns=["MatchRA", "MatchDec"])
    ra = table.column("MatchRA").to_numpy()
    dec = table.column("MatchDec").to_numpy()
    centre = SkyCoord(ECDFS[0] * u.deg, ECDFS[1] * u.deg)
    return int((SkyCoord(ra * u.deg, dec * u.deg).separation(centre).deg <= RADIUS).sum())


@contextlib.contextmanager
def gateway(backends: list[BackendConfig], work: Path) -> Iterator[tuple[str, object]]:
    """The federating gateway over ``backends``; (TAP URL, its app)."""
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    app = build_app(GatewaySettings(base_url=base, data_dir=work / "gateway", backends=backends))
    with serve_app(app, sock=sock, lifespan="on"):
        yield base, app


def with_backend(
    federation: Federation, name: str, url: str, timeout: float
) -> list[BackendConfig]:
    """The demo backends with ``name`` at ``url`` and a short timeout for it alone."""
    return [
        b.model_copy(update={"url": url, "timeout_seconds": timeout}) if b.name == name else b
        for b in federation.backends()
    ]


def availability(tap: str) -> tuple[str, list[str]]:
    root = ET.fromstring(httpx.get(f"{tap}/availability", timeout=30).content)
    return root.findtext(f"{AV}available") or "", [n.text or "" for n in root.iter(f"{AV}note")]


def fetched(job_url: str) -> dict[str, int]:
    """The rows-fetched progress of a job document's jobInfo, by backend."""
    root = ET.fromstring(httpx.get(job_url, timeout=30).content)
    return {
        el.get("backend", ""): int(el.get("rows", "-1"))
        for el in root.iter(f"{{{JOB_INFO_NS}}}fetched")
    }


# ------------------------------------------------------------------ pyvo and PARTIAL


def test_pyvo_warns_on_a_partial_answer(
    federation: Federation, demo: DemoData, tmp_path: Path
) -> None:
    backends = federation.backends(spec=dead_url() + "/spec")
    with gateway(backends, tmp_path) as (tap, _):
        service = pyvo.dal.TAPService(tap)
        with pytest.warns(DALOverflowWarning):
            result = service.run_sync(HSC_WITH_SPECTRA, PARTIAL="true")
        assert result.query_status == "OVERFLOW"
        table = result.to_table()
        assert len(table) == hsc_in_cone(demo)
        assert np.all(np.ma.getmaskarray(table["z"]))
        # the async result file says the same
        with pytest.warns(DALOverflowWarning):
            job_result = service.run_async(HSC_WITH_SPECTRA, PARTIAL="true")
        assert job_result.query_status == "OVERFLOW"
        assert len(job_result.to_table()) == len(table)


def test_pyvo_is_quiet_on_a_complete_answer(federation: Federation, tmp_path: Path) -> None:
    with gateway(federation.backends(), tmp_path) as (tap, _):
        service = pyvo.dal.TAPService(tap)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DALOverflowWarning)
            result = service.run_sync(HSC_WITH_SPECTRA, PARTIAL="true")
        assert result.query_status == "OK"


def test_astroquery_reads_the_federated_tables(federation: Federation, tmp_path: Path) -> None:
    with gateway(federation.backends(), tmp_path) as (tap, _):
        tap_plus = TapPlus(url=tap, verbose=False)
        names = {t.get_qualified_name() for t in tap_plus.load_tables()}
        expected = {
            "hscv3.summary", "dp1.Object", "ivoa.ObsCore", "rsp_sia.obscore", "sdss_dr16.specobj",
        }  # fmt: skip
        assert expected <= names
        spec = tap_plus.load_table("sdss_dr16.specobj")
        schema = pyvo.dal.TAPService(tap).run_sync(
            "SELECT column_name FROM TAP_SCHEMA.columns "
            "WHERE table_name = 'sdss_dr16.specobj' ORDER BY column_index"
        )
        assert [c.name for c in spec.columns] == [str(n) for n in schema.to_table()["column_name"]]


# ------------------------------------------------------------------ async job progress


def test_job_document_shows_rows_fetched_per_backend(
    federation: Federation, demo: DemoData, tmp_path: Path
) -> None:
    expected_hsc = hsc_in_cone(demo)
    with (
        serve_switchable("spectral", demo, tmp_path / "spec") as (spec_url, switch),
        gateway(with_backend(federation, "spec", spec_url, 4.0), tmp_path) as (tap, _),
    ):
        # The spectral service stalls: HSC's rows are in, the job is still fetching.
        switch.fault, switch.params = "hang", {"delay": "10"}
        job = create_job(tap, LANG="ADQL", QUERY=HSC_WITH_SPECTRA, PARTIAL="true", PHASE="RUN")
        seen: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            root = ET.fromstring(httpx.get(job, timeout=30).content)
            if root.findtext(f"{UWS_NS}phase") != "EXECUTING":
                break
            seen = fetched(job)
            if seen:
                break
            time.sleep(0.05)
        assert seen == {"hsc": expected_hsc}
        assert ET.fromstring(httpx.get(job, timeout=30).content).findtext(f"{UWS_NS}phase") in {
            "QUEUED",
            "EXECUTING",
        }
        assert wait_terminal(job) == "COMPLETED"
        # The stalled backend never sent rows (its failure is in the result's INFOs).
        assert fetched(job) == {"hsc": expected_hsc}

        switch.fault = None
        done = create_job(tap, LANG="ADQL", QUERY=HSC_WITH_SPECTRA, PHASE="RUN")
        assert wait_terminal(done) == "COMPLETED"
        rows = fetched(done)
        assert rows["hsc"] == expected_hsc
        assert set(rows) == {"hsc", "spec"}
        assert rows["spec"] > 0


# ------------------------------------------------------------------ /availability


def test_availability_names_a_killed_backend(
    federation: Federation, demo: DemoData, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as spec_server:
        spec_url, _ = spec_server.enter_context(
            serve_switchable("spectral", demo, tmp_path / "spec")
        )
        with gateway(with_backend(federation, "spec", spec_url, 2.0), tmp_path) as (tap, app):
            app.state.gateway.health.ttl = 0.0  # type: ignore[attr-defined]  # probe each time
            available, notes = availability(tap)
            assert available == "true"
            assert notes == ["accepting queries; every backend answers"]

            spec_server.close()  # the spectral service goes away
            available, notes = availability(tap)
            assert available == "true"
            assert len(notes) == 2
            assert "PARTIAL=true" in notes[0]
            assert notes[1].startswith("backend 'spec' is down: cannot connect")


def test_availability_is_false_when_no_backend_answers(tmp_path: Path) -> None:
    backends = [
        BackendConfig(name="spec", kind="spectral", url=dead_url() + "/spec", context="sdss_dr16")
    ]
    with gateway(backends, tmp_path) as (tap, _):
        available, notes = availability(tap)
        assert available == "false"
        assert notes[0] == "no backend answers: every query would fail"
        assert notes[1].startswith("backend 'spec' is down")
        assert "127.0.0.1" not in notes[1]
