"""Fault matrix of the federation: each backend kind failing in each way, through the TAP service.

For every backend kind (hsc, tap, sia, spectral) the backend is served behind a
:class:`tests.gateway.federation_servers.SwitchableBackend`: healthy while the gateway starts
(its catalogue reads the backend's metadata), then switched to one fault of
:mod:`tests.gateway.fault_server` (or stopped: connection refused) while the other backends stay
healthy. Then, through ``/tap/sync`` and ``/tap/async``:

(a) a query on the failed backend is a DALI error (status per :func:`gateway.errors.classify`,
    QUERY_STATUS=ERROR) naming the backend and the cause (never its URL);
(b) a healthy-backend query right after succeeds;
(c) ``PARTIAL=true`` on a query over the failed and a healthy backend answers the healthy part
    plus one BACKEND_ERROR INFO naming the failed backend;
(d) an async job on the failed backend ends in ERROR within a bounded time.

The failed backend has a short ``timeout_seconds`` (the others a long one) to keep this fast.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pyarrow as pa
import pytest

from gateway.engine.local import LocalEngine
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from grammar import parse
from standins.data import DemoData, ensure_demo_data
from tests.gateway.conftest import (
    UWS_NS,
    create_job,
    error_message,
    read_votable,
    resource_sequence,
    wait_terminal,
)
from tests.gateway.federation_servers import (
    Federation,
    reference_engine,
    run_federation,
    serve_switchable,
)
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

FAULT_TIMEOUT = 0.5
"""``timeout_seconds`` of the failing backend (the healthy ones keep 30 s)."""
JOB_DEADLINE = 20.0
"""An async job on a failing backend must reach ERROR within this many seconds."""
ARCSEC = "1.0 / 3600"


@dataclass(frozen=True)
class Kind:
    """One backend kind of the demo federation and the queries that exercise it."""

    backend: str
    kind: str
    failing: str
    """A query touching only this backend."""
    healthy: str
    """A query touching only other backends."""
    partial: str
    """Healthy table LEFT OUTER JOIN this backend's table (this one's columns last)."""
    healthy_part: str
    """The healthy side of ``partial`` alone (its row count is the expected answer)."""
    failed_column: str
    """A column of ``partial`` from this backend (all NULL in the PARTIAL answer)."""
    malformed: str
    """The fault server's ``/malformed`` format matching the backend's answers."""


def cone(ra: str, dec: str, radius: float) -> str:
    return f"CONTAINS(POINT('ICRS', {ra}, {dec}), CIRCLE('ICRS', 53.2, -28.1, {radius})) = 1"


SPEC_CONE = "SELECT COUNT(*) AS n FROM sdss_dr16.specobj WHERE " + cone("ra", "dec", 0.3)
KINDS = {
    "hsc": Kind(
        "hsc", "hsc",
        failing="SELECT TOP 5 MatchID FROM hscv3.summary WHERE " + cone("MatchRA", "MatchDec", 0.02),
        healthy=SPEC_CONE,
        partial=(
            "SELECT s.bestobjid, h.MatchID FROM sdss_dr16.specobj AS s LEFT OUTER JOIN "
            "hscv3.summary AS h ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), "
            f"CIRCLE('ICRS', s.ra, s.dec, {ARCSEC})) = 1 WHERE " + cone("s.ra", "s.dec", 0.1)
        ),
        healthy_part="SELECT bestobjid FROM sdss_dr16.specobj WHERE " + cone("ra", "dec", 0.1),
        failed_column="MatchID",
        malformed="csv",
    ),
    "tap": Kind(
        "rsp", "tap",
        failing="SELECT TOP 5 objectId FROM dp1.Object WHERE g_cModelMag < 22",
        healthy=SPEC_CONE,
        partial=(
            "SELECT s.bestobjid, o.objectId FROM sdss_dr16.specobj AS s LEFT OUTER JOIN "
            "dp1.Object AS o ON DISTANCE(POINT('ICRS', o.coord_ra, o.coord_dec), "
            f"POINT('ICRS', s.ra, s.dec)) < {ARCSEC} WHERE " + cone("s.ra", "s.dec", 0.1)
        ),
        healthy_part="SELECT bestobjid FROM sdss_dr16.specobj WHERE " + cone("ra", "dec", 0.1),
        failed_column="objectId",
        malformed="votable",
    ),
    "sia": Kind(
        "rsp_sia", "sia",
        failing="SELECT obs_id FROM rsp_sia.obscore WHERE calib_level = 3",
        healthy=SPEC_CONE,
        partial=(
            "SELECT o.objectId, i.obs_id FROM dp1.Object AS o LEFT OUTER JOIN "
            "rsp_sia.obscore AS i ON o.patch = i.lsst_patch AND i.lsst_band = 'r' "
            "AND i.dataproduct_subtype = 'lsst.deep_coadd' WHERE "
            + cone("o.coord_ra", "o.coord_dec", 0.01)
        ),
        healthy_part="SELECT objectId FROM dp1.Object WHERE "
        + cone("coord_ra", "coord_dec", 0.01),
        failed_column="obs_id",
        malformed="votable",
    ),
    "spectral": Kind(
        "spec", "spectral",
        failing="SELECT specobjid, z FROM sdss_dr16.specobj WHERE " + cone("ra", "dec", 0.3),
        healthy="SELECT COUNT(*) AS n FROM dp1.Object WHERE g_cModelMag < 22",
        partial=(
            "SELECT h.MatchID, s.z FROM hscv3.summary AS h LEFT OUTER JOIN "
            "sdss_dr16.specobj AS s ON CONTAINS(POINT('ICRS', s.ra, s.dec), "
            f"CIRCLE('ICRS', h.MatchRA, h.MatchDec, {ARCSEC})) = 1 WHERE "
            + cone("h.MatchRA", "h.MatchDec", 0.03)
        ),
        healthy_part="SELECT MatchID FROM hscv3.summary WHERE "
        + cone("MatchRA", "MatchDec", 0.03),
        failed_column="z",
        malformed="csv",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """How the backend misbehaves, and what the client must be told."""

    route: str | None
    """Fault server route; None: the backend's server is stopped (connection refused)."""
    params: tuple[tuple[str, str], ...]
    status: int
    """HTTP status of the DALI error (503 transient, 502 not: gateway.errors.classify)."""
    cause: str
    """Regular expression the error message must match (the cause)."""


