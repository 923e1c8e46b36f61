"""Bad queries through the federated gateway: DALI errors with positions, backend named.

The demo federation runs on 127.0.0.1 (stand-ins plus ``rsp``, a second gateway that is the
federation's TAP backend). Type mistakes are caught by the federated binder from the
catalogue's own column types (HSC ``/metadata``, the TAP backend's ``/tables``, the spectral
catalogue), before any backend is asked. A runtime fault found by the TAP backend comes
back as a 400 DALI error naming the backend (not its URL) with the backend's message. Every
error leaves the kept-alive connection usable.
"""

from __future__ import annotations

import gc
import io
import re
from collections.abc import Iterator

import httpx
import pytest
import pyvo
import requests
from astropy.io.votable import parse

from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from tests.gateway.conftest import error_message, read_votable
from tests.gateway.federation_servers import Federation
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

CONE = "1 = CONTAINS(POINT({ra}, {dec}), CIRCLE(53.2, -28.1, 0.05))"
FOLLOW_UP = "SELECT TOP 2 objectId FROM dp1.Object ORDER BY objectId"


@pytest.fixture(scope="module")
def gateway(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sock = reserve_port()  # the base URL (job URLs) must be known before the app starts
    settings = GatewaySettings(
        base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/tap",
        data_dir=tmp_path_factory.mktemp("gateway"),
        backends=federation.backends(),
    )
    with serve_app(build_app(settings), sock=sock, lifespan="on") as url:
        yield url + "/tap"


@pytest.fixture(scope="module")
def client(gateway: str) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=gateway, timeout=120, limits=limits) as c:
        yield c


def sync(client: httpx.Client, query: str) -> httpx.Response:
    return client.post("/sync", data={"LANG": "ADQL", "QUERY": query})


def dali_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    votable = parse(io.BytesIO(response.content))
    statuses = [i.value for r in votable.resources for i in r.infos if i.name == "QUERY_STATUS"]
    assert statuses == ["ERROR"], response.text
    return error_message(response.content)


def assert_follow_up_works(client: httpx.Client) -> None:
    response = sync(client, FOLLOW_UP)
    assert response.status_code == 200, response.text
    assert len(read_votable(response.content)) == 2


@pytest.mark.parametrize(
    ("query", "pattern"),
    [
        pytest.param(
            f"SELECT MatchID FROM hscv3.summary WHERE CI LIKE '1%' AND "
            f"{CONE.format(ra='MatchRA', dec='MatchDec')}",
            r"LIKE needs character strings, but CI is a number .* at line 1, column 41",
            id="hsc-like-on-number",
        ),
        pytest.param(
            "SELECT specobjid FROM sdss_dr16.specobj\nWHERE z = 'abc'",
            r"Cannot compare z, a number .* with 'abc', a character string .* line 2, column 7",
            id="spectral-number-vs-string",
        ),
        pytest.param(
            "SELECT LOWER(z) FROM sdss_dr16.specobj",
            r"LOWER needs a character string, but z is a number .* line 1, column 14",
            id="spectral-lower-of-number",
        ),
        pytest.param(
            "SELECT h.MatchID FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s\n"
            "  ON h.MatchID = s.class WHERE " + CONE.format(ra="h.MatchRA", dec="h.MatchDec"),
            r"Cannot compare h\.MatchID, a number .* with s\.class, a character string "
            r".* line 2, column 6",
            id="cross-service-join-types",
        ),
        pytest.param(
            "SELECT objectId + refBand FROM dp1.Object",
            r"the operator '\+' needs numbers, but refBand is a character string .* column 19",
            id="tap-arithmetic-on-string",
        ),
        pytest.param(
            "SELECT obs_id FROM rsp_sia.obscore WHERE CONTAINS(s_ra, s_region) = 1",
            r"CONTAINS needs geometries .* but s_ra is a number .* column 51",
            id="sia-geometry-function-on-number",
        ),
    ],
)
def test_type_mistakes_are_caught_at_bind_time(
    client: httpx.Client, query: str, pattern: str
) -> None:
    message = dali_error(sync(client, query), 400)
    assert re.search(pattern, message, re.DOTALL), message
    assert_follow_up_works(client)


