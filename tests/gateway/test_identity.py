"""Users and job ownership over a real server: bearer tokens, an RFC 7662 introspection
service (itself a real HTTP server), a trusted proxy header, and per-user quotas."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Form

from tests.gateway.conftest import TapService, make_stars, run_tap_service, wait_terminal
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

QUERY = {"LANG": "ADQL", "QUERY": "SELECT TOP 3 id FROM demo.stars"}
TOKENS = {"tok-alice": "alice", "tok-bob": "bob"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(base: str, headers: dict[str, str], **extra: str) -> httpx.Response:
    return httpx.post(
        f"{base}/async",
        data={**QUERY, **extra},
        headers=headers,
        follow_redirects=False,
        timeout=30,
    )


@contextlib.contextmanager
def service(tmp_path: Path, **overrides: Any) -> Iterator[TapService]:
    with run_tap_service(tmp_path, make_stars(), **overrides) as tap:
        yield tap


def test_tokens_make_jobs_private(tmp_path):
    with service(tmp_path, identity="tokens", identity_tokens=TOKENS) as tap:
        made = create(tap.url, bearer("tok-alice"))
        assert made.status_code == 303
        job_url = made.headers["location"]
        job_id = job_url.rsplit("/", 1)[1]
        alice = httpx.get(job_url, headers=bearer("tok-alice"), timeout=30)
        assert alice.status_code == 200
        assert "<uws:ownerId>alice</uws:ownerId>" in alice.text
        # Bob does not see it: not in his list, 404 on the job and its resources.
        assert httpx.get(job_url, headers=bearer("tok-bob"), timeout=30).status_code == 404
        for part in ("phase", "results", "parameters", "error"):
            got = httpx.get(f"{job_url}/{part}", headers=bearer("tok-bob"), timeout=30)
            assert got.status_code == 404, part
        deleted = httpx.delete(job_url, headers=bearer("tok-bob"), timeout=30)
        assert deleted.status_code == 404
        assert job_id not in httpx.get(f"{tap.url}/async", headers=bearer("tok-bob")).text
        assert job_id in httpx.get(f"{tap.url}/async", headers=bearer("tok-alice")).text
        # No credentials, or wrong ones: 401 with a challenge and a DALI error document.
        for headers in ({}, bearer("nope"), {"Authorization": "Basic eDp5"}):
            refused = httpx.get(f"{tap.url}/async", headers=headers, timeout=30)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "QUERY_STATUS" in refused.text
        # The owner still runs and reads the job.
        run = httpx.post(f"{job_url}/phase", data={"PHASE": "RUN"}, headers=bearer("tok-alice"))
        assert run.status_code == 303


def test_quota_on_running_jobs_is_429(tmp_path):
    # About 0.9 s per row of c: long enough to still run when the second job comes.
    slow = (
        "SELECT COUNT(*) AS n FROM demo.stars AS a, demo.stars AS b, "
        "(SELECT TOP 8 id FROM demo.stars) AS c WHERE SIN(a.ra * b.dec + c.id) > COS(a.dec)"
    )
    with service(tmp_path, identity="tokens", identity_tokens=TOKENS, quota_running_jobs=1) as tap:
        first = create(tap.url, bearer("tok-alice"), QUERY=slow, PHASE="RUN")
        assert first.status_code == 303
        second = create(tap.url, bearer("tok-alice"), PHASE="RUN")
        assert second.status_code == 429
        assert "at most 1" in second.text
        # Another user's quota is their own.
        assert create(tap.url, bearer("tok-bob"), PHASE="RUN").status_code == 303
        aborted = httpx.post(
            f"{first.headers['location']}/phase", data={"PHASE": "ABORT"},
            headers=bearer("tok-alice"),
        )  # fmt: skip
        assert aborted.status_code == 303


def test_trusted_proxy_header_names_the_owner(tmp_path):
    with service(tmp_path, identity="header", identity_header="X-Auth-Request-User") as tap:
        made = create(tap.url, {"X-Auth-Request-User": "carol"})
        job_url = made.headers["location"]
        doc = httpx.get(job_url, headers={"X-Auth-Request-User": "carol"}).text
        assert "<uws:ownerId>carol</uws:ownerId>" in doc
        assert httpx.get(job_url, headers={"X-Auth-Request-User": "dave"}).status_code == 404
        assert httpx.get(job_url).status_code == 401


def introspection_app(seen: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/introspect")
    async def introspect(token: Annotated[str, Form()]) -> dict[str, Any]:
        seen.append(token)
        if token == "good":
            return {"active": True, "username": "erin"}
        return {"active": False}

    return app


def test_introspection_endpoint_decides(tmp_path):
    seen: list[str] = []
    with (
        serve_app(introspection_app(seen)) as idp,
        service(
            tmp_path, identity="introspection", identity_introspection_url=f"{idp}/introspect"
        ) as tap,
    ):
        made = create(tap.url, bearer("good"), PHASE="RUN")
        assert made.status_code == 303
        job_url = made.headers["location"]
        assert wait_terminal_with(job_url, bearer("good")) == "COMPLETED"
        assert "<uws:ownerId>erin</uws:ownerId>" in httpx.get(job_url, headers=bearer("good")).text
        assert create(tap.url, bearer("bad")).status_code == 401
    # Answers are cached: the good token was asked about once for several requests.
    assert seen.count("good") == 1
    assert "bad" in seen


def wait_terminal_with(job_url: str, headers: dict[str, str]) -> str:
    for _ in range(100):
        phase = httpx.get(f"{job_url}/phase", headers=headers, timeout=30).text
        if phase in {"COMPLETED", "ERROR", "ABORTED"}:
            return phase
        httpx.get(job_url, params={"WAIT": "2"}, headers=headers, timeout=30)
    return phase


def test_anonymous_service_keeps_working(tap_service):
    job_url = (
        httpx.post(
            f"{tap_service.url}/async", data={**QUERY, "PHASE": "RUN"}, timeout=30
        ).headers.get("location")
        or ""
    )
    assert job_url
    assert wait_terminal(job_url) == "COMPLETED"


def test_quota_on_kept_result_bytes_is_429(tmp_path):
    with service(tmp_path, identity="tokens", identity_tokens=TOKENS, quota_result_bytes=1) as tap:
        first = create(tap.url, bearer("tok-alice"), PHASE="RUN")
        job_url = first.headers["location"]
        assert wait_terminal_with(job_url, bearer("tok-alice")) == "COMPLETED"
        # Alice now keeps more than one byte of results: no more runs until she deletes.
        refused = create(tap.url, bearer("tok-alice"), PHASE="RUN")
        assert refused.status_code == 429
        assert "1-byte limit" in refused.text
        assert create(tap.url, bearer("tok-bob"), PHASE="RUN").status_code == 303
        assert httpx.delete(job_url, headers=bearer("tok-alice"), timeout=30).status_code == 303
        assert create(tap.url, bearer("tok-alice"), PHASE="RUN").status_code == 303
