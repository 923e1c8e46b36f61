"""Real TAP clients against the service: pyvo and astroquery's TapPlus (no mocks)."""

from __future__ import annotations

import gc
import http.client
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import pyvo
import requests
from astropy.table import Table
from astroquery.utils.tap.core import TapPlus

from tests.gateway.conftest import TapService, cone_mask

pytestmark = [
    pytest.mark.integration,
    pytest.mark.interop,
    # astroquery's TapPlus leaves its http.client sockets to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def _collect_leaked_sockets() -> Iterator[None]:
    """Collect the clients' unclosed sockets here, where their warnings are ignored."""
    yield
    gc.collect()


CONE = (
    "SELECT TOP 10 id, ra, dec, gmag FROM demo.stars "
    "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 10, 0.3)) ORDER BY id"
)
COUNT = "SELECT COUNT(*) AS n FROM demo.stars WHERE flags >= 8"
UPLOAD_JOIN = (
    "SELECT u.name, s.id FROM demo.stars AS s JOIN TAP_UPLOAD.mine AS u "
    "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra, u.dec, 0.2))"
)


def _upload_table() -> Table:
    return Table(
        {
            "name": ["f10", "cosmos", "nowhere"],
            "ra": np.array([10.0, 150.1, 45.0]),
            "dec": np.array([10.0, 2.2, 45.0]),
        }
    )


def _cone_ids(tap_service: TapService) -> list[int]:
    ids = tap_service.stars.id[cone_mask(tap_service.stars, 10, 10, 0.3)]
    return [int(i) for i in ids[:10]]


def _count(tap_service: TapService) -> int:
    return int(np.count_nonzero(tap_service.stars.flags >= 8))


def _upload_pairs(tap_service: TapService) -> set[tuple[str, int]]:
    stars = tap_service.stars
    pairs: set[tuple[str, int]] = set()
    for row in _upload_table():
        ids = stars.id[cone_mask(stars, row["ra"], row["dec"], 0.2)]
        pairs.update((str(row["name"]), int(i)) for i in ids)
    return pairs


def _pairs(table: Table) -> set[tuple[str, int]]:
    return {(str(n), int(i)) for n, i in zip(table["name"], table["id"], strict=True)}


def with_timeout(fn: Callable[[], Any], seconds: float = 60.0) -> Any:
    """Run ``fn`` in a daemon thread; a hang fails the test instead of blocking the suite."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["ok"] = fn()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the test thread)
            box["err"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"client call did not return within {seconds} s")
    if "err" in box:
        raise box["err"]
    return box["ok"]


# ------------------------------------------------------------------ pyvo


@pytest.fixture(scope="module")
def pyvo_service(tap_service: TapService):
    return pyvo.dal.TAPService(tap_service.url)


def test_pyvo_run_sync(tap_service: TapService, pyvo_service) -> None:
    table = with_timeout(lambda: pyvo_service.run_sync(CONE).to_table())
    assert table.colnames == ["id", "ra", "dec", "gmag"]
    assert [int(i) for i in table["id"]] == _cone_ids(tap_service)


def test_pyvo_maxrec_overflow(tap_service: TapService, pyvo_service) -> None:
    result = with_timeout(
        lambda: pyvo_service.run_sync("SELECT id FROM demo.stars ORDER BY id", maxrec=4)
    )
    assert [int(i) for i in result.to_table()["id"]] == [0, 1, 2, 3]
    assert result.query_status == "OVERFLOW"


def test_pyvo_job_lifecycle(tap_service: TapService, pyvo_service) -> None:
    def run() -> tuple[str, int, str]:
        job = pyvo_service.submit_job(COUNT)
        url = job.url
        try:
            assert job.phase == "PENDING"
            job.run()
            job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
            job.raise_if_error()
            table = job.fetch_result().to_table()
            return job.phase, int(table["n"][0]), url
        finally:
            job.delete()

    phase, n, url = with_timeout(run)
    assert phase == "COMPLETED"
    assert n == _count(tap_service)
    assert url.startswith(f"{tap_service.url}/async/")
    with pytest.raises(pyvo.dal.DALServiceError):
        pyvo.dal.AsyncTAPJob(url).phase  # noqa: B018  (the job is gone: 404)


def test_pyvo_failed_job_raises(pyvo_service) -> None:
    def run() -> None:
        job = pyvo_service.submit_job("SELECT nosuchcolumn FROM demo.stars")
        try:
            job.run()
            job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
            assert job.phase == "ERROR"
            job.raise_if_error()
        finally:
            job.delete()

    with pytest.raises(pyvo.dal.DALQueryError, match="nosuchcolumn"):
        with_timeout(run)


def test_pyvo_run_async(tap_service: TapService, pyvo_service) -> None:
    table = with_timeout(lambda: pyvo_service.run_async(COUNT).to_table())
    assert int(table["n"][0]) == _count(tap_service)


def test_pyvo_upload_sync_and_async(tap_service: TapService, pyvo_service) -> None:
    expected = _upload_pairs(tap_service)
    assert {n for n, _ in expected} == {"f10", "cosmos"}
    sync = with_timeout(
        lambda: pyvo_service.run_sync(UPLOAD_JOIN, uploads={"mine": _upload_table()}).to_table()
    )
    assert _pairs(sync) == expected
    asynchronous = with_timeout(
        lambda: pyvo_service.run_async(UPLOAD_JOIN, uploads={"mine": _upload_table()}).to_table()
    )
    assert _pairs(asynchronous) == expected


def test_pyvo_tables(pyvo_service) -> None:
    tables = with_timeout(lambda: pyvo_service.tables)
    assert "demo.stars" in list(tables.keys())
    stars = tables["demo.stars"]
    columns = {c.name: c for c in stars.columns}
    assert list(columns) == ["id", "ra", "dec", "gmag", "flags", "name"]
    assert columns["ra"].unit == "deg"
    assert columns["ra"].datatype.content == "double"


def test_pyvo_capabilities(pyvo_service) -> None:
    assert with_timeout(lambda: pyvo_service.maxrec) == 20000
    assert with_timeout(lambda: pyvo_service.hardlimit) == 10000000
    assert with_timeout(lambda: pyvo_service.upload_methods)


# ------------------------------------------------------------------ astroquery TapPlus


@pytest.fixture(scope="module")
def tap_plus(tap_service: TapService):
    return with_timeout(lambda: TapPlus(url=tap_service.url, verbose=False), 30)


def test_astroquery_launch_job(tap_service: TapService, tap_plus) -> None:
    table = with_timeout(lambda: tap_plus.launch_job(CONE).get_results())
    assert [int(i) for i in table["id"]] == _cone_ids(tap_service)


def test_astroquery_launch_job_async_autorun(tap_service: TapService, tap_plus) -> None:
    # default autorun=True: PHASE=RUN travels in the job-creation POST and must start the job
    table = with_timeout(lambda: tap_plus.launch_job_async(COUNT).get_results(), 30)
    assert int(table["n"][0]) == _count(tap_service)


def test_astroquery_launch_job_async_without_autorun(tap_service: TapService, tap_plus) -> None:
    table = with_timeout(lambda: tap_plus.launch_job_async(COUNT, autorun=False).get_results(), 30)
    assert int(table["n"][0]) == _count(tap_service)


def test_astroquery_upload_votable_file(tap_service: TapService, tap_plus, tmp_path: Path) -> None:
    path = tmp_path / "mine.xml"
    _upload_table().write(path, format="votable")
    table = with_timeout(
        lambda: tap_plus.launch_job(
            UPLOAD_JOIN, upload_resource=str(path), upload_table_name="mine"
        ).get_results()
    )
    assert _pairs(table) == _upload_pairs(tap_service)


def test_astroquery_upload_astropy_table(tap_service: TapService, tap_plus) -> None:
    table = with_timeout(
        lambda: tap_plus.launch_job(
            UPLOAD_JOIN, upload_resource=_upload_table(), upload_table_name="mine"
        ).get_results()
    )
    assert _pairs(table) == _upload_pairs(tap_service)


def test_astroquery_async_upload_without_autorun(tap_service: TapService, tap_plus) -> None:
    table = with_timeout(
        lambda: tap_plus.launch_job_async(
            UPLOAD_JOIN, upload_resource=_upload_table(), upload_table_name="mine", autorun=False
        ).get_results()
    )
    assert _pairs(table) == _upload_pairs(tap_service)


def test_astroquery_load_tables(tap_plus) -> None:
    tables = with_timeout(tap_plus.load_tables)
    names = [t.get_qualified_name() for t in tables]
    assert "demo.stars" in names
    assert "TAP_SCHEMA.columns" in names
    stars = next(t for t in tables if t.get_qualified_name() == "demo.stars")
    assert [c.name for c in stars.columns] == ["id", "ra", "dec", "gmag", "flags", "name"]


def test_astroquery_load_table(tap_plus) -> None:
    # TapPlus asks /tables?tables=demo.stars and reads the first table of the answer.
    table = with_timeout(lambda: tap_plus.load_table("TAP_SCHEMA.columns"))
    assert table.get_qualified_name() == "TAP_SCHEMA.columns"
    stars = with_timeout(lambda: tap_plus.load_table("demo.stars"))
    columns = {c.name: c for c in stars.columns}
    assert list(columns) == ["id", "ra", "dec", "gmag", "flags", "name"]
    assert columns["ra"].unit == "deg"
    assert columns["gmag"].description == "g magnitude; NULL where not measured"


def test_astroquery_load_unknown_table_names_it(tap_plus) -> None:
    with pytest.raises(requests.exceptions.HTTPError, match=r"nosuch\.table"):
        with_timeout(lambda: tap_plus.load_table("nosuch.table"))


def test_astroquery_async_error_shows_the_message(tap_plus) -> None:
    # TapPlus reads results/result before the phase; the failed job's error document must
    # come back from there (a redirect to /error) and its message reach the user.
    with pytest.raises(SystemError, match="nosuchcolumn"):
        with_timeout(lambda: tap_plus.launch_job_async("SELECT nosuchcolumn FROM demo.stars"))


def test_astroquery_json_output(tap_service: TapService, tap_plus) -> None:
    table = with_timeout(lambda: tap_plus.launch_job(CONE, output_format="json").get_results())
    assert [int(i) for i in table["id"]] == _cone_ids(tap_service)
    expected = tap_service.stars.ra[_cone_ids(tap_service)]
    np.testing.assert_allclose(np.asarray(table["ra"], dtype=float), expected, rtol=0, atol=1e-12)
    assert str(table["ra"].unit) == "deg"
    assert table["id"].unit is None


def test_tables_dialect_follows_the_client(tap_service: TapService) -> None:
    # Clients that say who they are get the plain VOSI document taplint validates; bare
    # http.client requests (TapPlus) and TAP+ parameters get ESA's column flags.
    plain = httpx.get(f"{tap_service.url}/tables", timeout=30)
    assert plain.status_code == 200
    assert b"esatapplus" not in plain.content
    parts = urlsplit(tap_service.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", f"{parts.path}/tables")
        bare = conn.getresponse()
        body = bare.read()
    finally:
        conn.close()
    assert bare.status == 200
    assert body.count(b'esatapplus:flags="0"') == plain.content.count(b"<column")
    selected = httpx.get(f"{tap_service.url}/tables", params={"tables": "demo.stars"}, timeout=30)
    assert selected.content.count(b"<table ") == 1
    assert b"esatapplus:flags" in selected.content
