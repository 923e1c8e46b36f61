"""Bad queries against a real TAP service: DALI VOTable errors with positions, no HTTP 500.

Each case goes through uvicorn on 127.0.0.1 with one httpx client (one kept-alive
connection): the error has the right status, is a VOTable ``QUERY_STATUS=ERROR`` document
(read with astropy), names the problem and, for mistakes the binder sees, its line and
column; the next request on the same client then succeeds (an exception escaping the app
used to reset the connection). The same errors reach pyvo and async jobs.
"""

from __future__ import annotations

import http.client
import io
import re
import urllib.parse
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import pyvo
from astropy.io.votable import parse

from tests.gateway.conftest import (
    TapService,
    create_job,
    error_message,
    read_votable,
    wait_terminal,
)

pytestmark = pytest.mark.integration

VOTABLE = "application/x-votable+xml"
FOLLOW_UP = "SELECT TOP 3 id FROM demo.stars ORDER BY id"

# (query, regular expression of the message, (line, column) or None for runtime faults)
BIND_ERRORS = [
    pytest.param(
        "SELECT id FROM demo.stars WHERE id LIKE '1%'",
        r"LIKE needs character strings, but id is a number \(long\)",
        (1, 33),
        id="like-on-number",
    ),
    pytest.param(
        "SELECT id FROM demo.stars WHERE gmag = 'abc'",
        r"Cannot compare gmag, a number \(double\), with 'abc', a character string",
        (1, 33),
        id="number-vs-string",
    ),
    pytest.param(
        "SELECT LOWER(gmag) FROM demo.stars",
        r"LOWER needs a character string, but gmag is a number",
        (1, 14),
        id="string-function-on-number",
    ),
    pytest.param(
        "SELECT a.id\nFROM demo.stars AS a\n  JOIN demo.stars AS b ON a.id = b.name",
        r"Cannot compare a\.id, a number \(long\), with b\.name, a character string",
        (3, 27),
        id="join-of-incompatible-types",
    ),
    pytest.param(
        "SELECT name + 1 FROM demo.stars",
        r"the operator '\+' needs numbers, but name is a character string",
        (1, 8),
        id="arithmetic-on-string",
    ),
    pytest.param(
        "SELECT id FROM demo.stars WHERE CONTAINS(ra, CIRCLE(10, 10, 1)) = 1",
        r"CONTAINS needs geometries .* but ra is a number",
        (1, 42),
        id="geometry-function-on-number",
    ),
    pytest.param(
        "SELECT POINT(name, dec) FROM demo.stars",
        r"POINT needs numbers, but name is a character string",
        (1, 14),
        id="point-of-string",
    ),
    pytest.param(
        "SELECT SUM(name) FROM demo.stars",
        r"SUM needs numbers, but name is a character string",
        (1, 12),
        id="sum-of-string",
    ),
    pytest.param(
        "SELECT gmag & 1 FROM demo.stars",
        r"the operator '&' needs integers, but gmag is a number \(double\)",
        (1, 8),
        id="bitwise-on-double",
    ),
    pytest.param(
        "SELECT id FROM demo.stars WHERE id IN (SELECT name FROM demo.stars)",
        r"IN compares id, a number \(long\), with a subquery returning a character string",
        (1, 33),
        id="in-subquery-type",
    ),
    pytest.param(
        "SELECT id FROM demo.stars UNION SELECT name FROM demo.stars",
        r"UNION combines column 1 of a number \(long\) with a character string",
        (1, 1),
        id="union-types",
    ),
    pytest.param(
        "SELECT id / 0 FROM demo.stars",
        r"Division by zero in id / 0",
        (1, 13),
        id="literal-division-by-zero",
    ),
    pytest.param(
        "SELECT MOD(5, 0) FROM demo.stars",
        r"MOD by zero",
        (1, 15),
        id="literal-mod-zero",
    ),
    pytest.param(
        "SELECT CAST('abc' AS INTEGER) FROM demo.stars",
        r"CAST of 'abc' to INTEGER: not an integer",
        (1, 13),
        id="bad-literal-cast",
    ),
    pytest.param(
        "SELECT SQRT(1, 2) FROM demo.stars",
        r"unexpected ','",
        (1, 14),
        id="wrong-arity",
    ),
]