@pytest.mark.parametrize(
    ("query", "pattern"),
    [
        pytest.param(
            "SELECT objectId,\n  objectId / (objectId - objectId) FROM dp1.Object",
            r"division by zero.*, in objectId / \(objectId - objectId\) at line 2, column 3$",
            id="division-by-zero",
        ),
        pytest.param(
            "SELECT TOP 5\n  objectId, CAST(refBand AS INTEGER) FROM dp1.Object",
            r"conversion failed.*, in CAST\(refBand AS INTEGER\) at line 2, column 13$",
            id="bad-cast",
        ),
        pytest.param(
            "SELECT objectId / (objectId - objectId), 1 / (objectId - objectId) FROM dp1.Object",
            r"division by zero",
            id="two-candidates",
        ),
    ],
)
def test_runtime_faults_of_the_tap_backend_are_400_naming_the_backend(
    client: httpx.Client, federation: Federation, query: str, pattern: str
) -> None:
    """The backend's message, placed in the query as the user wrote it (when certain)."""
    message = dali_error(sync(client, query), 400)
    assert "backend 'rsp' failed: HTTP 400" in message, message
    assert re.search(pattern, message), message
    # The backend's own position is in the query it was sent, not the user's: never both.
    assert message.count(" at line ") <= 1, message
    host = federation.rsp.removeprefix("http://").split("/")[0]
    assert host not in message, message
    assert "http://" not in message, message
    assert_follow_up_works(client)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT MatchID / (NumImages - NumImages) FROM hscv3.summary WHERE "
        + CONE.format(ra="MatchRA", dec="MatchDec"),
        "SELECT h.MatchID, MOD(h.NumImages, s.zwarning - s.zwarning) FROM hscv3.summary AS h "
        "JOIN sdss_dr16.specobj AS s ON 1 = CONTAINS(POINT(s.ra, s.dec), "
        "CIRCLE(h.MatchRA, h.MatchDec, 0.001)) WHERE "
        + CONE.format(ra="h.MatchRA", dec="h.MatchDec"),
    ],
    ids=["rest-backend-residual", "cross-service-join"],
)
def test_runtime_faults_of_the_gateway_engine_are_400(client: httpx.Client, query: str) -> None:
    message = dali_error(sync(client, query), 400)
    assert message.startswith("division by zero"), message
    assert_follow_up_works(client)


# pyvo's job objects leave sockets to the garbage collector (as in test_tap_clients).
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pyvo_sees_the_errors(gateway: str) -> None:
    with requests.Session() as session:
        service = pyvo.dal.TAPService(gateway, session=session)
        with pytest.raises(pyvo.dal.DALQueryError, match=r"LOWER needs a character string"):
            service.run_sync("SELECT LOWER(z) FROM sdss_dr16.specobj")
        with pytest.raises(pyvo.dal.DALQueryError, match=r"backend 'rsp'.*division by zero"):
            service.run_sync("SELECT objectId / (objectId - objectId) FROM dp1.Object")
        job = service.submit_job("SELECT objectId / (objectId - objectId) FROM dp1.Object")
        job.run()
        job.wait(phases={"COMPLETED", "ERROR", "ABORTED"}, timeout=120)
        assert job.phase == "ERROR"
        with pytest.raises(pyvo.dal.DALQueryError, match=r"division by zero"):
            job.raise_if_error()
        job.delete()
        assert len(service.run_sync(FOLLOW_UP)) == 2
    gc.collect()  # pyvo's stray sockets are reported here, under this test's filters


def test_valid_federated_queries_still_run(client: httpx.Client) -> None:
    queries = [
        # An unsigned 64-bit id (char in TAP_SCHEMA) is an ADQL integer.
        "SELECT TOP 3 specobjid FROM sdss_dr16.specobj WHERE specobjid > 0",
        (
            "SELECT TOP 3 objectId, COALESCE(g_cModelMag, 0) AS g FROM dp1.Object "
            "WHERE refBand = 'r' AND objectId > 1.5"
        ),
        "SELECT TOP 3 obs_id FROM rsp_sia.obscore WHERE CONTAINS(POINT(53.2, -28.1), s_region) = 1",
    ]
    for query in queries:
        response = sync(client, query)
        assert response.status_code == 200, (query, response.text)
