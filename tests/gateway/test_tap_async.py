"""Acceptance tests of ``/async`` (UWS 1.1 via TAP 1.1 §2.2) against a real uvicorn server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest

from tests.gateway.conftest import (
    UWS_NS,
    XLINK_NS,
    TapService,
    create_job,
    empty_job_database,
    error_message,
    job_document,
    job_phase,
    make_stars,
    read_votable,
    run_tap_service,
    threads_in_engine,
    wait_terminal,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tap_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TapService]:
    """The UWS tests run against both job stores: the embedded SQLite default and the
    PostgreSQL store that replicas share (jobs still run in the gateway process here)."""
    overrides = {}
    if request.param == "postgresql":
        overrides["job_database_url"] = empty_job_database(request.getfixturevalue("pg_database"))
    with run_tap_service(
        tmp_path_factory.mktemp(f"tap-{request.param}"), make_stars(), **overrides
    ) as service:
        yield service


COUNT_BRIGHT = "SELECT COUNT(*) AS n FROM demo.stars WHERE gmag < 19.5"


def slow_query(copies: int) -> str:
    """A CPU-bound COUNT over a 5000 x 5000 x ``copies`` cross join (about 0.9 s per copy)."""
    return (
        "SELECT COUNT(*) AS n FROM demo.stars AS a, demo.stars AS b, "
        f"(SELECT TOP {copies} id FROM demo.stars) AS c "
        "WHERE SIN(a.ra * b.dec + c.id) > COS(a.dec + b.ra)"
    )


def _bright_count(tap_service: TapService) -> int:
    gmag = tap_service.stars.gmag
    return int(np.count_nonzero(~np.isnan(gmag) & (gmag < 19.5)))


def _wait_until_idle(limit: float = 20.0) -> None:
    """Let any leftover engine thread finish so it does not slow the next tests."""
    deadline = time.monotonic() + limit
    while threads_in_engine() and time.monotonic() < deadline:
        time.sleep(0.1)


# ------------------------------------------------------------------ creation and job document


JOB_ORDER = [
    "jobId",
    "runId",
    "ownerId",
    "phase",
    "quote",
    "creationTime",
    "startTime",
    "endTime",
    "executionDuration",
    "destruction",
    "parameters",
    "results",
    "errorSummary",
    "jobInfo",
]
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")


def test_create_redirects_to_a_pending_job_with_every_required_element(
    tap_service: TapService,
) -> None:
    url = create_job(
        tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, RUNID="acceptance-1", MAXREC="10"
    )
    job_id = url.rsplit("/", 1)[1]
    root = job_document(url)
    assert root.get("version") == "1.1"
    tags = [child.tag.removeprefix(UWS_NS) for child in root]
    required = [
        "jobId",
        "ownerId",
        "phase",
        "creationTime",
        "startTime",
        "endTime",
        "executionDuration",
        "destruction",
        "results",
    ]
    for tag in required:
        assert tag in tags, f"missing uws:{tag}"
    assert tags == sorted(tags, key=JOB_ORDER.index), "children out of JobSummary order"
    assert root.findtext(f"{UWS_NS}jobId") == job_id
    assert root.findtext(f"{UWS_NS}runId") == "acceptance-1"
    assert root.findtext(f"{UWS_NS}phase") == "PENDING"
    creation = root.findtext(f"{UWS_NS}creationTime") or ""
    assert ISO_Z.match(creation), creation
    assert int(root.findtext(f"{UWS_NS}executionDuration") or "-1") == 60
    params = {p.get("id", "").upper(): p.text for p in root.iter(f"{UWS_NS}parameter")}
    assert params["QUERY"] == COUNT_BRIGHT
    assert params["LANG"] == "ADQL"
    assert params["MAXREC"] == "10"
    assert httpx.get(f"{url}/phase", timeout=10).text.strip() == "PENDING"
    # the job is listed
    listing = ET.fromstring(httpx.get(f"{tap_service.url}/async", timeout=10).content)
    assert job_id in {ref.get("id") for ref in listing.iter(f"{UWS_NS}jobref")}


def test_phase_run_in_the_creating_post_starts_the_job(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(url) == "COMPLETED"
    root = job_document(url)
    assert ISO_Z.match(root.findtext(f"{UWS_NS}startTime") or "")
    assert ISO_Z.match(root.findtext(f"{UWS_NS}endTime") or "")
    results = root.find(f"{UWS_NS}results")
    assert results is not None
    hrefs = {r.get("id"): r.get(f"{XLINK_NS}href") for r in results}
    assert hrefs["result"] == f"{url}/results/result"
    result = httpx.get(f"{url}/results/result", timeout=30)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/x-votable+xml")
    assert int(read_votable(result.content)["n"][0]) == _bright_count(tap_service)
    listed = ET.fromstring(httpx.get(f"{url}/results", timeout=10).content)
    sizes = [int(r.get("size", "-1")) for r in listed.iter(f"{UWS_NS}result")]
    assert sizes == [len(result.content)]


def test_post_phase_run_then_result_in_requested_format(tap_service: TapService) -> None:
    url = create_job(
        tap_service.url,
        LANG="ADQL",
        QUERY="SELECT id FROM demo.stars WHERE flags = 3 ORDER BY id",
        RESPONSEFORMAT="csv",
    )
    response = httpx.post(f"{url}/phase", data={"PHASE": "RUN"}, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == url
    assert wait_terminal(url) == "COMPLETED"
    result = httpx.get(f"{url}/results/result", timeout=30)
    assert result.headers["content-type"].startswith("text/csv")
    ids = [int(x) for x in result.text.split()[1:]]
    assert ids == [int(i) for i in tap_service.stars.id[tap_service.stars.flags == 3]]
    # RUN again on a finished job is refused
    again = httpx.post(f"{url}/phase", data={"PHASE": "RUN"}, timeout=10)
    assert again.status_code >= 400


def test_zero_row_result_still_exists(tap_service: TapService) -> None:
    url = create_job(
        tap_service.url, LANG="ADQL", QUERY="SELECT id FROM demo.stars WHERE ra > 400", PHASE="RUN"
    )
    assert wait_terminal(url) == "COMPLETED"
    result = httpx.get(f"{url}/results/result", timeout=30)
    assert result.status_code == 200
    assert len(read_votable(result.content)) == 0


def test_abort_pending_and_executing_jobs(tap_service: TapService) -> None:
    pending = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    response = httpx.post(f"{pending}/phase", data={"PHASE": "ABORT"}, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == pending
    assert job_phase(pending) == "ABORTED"

    running = create_job(tap_service.url, LANG="ADQL", QUERY=slow_query(3), PHASE="RUN")
    try:
        phase = job_phase(running, WAIT="5", PHASE="QUEUED")
        assert phase == "EXECUTING", phase
        response = httpx.post(f"{running}/phase", data={"PHASE": "abort"}, timeout=10)
        assert response.status_code == 303
        assert job_phase(running) == "ABORTED"
        time.sleep(0.5)
        assert job_phase(running) == "ABORTED", "an aborted job must not complete later"
    finally:
        _wait_until_idle()


# ------------------------------------------------------------------ WAIT


def test_wait_returns_at_once_for_a_finished_job(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(url) == "COMPLETED"
    start = time.monotonic()
    assert job_phase(url, WAIT="5") == "COMPLETED"
    assert time.monotonic() - start < 1.0


def test_wait_blocks_on_a_pending_job_until_the_timeout(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    start = time.monotonic()
    assert job_phase(url, WAIT="1.5") == "PENDING"
    elapsed = time.monotonic() - start
    assert 1.2 < elapsed < 4.0, elapsed
    # with PHASE given and the job not in that phase, WAIT returns at once
    start = time.monotonic()
    assert job_phase(url, WAIT="5", PHASE="EXECUTING") == "PENDING"
    assert time.monotonic() - start < 1.0


def test_wait_returns_soon_after_completion(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=slow_query(1), PHASE="RUN")
    try:
        start = time.monotonic()
        phase = job_phase(url)
        while phase not in {"COMPLETED", "ERROR", "ABORTED"}:
            assert time.monotonic() - start < 30
            phase = job_phase(url, WAIT="30")
        returned = datetime.now(UTC)
        assert phase == "COMPLETED"
        assert time.monotonic() - start < 25, "WAIT did not return when the phase changed"
        end = datetime.fromisoformat(job_document(url).findtext(f"{UWS_NS}endTime") or "")
        assert returned - end < timedelta(seconds=1.0), (returned, end)
    finally:
        _wait_until_idle()


# ------------------------------------------------------------------ job list filters


def _listed(tap_service: TapService, params: list[tuple[str, str]]) -> list[str]:
    response = httpx.get(f"{tap_service.url}/async", params=tuple(params), timeout=10)
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == f"{UWS_NS}jobs"
    assert root.get("version") == "1.1"
    return [ref.get("id", "") for ref in root.iter(f"{UWS_NS}jobref")]


def test_job_list_filters(tap_service: TapService) -> None:
    before = datetime.now(UTC)
    pending = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT).rsplit("/", 1)[1]
    time.sleep(0.05)
    failed_url = create_job(tap_service.url, LANG="ADQL", QUERY="SELECT FROM", PHASE="RUN")
    time.sleep(0.05)
    done_url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(failed_url) == "ERROR"
    assert wait_terminal(done_url) == "COMPLETED"
    failed, done = failed_url.rsplit("/", 1)[1], done_url.rsplit("/", 1)[1]
    ours = {pending, failed, done}

    only_pending = _listed(tap_service, [("PHASE", "PENDING")])
    assert pending in only_pending
    assert not {failed, done} & set(only_pending)
    union = set(_listed(tap_service, [("PHASE", "PENDING"), ("PHASE", "ERROR")]))
    assert {pending, failed} <= union
    assert done not in union
    after = _listed(tap_service, [("AFTER", before.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))])
    assert set(after) == ours, "AFTER lists exactly the jobs created since"
    last = _listed(tap_service, [("LAST", "2")])
    assert last == [done, failed], "LAST=n lists the n newest, newest first"
    both = _listed(tap_service, [("LAST", "3"), ("PHASE", "COMPLETED")])
    assert done in both
    assert not {pending, failed} & set(both)
    bad = httpx.get(f"{tap_service.url}/async", params={"LAST": "-1"}, timeout=10)
    assert bad.status_code == 400


# ------------------------------------------------------------------ job properties


def test_destruction_defaults_to_the_advertised_retention(tap_service: TapService) -> None:
    caps = ET.fromstring(httpx.get(f"{tap_service.url}/capabilities", timeout=10).content)
    retention = caps.find(".//retentionPeriod/default")
    assert retention is not None
    seconds = int(retention.text or "")
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    root = job_document(url)
    created = datetime.fromisoformat(root.findtext(f"{UWS_NS}creationTime") or "")
    destruction = datetime.fromisoformat(root.findtext(f"{UWS_NS}destruction") or "")
    assert destruction - created == timedelta(seconds=seconds)
    assert httpx.get(f"{url}/destruction", timeout=10).text.strip() == root.findtext(
        f"{UWS_NS}destruction"
    )


def test_execution_duration_and_destruction(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    assert httpx.get(f"{url}/executionduration", timeout=10).text.strip() == "60"
    response = httpx.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "30"}, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == url
    assert httpx.get(f"{url}/executionduration", timeout=10).text.strip() == "30"
    assert job_document(url).findtext(f"{UWS_NS}executionDuration") == "30"

    wanted = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    response = httpx.post(
        f"{url}/destruction",
        data={"DESTRUCTION": wanted.strftime("%Y-%m-%dT%H:%M:%SZ")},
        timeout=10,
    )
    assert response.status_code == 303
    text = httpx.get(f"{url}/destruction", timeout=10).text.strip()
    assert ISO_Z.match(text), text
    assert datetime.fromisoformat(text) == wanted
    assert job_document(url).findtext(f"{UWS_NS}destruction") == text
    bad = httpx.post(f"{url}/destruction", data={"DESTRUCTION": "next tuesday"}, timeout=10)
    assert bad.status_code == 400
    assert httpx.get(f"{url}/quote", timeout=10).status_code == 200

    # both properties may also be given when the job is created
    created = create_job(
        tap_service.url,
        LANG="ADQL",
        QUERY=COUNT_BRIGHT,
        EXECUTIONDURATION="17",
        DESTRUCTION=wanted.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    root = job_document(created)
    assert root.findtext(f"{UWS_NS}executionDuration") == "17"
    assert root.findtext(f"{UWS_NS}destruction") == text
    names = {p.get("id", "").upper() for p in root.iter(f"{UWS_NS}parameter")}
    assert not {"EXECUTIONDURATION", "DESTRUCTION"} & names
    assert httpx.get(f"{url}/owner", timeout=10).status_code == 200


def test_parameters_can_be_posted_only_while_pending(tap_service: TapService) -> None:
    url = create_job(tap_service.url)
    response = httpx.post(
        f"{url}/parameters", data={"LANG": "ADQL", "QUERY": COUNT_BRIGHT}, timeout=10
    )
    assert response.status_code == 303
    listed = ET.fromstring(httpx.get(f"{url}/parameters", timeout=10).content)
    params = {p.get("id", "").upper(): p.text for p in listed.iter(f"{UWS_NS}parameter")}
    assert params["QUERY"] == COUNT_BRIGHT
    assert httpx.post(f"{url}/phase", data={"PHASE": "RUN"}, timeout=10).status_code == 303
    assert wait_terminal(url) == "COMPLETED"
    result = httpx.get(f"{url}/results/result", timeout=30)
    assert int(read_votable(result.content)["n"][0]) == _bright_count(tap_service)
    late = httpx.post(f"{url}/parameters", data={"MAXREC": "1"}, timeout=10)
    assert late.status_code in {400, 403, 409}
    late_duration = httpx.post(
        f"{url}/executionduration", data={"EXECUTIONDURATION": "5"}, timeout=10
    )
    assert late_duration.status_code in {400, 403, 409}


def test_job_resource_refuses_job_parameters(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    response = httpx.post(url, data={"MAXREC": "3"}, timeout=10)
    assert response.status_code == 400


# ------------------------------------------------------------------ errors


def test_failed_job_has_an_error_document(tap_service: TapService) -> None:
    url = create_job(
        tap_service.url, LANG="ADQL", QUERY="SELECT id\nFROM demo.stars WHERE", PHASE="RUN"
    )
    assert wait_terminal(url) == "ERROR"
    root = job_document(url)
    summary = root.find(f"{UWS_NS}errorSummary")
    assert summary is not None
    assert summary.get("type") in {"fatal", "transient"}
    assert "line 2" in (summary.findtext(f"{UWS_NS}message") or "")
    response = httpx.get(f"{url}/error", timeout=10)
    assert response.status_code == 200
    assert "line 2" in error_message(response.content)
    # results/result of a failed job is the same error document (astroquery reads it there)
    result = httpx.get(f"{url}/results/result", timeout=10)
    assert result.status_code == 200
    assert result.content == response.content
    assert root.find(f"{UWS_NS}results/{UWS_NS}result") is None
    assert httpx.get(f"{url}/results/other", timeout=10).status_code == 404


def test_job_without_query_fails_at_run_time(tap_service: TapService) -> None:
    url = create_job(tap_service.url, LANG="ADQL", PHASE="RUN")
    assert wait_terminal(url) == "ERROR"
    assert "QUERY" in error_message(httpx.get(f"{url}/error", timeout=10).content)


def test_error_resource_is_404_for_jobs_without_error(tap_service: TapService) -> None:
    pending = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    assert httpx.get(f"{pending}/error", timeout=10).status_code == 404
    done = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(done) == "COMPLETED"
    assert httpx.get(f"{done}/error", timeout=10).status_code == 404


def test_unknown_job_and_children_are_404(tap_service: TapService) -> None:
    for path in ("nosuchjob", "nosuchjob/phase", "nosuchjob/results/result", "nosuchjob/error"):
        assert httpx.get(f"{tap_service.url}/async/{path}", timeout=10).status_code == 404
    done = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(done) == "COMPLETED"
    assert httpx.get(f"{done}/results/other", timeout=10).status_code == 404
    assert httpx.delete(f"{tap_service.url}/async/nosuchjob", timeout=10).status_code == 404


# ------------------------------------------------------------------ deletion


def test_delete_and_action_delete(tap_service: TapService) -> None:
    first = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT, PHASE="RUN")
    assert wait_terminal(first) == "COMPLETED"
    response = httpx.delete(first, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == f"{tap_service.url}/async"
    assert httpx.get(first, timeout=10).status_code == 404
    assert httpx.get(f"{first}/results/result", timeout=10).status_code == 404

    second = create_job(tap_service.url, LANG="ADQL", QUERY=COUNT_BRIGHT)
    response = httpx.post(second, data={"ACTION": "DELETE"}, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == f"{tap_service.url}/async"
    assert httpx.get(second, timeout=10).status_code == 404
    ids = _listed(tap_service, [])
    assert first.rsplit("/", 1)[1] not in ids
    assert second.rsplit("/", 1)[1] not in ids


# ------------------------------------------------------------------ execution duration


def test_execution_duration_is_enforced(tap_service: TapService) -> None:
    url = create_job(
        tap_service.url, LANG="ADQL", QUERY=slow_query(6), EXECUTIONDURATION="1", PHASE="RUN"
    )
    try:
        start = time.monotonic()
        assert job_document(url).findtext(f"{UWS_NS}executionDuration") == "1"
        assert wait_terminal(url, timeout=30) == "ERROR"
        assert time.monotonic() - start < 3.5, "the job ran past its execution duration"
        summary = job_document(url).find(f"{UWS_NS}errorSummary")
        assert summary is not None
        assert "execution duration" in (summary.findtext(f"{UWS_NS}message") or "")
    finally:
        _wait_until_idle()


def test_execution_duration_stops_the_engine(tap_service: TapService) -> None:
    url = create_job(
        tap_service.url, LANG="ADQL", QUERY=slow_query(6), EXECUTIONDURATION="1", PHASE="RUN"
    )
    try:
        assert wait_terminal(url, timeout=30) == "ERROR"
        time.sleep(0.5)
        assert threads_in_engine() == 0, "the engine still runs the query of the stopped job"
    finally:
        _wait_until_idle()
