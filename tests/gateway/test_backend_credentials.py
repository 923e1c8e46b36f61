"""Backend credentials through the real federation: a private spectral service on 127.0.0.1.

The spectral stand-in runs with ``require_token`` (HTTP 401 without the token); the HSC
stand-in runs behind a recorder of the headers it receives. Gateways with different
credential configurations query them over HTTP; the answer key for rows is pyarrow over the
demo Parquet file the stand-in serves.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gateway.query.log import LOGGER_NAME
from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from standins.data import DemoData
from standins.hsc import BASE_PATH, create_hsc_app
from standins.spectral import create_spectral_app
from tests.gateway.conftest import error_message, read_votable
from tests.gateway.federation_servers import rsp_settings
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

TOKEN = "dl-token-7f3a"
SPECTRA = "SELECT specobjid FROM sdss_dr16.specobj WHERE z > 0.5"
HSC = (
    "SELECT TOP 5 MatchID FROM hscv3.summary "
    "WHERE 1 = CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(53.2, -28.1, 0.05))"
)


class HeaderRecorder:
    """ASGI wrapper: keeps the headers of every request that reaches ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.seen.append({"path": scope["path"], **headers})
        await self.app(scope, receive, send)


class TokenGuard:
    """ASGI wrapper: a private TAP service, HTTP 401 on every route without the bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and dict(scope["headers"]).get(b"authorization") != self.expected
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"authentication required"})
            return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Backends:
    spec: str
    hsc: str
    hsc_recorder: HeaderRecorder
    rsp: str
    """A TAP service (a second gateway over the DP1 tables) that wants TOKEN everywhere."""


@pytest.fixture(scope="module")
def backends(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    recorder = HeaderRecorder(create_hsc_app(demo))
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    rsp = build_app(rsp_settings(demo, tmp_path_factory.mktemp("rsp"), base))
    with (
        serve_app(create_spectral_app(demo, require_token=TOKEN)) as spec,
        serve_app(recorder) as hsc,
        serve_app(TokenGuard(rsp, TOKEN), sock=sock, lifespan="on"),
    ):
        yield Backends(spec + "/spec", hsc + BASE_PATH, recorder, base)


@contextlib.contextmanager
def gateway(tmp: Any, *backends: BackendConfig) -> Iterator[httpx.Client]:
    sock = reserve_port()
    settings = GatewaySettings(
        base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/tap",
        data_dir=tmp,
        backends=list(backends),
    )
    with (
        serve_app(build_app(settings), sock=sock, lifespan="on") as url,
        httpx.Client(base_url=url + "/tap", timeout=120) as client,
    ):
        yield client


def spec_backend(url: str, **credentials: Any) -> BackendConfig:
    return BackendConfig(name="spec", kind="spectral", url=url, context="sdss_dr16", **credentials)


def sync(client: httpx.Client, query: str, **headers: str) -> httpx.Response:
    return client.post("/sync", data={"LANG": "ADQL", "QUERY": query}, headers=headers)


def expected_spectra(demo: DemoData) -> list[int]:
    """The independent answer: the stand-in's own Parquet file filtered with pyarrow."""
    table = pq.read_table(demo.tables()["sdss_dr16.specobj"], columns=["specobjid", "z"])
    chosen = table.filter(pc.greater(table["z"], 0.5))
    return sorted(int(v) for v in chosen["specobjid"].to_pylist())