# (query, message pattern, position of the faulty construct when the query has one only)
RUNTIME_ERRORS = [
    pytest.param(
        "SELECT id / (flags - flags) FROM demo.stars",
        r"division by zero.* in id / \(flags - flags\)",
        (1, 8),
        id="division-by-zero",
    ),
    pytest.param(
        "SELECT ra, gmag / (ra - ra) FROM demo.stars",
        r"division by zero",
        (1, 12),
        id="float-division-by-zero",
    ),
    pytest.param(
        "SELECT id, 1.0 / 3, MOD(id, flags - flags) FROM demo.stars",
        r"division by zero",
        (1, 21),
        id="mod-0",
    ),
    pytest.param(
        "SELECT id / (flags - flags), ra / (dec - dec) FROM demo.stars",
        r"division by zero",
        None,
        id="two-divisions-no-guess",
    ),
    pytest.param(
        "SELECT CAST(name AS INTEGER) FROM demo.stars",
        r"conversion failed.*'star 0'",
        (1, 8),
        id="bad-cast",
    ),
    pytest.param(
        "SELECT ivo_healpix_index(99, ra, dec) FROM demo.stars",
        r"evaluated: ivo_healpix_index: order must be",
        None,
        id="engine-function-fault",
    ),
    pytest.param(
        "SELECT id * 9223372036854775807 FROM demo.stars WHERE id > 1",
        r"numeric overflow",
        (1, 8),
        id="overflow",
    ),
]

VALID = [
    # Numbers of any precision compare; NULL, CAST, COALESCE and unknown functions pass.
    "SELECT TOP 2 id FROM demo.stars WHERE flags < gmag AND id = 4.0",
    "SELECT TOP 2 id FROM demo.stars WHERE gmag = NULL OR COALESCE(gmag, 0) > 1",
    "SELECT TOP 2 CAST(id AS VARCHAR(20)) || name AS s FROM demo.stars",
    "SELECT TOP 2 id FROM demo.stars WHERE CAST('12' AS INTEGER) < id",
    "SELECT TOP 2 id FROM demo.stars WHERE id = '42'",
    "SELECT TOP 2 LOWER(name) FROM demo.stars WHERE name LIKE 'star%'",
    "SELECT TOP 2 x.n FROM (SELECT name AS n FROM demo.stars) AS x WHERE x.n LIKE 's%'",
    "SELECT TOP 2 id FROM demo.stars WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(10, 10, 1))",
]


@pytest.fixture(scope="module")
def client(tap_service: TapService) -> Iterator[httpx.Client]:
    # One connection at most: every request of a test reuses the same kept-alive one.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=tap_service.url, timeout=60, limits=limits) as c:
        yield c


def sync(client: httpx.Client, query: str, **extra: str) -> httpx.Response:
    return client.post("/sync", data={"LANG": "ADQL", "QUERY": query, **extra})