FAULTS = {
    "refused": Fault(None, (), 503, r"cannot connect"),
    "timeout": Fault("hang", (("delay", "10"),), 503, r"no answer within the 0\.5 s deadline"),
    "http500": Fault("status", (("code", "500"), ("body", "kaboom")), 502, r"HTTP 500: .*kaboom"),
    "malformed": Fault("malformed", (), 502, r"malformed answer"),
    "truncated": Fault("truncated", (), 503, r"truncated answer after \d+ bytes"),
    "drip": Fault(
        "drip", (("interval", "0.05"), ("count", "400")), 503,
        r"answer not complete within the 0\.5 s deadline .*slow or stalled stream",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def federation(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        yield fed


@pytest.fixture(scope="module")
def reference(demo: DemoData) -> Iterator[LocalEngine]:
    engine = reference_engine(demo)
    yield engine
    engine.close()


def settings_for(
    federation: Federation, kind: Kind, backend_url: str, port: int, work: Path
) -> GatewaySettings:
    """The demo federation with ``kind``'s backend at ``backend_url`` and a short timeout."""
    update = {"url": backend_url, "timeout_seconds": FAULT_TIMEOUT}
    backends = [
        b.model_copy(update=update) if b.name == kind.backend else b
        for b in federation.backends(sia_profile="rubin")
    ]
    return GatewaySettings(
        base_url=f"http://127.0.0.1:{port}/tap", data_dir=work / "gateway", backends=backends
    )


@contextlib.contextmanager
def faulty_gateway(
    federation: Federation, demo: DemoData, kind: Kind, fault: Fault, work: Path
) -> Iterator[tuple[str, str]]:
    """A gateway whose ``kind`` backend fails with ``fault``; (TAP URL, backend URL)."""
    with contextlib.ExitStack() as stack:
        backend_url, switch = stack.enter_context(serve_switchable(kind.kind, demo, work / "b"))
        sock = reserve_port()
        settings = settings_for(federation, kind, backend_url, sock.getsockname()[1], work)
        gateway = stack.enter_context(serve_app(build_app(settings), sock=sock, lifespan="on"))
        switch.fault = fault.route
        switch.params = dict(fault.params)
        if fault.route == "malformed":
            switch.params["fmt"] = kind.malformed
        yield gateway + "/tap", backend_url


@contextlib.contextmanager
def refused_gateway(
    federation: Federation, demo: DemoData, kind: Kind, work: Path
) -> Iterator[tuple[str, str]]:
    """A gateway started while the backend answered; the backend's server is then stopped."""
    backend = contextlib.ExitStack()
    backend_url, _ = backend.enter_context(serve_switchable(kind.kind, demo, work / "b"))
    try:
        sock = reserve_port()
        settings = settings_for(federation, kind, backend_url, sock.getsockname()[1], work)
        app = build_app(settings)
        with serve_app(app, sock=sock, lifespan="on") as gateway:
            # The catalogue was read at start-up; now the backend goes away: connections refused.
            backend.close()
            yield gateway + "/tap", backend_url
    finally:
        backend.close()


def gateway_for(
    federation: Federation, demo: DemoData, kind: Kind, fault: Fault, work: Path
) -> contextlib.AbstractContextManager[tuple[str, str]]:
    if fault.route is None:
        return refused_gateway(federation, demo, kind, work)
    return faulty_gateway(federation, demo, kind, fault, work)


def sync(base: str, adql: str, **extra: str) -> httpx.Response:
    data = {"LANG": "ADQL", "QUERY": adql, "MAXREC": "100000", **extra}
    return httpx.post(f"{base}/sync", data=data, timeout=60)


def backend_infos(body: bytes) -> list[tuple[str | None, str]]:
    return [(v, text) for tag, v, text in resource_sequence(body) if tag == "INFO:BACKEND_ERROR"]


def all_null(column: Any) -> bool:
    """Every cell NULL (astropy does not mask BINARY2 char NULLs: they read as "")."""
    mask = np.ma.getmaskarray(column)
    return all(m or v == "" for v, m in zip(np.asarray(column).tolist(), mask, strict=True))


def count_rows(engine: LocalEngine, adql: str) -> int:
    result = engine.execute(parse(adql))
    return sum(b.num_rows for b in result.batches)


def job_error(job_url: str) -> str:
    """The errorSummary message of a UWS job."""
    root = ET.fromstring(httpx.get(job_url, timeout=30).content)
    return root.findtext(f"{UWS_NS}errorSummary/{UWS_NS}message") or ""


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("kind_name", list(KINDS))
def test_fault_matrix(
    kind_name: str,
    fault_name: str,
    federation: Federation,
    demo: DemoData,
    reference: LocalEngine,
    tmp_path: Path,
) -> None:
    kind, fault = KINDS[kind_name], FAULTS[fault_name]
    expected_healthy_rows = count_rows(reference, kind.healthy_part)
    assert expected_healthy_rows > 0
    with gateway_for(federation, demo, kind, fault, tmp_path) as (tap, backend_url):
        started = time.monotonic()
        # (d) the async job first, so that it runs while the sync requests do.
        job = create_job(tap, LANG="ADQL", QUERY=kind.failing, PHASE="RUN")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            failing = pool.submit(sync, tap, kind.failing)
            partial = pool.submit(sync, tap, kind.partial, PARTIAL="true")
            failed, answer = failing.result(), partial.result()

        # (a) a DALI error naming the backend and the cause, not its (internal) URL.
        assert failed.status_code == fault.status, failed.text
        message = error_message(failed.content)
        assert f"backend '{kind.backend}'" in message, message
        assert backend_url.removeprefix("http://").split("/")[0] not in message, message
        assert re.search(fault.cause, message), message

        # (b) the gateway goes on serving: a query on healthy backends right after succeeds.
        healthy = sync(tap, kind.healthy)
        assert healthy.status_code == 200, healthy.text
        assert len(read_votable(healthy.content)) == 1

        # (c) PARTIAL=true: the healthy part, the failed side NULL, one INFO for the backend.
        assert answer.status_code == 200, answer.text
        table = read_votable(answer.content)
        assert len(table) == expected_healthy_rows
        assert all_null(table[kind.failed_column])
        infos = backend_infos(answer.content)
        assert len(infos) == 1, infos
        assert infos[0][0] == kind.backend
        assert backend_url.removeprefix("http://").split("/")[0] not in infos[0][1]

        # (d) the async job ends in ERROR, with the same kind of message, in bounded time.
        assert wait_terminal(job, timeout=JOB_DEADLINE) == "ERROR"
        assert time.monotonic() - started < JOB_DEADLINE
        summary = job_error(job)
        assert f"backend '{kind.backend}'" in summary, summary
        assert re.search(fault.cause, summary), summary
        error_doc = httpx.get(f"{job}/error", timeout=30)
        assert error_doc.status_code == 200
        assert f"backend '{kind.backend}'" in error_doc.text


def test_partial_result_rows_are_the_healthy_side(
    federation: Federation, demo: DemoData, reference: LocalEngine, tmp_path: Path
) -> None:
    """The PARTIAL answer's rows are exactly the healthy side's (not only as many)."""
    kind, fault = KINDS["spectral"], FAULTS["http500"]
    expected = pa.Table.from_batches(
        list(reference.execute(parse(kind.healthy_part)).batches)
    ).column("MatchID")
    with gateway_for(federation, demo, kind, fault, tmp_path) as (tap, _):
        answer = sync(tap, kind.partial, PARTIAL="true")
    assert answer.status_code == 200, answer.text
    got = read_votable(answer.content)["MatchID"]
    assert sorted(int(v) for v in got) == sorted(expected.to_pylist())
