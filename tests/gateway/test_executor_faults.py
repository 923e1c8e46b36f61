"""The executor's fault matrix against tests/gateway/fault_server.py on 127.0.0.1.

Each fault must give the right BackendError quickly (elapsed bounds asserted), and the same
executor must then still serve a healthy request.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.errors import BackendError
from gateway.federation.executor import Executor, ExecutorOptions, FetchedTable
from gateway.federation.retry import RetryPolicy
from gateway.settings import BackendConfig
from planners.base import BackendRequest, Paging
from tests.gateway.fault_server import FaultServer
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

OPTIONS = ExecutorOptions(
    retry=RetryPolicy(
        attempts=3, base_delay=0.05, max_delay=0.2, max_total=6.0, max_retry_after=2.0
    ),
    connect_timeout=1.0,
    read_timeout=0.4,
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_app(FaultServer()) as url:
        yield url


def backend(url: str, **kw: Any) -> BackendConfig:
    settings: dict[str, Any] = {"name": "faulty", "kind": "hsc", "url": url, "timeout_seconds": 1.0}
    return BackendConfig(**(settings | kw))


def get(url: str, fmt: str = "csv", /, **params: str) -> BackendRequest:
    return BackendRequest("GET", url, tuple(params.items()), response_format=fmt)


def stats(server: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{server}/stats").json()
    return result


async def fetch_then_healthy(
    ex: Executor, server: str, request: BackendRequest
) -> tuple[BackendError | FetchedTable, float]:
    """Fetch ``request``; then check a healthy request still works on the same executor."""
    started = time.monotonic()
    try:
        outcome: BackendError | FetchedTable = await ex.fetch("faulty", request)
    except BackendError as error:
        outcome = error
    elapsed = time.monotonic() - started
    healthy = await ex.fetch("faulty", get(f"{server}/csv"))
    assert healthy.num_rows == 3
    return outcome, elapsed


def run(
    server: str, request: BackendRequest, **kw: Any
) -> tuple[BackendError | FetchedTable, float]:
    async def main() -> tuple[BackendError | FetchedTable, float]:
        async with Executor([backend(server, **kw)], OPTIONS) as ex:
            return await fetch_then_healthy(ex, server, request)

    return asyncio.run(main())


# (case, path + query, format, transient, words in the cause, max seconds)
FAILURES = [
    ("timeout", "/hang?delay=5", "csv", True, "timed out", 3.0),
    ("http500", "/flaky?key=k500&fail=1&code=500", "csv", False, "HTTP 500: busy", 1.0),
    ("http400", "/flaky?key=k400&fail=1&code=400", "csv", False, "HTTP 400: busy", 1.0),
    ("503 every time", "/status?code=503&body=down", "csv", True, "HTTP 503: down", 2.0),
    ("429 too long", "/flaky?key=k429x&fail=1&code=429&retry_after=60", "csv", True, "429", 1.0),
    ("malformed csv", "/malformed?fmt=csv", "csv", False, "malformed CSV", 1.0),
    ("malformed json", "/malformed?fmt=json", "json", False, "malformed JSON", 1.0),
    ("malformed votable", "/malformed?fmt=votable", "votable", False, "VOTable", 1.0),
    ("malformed npy", "/malformed?fmt=npy", "npy", False, "malformed .npy", 1.0),
    ("truncated", "/truncated", "csv", True, "truncated answer", 1.0),
    ("votable cut", "/votable_cut", "votable", False, "truncated VOTable", 1.0),
    ("slow drip", "/drip?interval=0.05&count=400", "csv", True, "deadline", 2.0),
    ("status error", "/votable_error", "votable", False, "Query failed: table gone", 1.0),
    ("json error", "/status?code=404&type=application/json&body=%7B%22error%22:%22no%20such%20table%22%7D",
     "json", False, "HTTP 404: no such table", 1.0),
    ("redirect", "/redirect", "csv", False, "not followed", 1.0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "fmt", "transient", "words", "limit"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILURES],
)
def test_fault_gives_backend_error(
    server: str, path: str, fmt: str, transient: bool, words: str, limit: float
) -> None:
    base, _, query = path.partition("?")
    params = dict(httpx.QueryParams(query))
    outcome, elapsed = run(server, get(server + base, fmt, **params))
    assert isinstance(outcome, BackendError), outcome
    assert outcome.backend == "faulty"
    assert outcome.url == server + base  # no query string, no credentials
    assert outcome.transient is transient
    assert words in outcome.cause
    assert elapsed < limit, f"{elapsed:.2f} s"


def test_refused_connection(server: str) -> None:
    sock = reserve_port()
    closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there now

    async def main() -> tuple[BackendError, float]:
        configs = [backend(server), backend(closed, name="gone")]
        async with Executor(configs, OPTIONS) as ex:
            started = time.monotonic()
            with pytest.raises(BackendError) as info:
                await ex.fetch("gone", get(f"{closed}/csv"))
            elapsed = time.monotonic() - started
            assert (await ex.fetch("faulty", get(f"{server}/csv"))).num_rows == 3
            return info.value, elapsed

    error, elapsed = asyncio.run(main())
    assert error.transient
    assert error.backend == "gone"
    assert "cannot connect" in error.cause
    assert elapsed < 2.0


def test_no_retry_on_4xx_and_500(server: str) -> None:
    run(server, get(f"{server}/flaky", key="n400", fail="1", code="400"))
    run(server, get(f"{server}/flaky", key="n500", fail="1", code="500"))
    hits = stats(server)["hits"]
    assert hits["n400"] == 1  # a retry would have succeeded: there was none
    assert hits["n500"] == 1


def test_503_then_200_is_retried(server: str) -> None:
    outcome, elapsed = run(server, get(f"{server}/flaky", key="r503", fail="2", code="503"))
    assert isinstance(outcome, FetchedTable)
    assert outcome.num_rows == 3
    assert stats(server)["hits"]["r503"] == 3
    assert elapsed < 1.5


def test_429_honours_retry_after(server: str) -> None:
    request = get(f"{server}/flaky", key="r429", fail="1", code="429", retry_after="1")
    outcome, elapsed = run(server, request)
    assert isinstance(outcome, FetchedTable)
    assert 0.9 <= elapsed < 2.0


def test_overflow_flag_from_trailing_info(server: str) -> None:
    outcome, _ = run(server, get(f"{server}/votable", "votable", overflow="1"))
    assert isinstance(outcome, FetchedTable)
    assert outcome.overflow
    assert outcome.table.column("id").to_pylist() == [0, 1, 2]
    assert [c.datatype for c in outcome.columns] == ["long", "char"]


def test_url_outside_backend_is_refused(server: str) -> None:
    outcome, elapsed = run(server, get("http://127.0.0.2:9/csv"))
    assert isinstance(outcome, BackendError)
    assert "outside the configured backend" in outcome.cause
    assert elapsed < 0.5


def test_concurrency_limit_is_never_exceeded(server: str) -> None:
    httpx.get(f"{server}/reset")

    async def main() -> None:
        async with Executor([backend(server, max_concurrency=3)], OPTIONS) as ex:
            request = get(f"{server}/slow", delay="0.15")
            results = await asyncio.gather(*(ex.fetch("faulty", request) for _ in range(12)))
            assert all(r.num_rows == 3 for r in results)

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    assert stats(server)["peak"] == 3
    assert elapsed >= 4 * 0.15  # 12 requests, 3 at a time


# --------------------------------------------------------------------------- paging


def paged(server: str, total: int, pagesize: int, **extra: str) -> BackendRequest:
    params = (("total", str(total)), ("pagesize", str(pagesize)), ("page", "1"), *extra.items())
    return BackendRequest(
        "GET", f"{server}/paged", params, paging=Paging(1, pagesize, may_overflow=True)
    )


@pytest.mark.parametrize(("total", "pages"), [(25, 3), (20, 3), (7, 1), (0, 1)])
def test_paging_collects_every_row_in_order(server: str, total: int, pages: int) -> None:
    outcome, _ = run(server, paged(server, total, 10))
    assert isinstance(outcome, FetchedTable)
    assert outcome.table.column("id").to_pylist() == list(range(total))
    assert outcome.pages == pages
    assert not outcome.overflow


def test_paging_cap_reports_overflow(server: str) -> None:
    async def main() -> FetchedTable:
        options = ExecutorOptions(retry=OPTIONS.retry, max_rows=15)
        async with Executor([backend(server)], options) as ex:
            return await ex.fetch("faulty", paged(server, 100, 10))

    result = asyncio.run(main())
    assert result.overflow
    assert result.table.column("id").to_pylist() == list(range(15))


def test_paging_failure_names_the_page_error(server: str) -> None:
    outcome, _ = run(server, paged(server, 100, 10, fail_page="3"))
    assert isinstance(outcome, BackendError)
    assert "HTTP 500: page store exploded" in outcome.cause


# --------------------------------------------------------------------------- credentials


def echo(server: str, kind: str, *, env: dict[str, str], **kw: Any) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        config = backend(server, kind=kind, **kw)
        async with Executor([config], OPTIONS, environ=env) as ex:
            result = await ex.fetch(
                "faulty", get(f"{server}/echo"), run_id="job-7", authorization="Basic dXNlcg=="
            )
            row: dict[str, Any] = result.table.to_pylist()[0]
            return row

    return asyncio.run(main())


def test_tap_gets_bearer_token_and_runid_param(server: str) -> None:
    row = echo(server, "tap", env={"FAULT_TOKEN": "s3cret"}, token_env="FAULT_TOKEN")
    assert row == {
        "authorization": "Bearer s3cret",
        "x_runid": None,
        "x_dl_authtoken": None,
        "runid": "job-7",
    }


def test_spectral_gets_datalab_token_and_runid_header(server: str) -> None:
    row = echo(server, "spectral", env={"DL_TOKEN": "u.1.2.h"}, token_env="DL_TOKEN")
    assert row["x_dl_authtoken"] == "u.1.2.h"
    assert row["x_runid"] == "job-7"
    assert row["runid"] is None
    assert row["authorization"] is None  # the client's header is not forwarded by default


def test_client_authorization_only_where_configured(server: str) -> None:
    row = echo(server, "sia", env={}, forward_authorization=True)
    assert row["authorization"] == "Basic dXNlcg=="
    assert row["runid"] == "job-7"


def test_basic_credentials_with_the_password_from_the_environment(server: str) -> None:
    row = echo(server, "tap", env={"PW": "pa:ss"}, auth="basic", username="ann", password_env="PW")
    scheme, _, encoded = row["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"ann:pa:ss"  # RFC 7617: split at the first colon


def test_datalab_token_to_a_tap_backend_when_asked(server: str) -> None:
    row = echo(server, "tap", env={}, auth="datalab", token="t.1")
    assert row["x_dl_authtoken"] == "t.1"
    assert row["authorization"] is None


def test_forwarded_authorization_replaces_the_configured_one(server: str) -> None:
    row = echo(server, "tap", env={}, token="own", forward_authorization=True)
    assert row["authorization"] == "Basic dXNlcg=="


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"token": "a", "token_env": "B"}, "token or token_env, not both"),
        ({"auth": "basic", "username": "u"}, "needs username and password"),
        ({"auth": "basic", "username": "u", "password": "p", "token": "t"}, "not a token"),
        ({"username": "u", "password": "p"}, "are for auth = basic"),
        ({"auth": "bearer"}, "needs token or token_env"),
    ],
)
def test_inconsistent_credentials_are_refused(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        backend("http://127.0.0.1:1", **settings)


def test_secrets_stay_out_of_the_settings_repr() -> None:
    config = backend("http://127.0.0.1:1", auth="basic", username="u", password="hunter2")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.model_dump())


def test_missing_password_variable_fails_at_start() -> None:
    config = backend("http://127.0.0.1:1", auth="basic", username="u", password_env="NO_SUCH_PW")
    with pytest.raises(ValueError, match="backend 'faulty': environment variable NO_SUCH_PW"):
        Executor([config], environ={})


def test_missing_token_variable_fails_at_start() -> None:
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        Executor([backend("http://127.0.0.1:1", token_env="NOT_SET_ANYWHERE")], environ={})