def assert_error_document(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(VOTABLE)
    votable = parse(io.BytesIO(response.content))
    infos = [i for r in votable.resources for i in r.infos if i.name == "QUERY_STATUS"]
    assert [i.value for i in infos] == ["ERROR"], response.text
    return error_message(response.content)


def assert_follow_up_works(client: httpx.Client) -> None:
    response = sync(client, FOLLOW_UP)
    assert response.status_code == 200, response.text
    assert list(read_votable(response.content)["id"]) == [0, 1, 2]


@pytest.mark.parametrize(("query", "pattern", "position"), BIND_ERRORS)
def test_bind_errors_name_the_problem_and_its_position(
    client: httpx.Client, query: str, pattern: str, position: tuple[int, int]
) -> None:
    message = assert_error_document(sync(client, query), 400)
    assert re.search(pattern, message), message
    line, column = position
    assert f"at line {line}, column {column}" in message, message
    assert_follow_up_works(client)


@pytest.mark.parametrize(("query", "pattern", "position"), RUNTIME_ERRORS)
def test_runtime_faults_are_dali_errors_and_keep_the_connection(
    client: httpx.Client, query: str, pattern: str, position: tuple[int, int] | None
) -> None:
    for response_format in ("votable", "csv"):
        response = sync(client, query, RESPONSEFORMAT=response_format)
        message = assert_error_document(response, 400)
        assert re.search(pattern, message), message
        assert "LINE 1" not in message  # DuckDB's excerpt of the generated SQL stays inside
        if position is None:
            assert "at line" not in message, message
        else:
            assert message.endswith(f"at line {position[0]}, column {position[1]}"), message
        assert_follow_up_works(client)


@pytest.mark.parametrize("query", VALID)
def test_valid_queries_are_not_rejected(client: httpx.Client, query: str) -> None:
    response = sync(client, query)
    assert response.status_code == 200, response.text
    assert len(read_votable(response.content)) <= 2


def test_pyvo_reports_the_message(tap_service: TapService) -> None:
    service = pyvo.dal.TAPService(tap_service.url)
    with pytest.raises(pyvo.dal.DALQueryError, match=r"LIKE needs character strings.*column 33"):
        service.run_sync("SELECT id FROM demo.stars WHERE id LIKE '1%'")
    with pytest.raises(pyvo.dal.DALQueryError, match=r"division by zero"):
        service.run_sync("SELECT id / (flags - flags) FROM demo.stars")
    assert len(service.run_sync("SELECT TOP 1 id FROM demo.stars")) == 1


@pytest.mark.parametrize(
    ("query", "pattern"),
    [
        ("SELECT LOWER(gmag) FROM demo.stars", r"LOWER needs .* at line 1, column 14"),
        (
            "SELECT MOD(id, flags - flags) FROM demo.stars",
            r"division by zero.* at line 1, column 8",
        ),
    ],
)
def test_async_jobs_end_in_error_with_the_message(
    tap_service: TapService, query: str, pattern: str
) -> None:
    job = create_job(tap_service.url, LANG="ADQL", QUERY=query, PHASE="RUN")
    assert wait_terminal(job) == "ERROR"
    document = httpx.get(f"{job}/error", timeout=30)
    assert document.status_code == 200
    assert re.search(pattern, error_message(document.content)), document.text


def test_functions_outside_their_domain_are_null(
    client: httpx.Client, tap_service: TapService
) -> None:
    """SQRT of a negative, LOG of zero or a negative, ACOS beyond 1: NULL (numpy oracle)."""
    query = (
        "SELECT id, SQRT(gmag - 20) AS s, LOG(gmag - 20) AS l, LOG10(gmag - 20) AS l10, "
        "ACOS(gmag - 20) AS ac FROM demo.stars ORDER BY id"
    )
    response = sync(client, query, MAXREC="100000")
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    x = tap_service.stars.gmag - 20
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = {
            "s": np.where(x >= 0, np.sqrt(x), np.nan),
            "l": np.where(x > 0, np.log(x), np.nan),
            "l10": np.where(x > 0, np.log10(x), np.nan),
            "ac": np.where(np.abs(x) <= 1, np.arccos(x), np.nan),
        }
    for name, want in expected.items():
        got: np.ndarray = np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True, err_msg=name)
    # NULL, not NaN: a comparison with an undefined value is not true.
    count = sync(client, "SELECT COUNT(*) AS n FROM demo.stars WHERE SQRT(gmag - 20) > -1")
    with np.errstate(invalid="ignore"):
        assert int(read_votable(count.content)["n"][0]) == int(np.sum(x >= 0))


def test_division_by_data_matches_numpy(client: httpx.Client, tap_service: TapService) -> None:
    """Guarding float divisors against 0 changes no quotient (numpy oracle)."""
    query = "SELECT id, ra / (dec + 100.0) AS q, id / (flags + 1) AS k FROM demo.stars ORDER BY id"
    response = sync(client, query, MAXREC="100000")
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    stars = tap_service.stars
    np.testing.assert_allclose(np.asarray(table["q"]), stars.ra / (stars.dec + 100.0), rtol=1e-15)
    # ADQL integer division truncates toward zero (ids and flags are non-negative here).
    assert np.array_equal(np.asarray(table["k"]), stars.id // (stars.flags + 1))


@pytest.mark.parametrize("endpoint", ["/translate", "/explain"])
def test_translate_and_explain_report_type_mistakes(client: httpx.Client, endpoint: str) -> None:
    response = client.get(endpoint, params={"QUERY": "SELECT LOWER(gmag) FROM demo.stars"})
    message = assert_error_document(response, 400)
    assert "LOWER needs a character string" in message
    assert "at line 1, column 14" in message
    fine = client.get(endpoint, params={"QUERY": "SELECT LOWER(name) FROM demo.stars"})
    assert fine.status_code == 200, fine.text


def test_the_same_socket_serves_the_request_after_a_fault(tap_service: TapService) -> None:
    """One raw HTTP/1.1 connection: an error, then a query, on the very same socket.

    An exception escaping the app made uvicorn close the connection after its 500 (the
    client's next request on it was reset); http.client reuses the socket without retrying.
    """
    url = urllib.parse.urlsplit(tap_service.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        for query in ("SELECT MOD(id, flags - flags) FROM demo.stars", FOLLOW_UP):
            body = urllib.parse.urlencode({"LANG": "ADQL", "QUERY": query})
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            connection.request("POST", f"{url.path}/sync", body, headers)
            if query != FOLLOW_UP:
                sock = connection.sock
            response = connection.getresponse()
            content = response.read()
            assert response.getheader("connection") != "close"
            assert connection.sock is sock  # not reconnected
        assert response.status == 200, content
    finally:
        connection.close()