def rows(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return sorted(int(v) for v in read_votable(response.content)["specobjid"])


def assert_auth_error(response: httpx.Response, *, secret: str = TOKEN) -> str:
    """A DALI error naming the backend and authentication, with no URL and no secret."""
    assert response.status_code == 502, response.text
    message = error_message(response.content)
    assert "backend 'spec'" in message
    assert "authentication required" in message
    assert "://" not in message
    assert "127.0.0.1" not in message
    assert secret not in message
    return message


def test_token_from_the_environment_opens_the_private_service(
    backends: Backends,
    demo: DemoData,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPEC_TEST_TOKEN", TOKEN)
    config = spec_backend(backends.spec, token_env="SPEC_TEST_TOKEN")
    with gateway(tmp_path, config) as client:
        assert rows(sync(client, SPECTRA)) == expected_spectra(demo)


def test_token_in_the_file_as_a_bearer_token(
    backends: Backends, demo: DemoData, tmp_path: Any
) -> None:
    config = spec_backend(backends.spec, auth="bearer", token=TOKEN)
    with gateway(tmp_path, config) as client:
        assert rows(sync(client, SPECTRA)) == expected_spectra(demo)


def test_missing_credentials_give_a_clear_error_naming_the_backend(
    backends: Backends, tmp_path: Any
) -> None:
    with gateway(tmp_path, spec_backend(backends.spec)) as client:
        message = assert_auth_error(sync(client, SPECTRA))
        assert "no credentials" in message
        # The client's header is not passed on to a backend that is not configured for it.
        message = assert_auth_error(sync(client, SPECTRA, authorization=f"Bearer {TOKEN}"))
        assert "no credentials" in message


def test_wrong_configured_token_is_refused_without_quoting_it(
    backends: Backends, tmp_path: Any
) -> None:
    config = spec_backend(backends.spec, token="not-the-token")
    with gateway(tmp_path, config) as client:
        message = assert_auth_error(sync(client, SPECTRA), secret="not-the-token")
        assert "configured credentials" in message


def test_client_authorization_goes_only_where_configured(
    backends: Backends, demo: DemoData, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    spec = spec_backend(backends.spec, forward_authorization=True)
    hsc = BackendConfig(name="hsc", kind="hsc", url=backends.hsc)
    with gateway(tmp_path, spec, hsc) as client:
        bearer = f"Bearer {TOKEN}"
        expected = expected_spectra(demo)
        assert rows(sync(client, SPECTRA, authorization=bearer)) == expected
        assert f"backends=spec:{len(expected)} rows={len(expected)} " in caplog.text
        before = len(backends.hsc_recorder.seen)
        answer = sync(client, HSC, authorization=bearer)
        assert answer.status_code == 200, answer.text
        queried = backends.hsc_recorder.seen[before:]
        assert queried, "the HSC backend was not asked"
        assert all("authorization" not in headers for headers in queried)
        message = assert_auth_error(sync(client, SPECTRA, authorization="Bearer wrong-one"))
        assert "the client's Authorization header" in message
        assert "wrong-one" not in message
        assert "no credentials" in assert_auth_error(sync(client, SPECTRA))
    # Credentials are never logged, whatever happened to the request.
    assert "outcome=ERROR error=BackendError" in caplog.text
    assert TOKEN not in caplog.text
    assert "wrong-one" not in caplog.text


FIRST_OBJECTS = "SELECT TOP 5 objectId FROM dp1.Object ORDER BY objectId"


def test_private_tap_backend_gets_its_token_for_metadata_and_queries(
    backends: Backends, demo: DemoData, tmp_path: Any
) -> None:
    rsp = BackendConfig(name="rsp", kind="tap", url=backends.rsp, token=TOKEN)
    with gateway(tmp_path, rsp) as client:
        response = sync(client, FIRST_OBJECTS)
        assert response.status_code == 200, response.text
        got = [int(v) for v in read_votable(response.content)["objectId"]]
    table = pq.read_table(demo.tables()["dp1.Object"], columns=["objectId"])
    assert got == sorted(int(v) for v in table["objectId"].to_pylist())[:5]


def test_private_tap_backend_without_token_has_no_tables(backends: Backends, tmp_path: Any) -> None:
    rsp = BackendConfig(name="rsp", kind="tap", url=backends.rsp)
    with gateway(tmp_path, rsp) as client:
        response = sync(client, FIRST_OBJECTS)
        assert response.status_code == 400, response.text
        assert "dp1.Object" in error_message(response.content)
