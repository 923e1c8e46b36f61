"""TAP_UPLOAD acceptance tests (DALI §3.3.5, TAP 1.1 §2.7.6) over real HTTP."""

from __future__ import annotations

import io
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile
from astropy.table import Table

from tests.gateway.conftest import (
    UWS_NS,
    VOTABLE_NS,
    TapService,
    create_job,
    error_message,
    read_votable,
    wait_terminal,
)

pytestmark = pytest.mark.integration

RADIUS = 0.2


def _votable_bytes(table: Table) -> bytes:
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()


def _positions(seed: int = 3) -> Table:
    """Upload positions: both cluster centres, points around them, RA-wrap and polar points."""
    rng = np.random.default_rng(seed)
    ra = np.concatenate([[10.0, 150.1, 45.0, 0.05, 359.9, 120.0], rng.normal(10, 0.3, 10)])
    dec = np.concatenate([[10.0, 2.2, 45.0, 0.1, -0.1, 89.8], rng.normal(10, 0.3, 10)])
    names = [f"p{i}" for i in range(len(ra))]
    return Table({"name": names, "ra": ra % 360, "dec": dec})


def _brute_force_pairs(stars, upload: Table, radius: float) -> set[tuple[str, int]]:
    sources = SkyCoord(stars.ra * u.deg, stars.dec * u.deg)
    pairs: set[tuple[str, int]] = set()
    for row in upload:
        centre = SkyCoord(row["ra"] * u.deg, row["dec"] * u.deg)
        hits = stars.id[sources.separation(centre).deg <= radius]
        pairs.update((str(row["name"]), int(i)) for i in hits)
    return pairs


def _sync(
    service: TapService, query: str, uploads: dict[str, bytes], **extra: str
) -> httpx.Response:
    upload_param = ";".join(f"{name},param:{name}part" for name in uploads)
    files = {f"{name}part": (f"{name}.xml", data, "application/x-votable+xml")
             for name, data in uploads.items()}  # fmt: skip
    return httpx.post(
        f"{service.url}/sync",
        data={"LANG": "ADQL", "QUERY": query, "UPLOAD": upload_param, **extra},
        files=files,
        timeout=60,
    )


def test_positional_join_matches_brute_force(tap_service: TapService) -> None:
    upload = _positions()
    query = (
        "SELECT u.name, s.id FROM demo.stars AS s JOIN TAP_UPLOAD.mine AS u "
        "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra, u.dec, 0.2))"
    )
    response = _sync(tap_service, query, {"mine": _votable_bytes(upload)})
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    got = {(str(n), int(i)) for n, i in zip(table["name"], table["id"], strict=True)}
    assert len(got) == len(table), "duplicate rows"
    expected = _brute_force_pairs(tap_service.stars, upload, RADIUS)
    assert len(expected) > 100
    assert {n for n, _ in expected} >= {"p0", "p1", "p3", "p4", "p5"}
    assert got == expected


def test_count_per_upload_row(tap_service: TapService) -> None:
    upload = _positions()
    query = (
        "SELECT u.name, COUNT(*) AS n FROM demo.stars AS s JOIN TAP_UPLOAD.mine AS u "
        "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra, u.dec, 0.2)) "
        "GROUP BY u.name"
    )
    response = _sync(tap_service, query, {"mine": _votable_bytes(upload)}, FORMAT="csv")
    assert response.status_code == 200, response.text
    lines = response.text.strip().splitlines()[1:]
    got = {line.split(",")[0]: int(line.split(",")[1]) for line in lines}
    expected: dict[str, int] = {}
    for name, _ in _brute_force_pairs(tap_service.stars, upload, RADIUS):
        expected[name] = expected.get(name, 0) + 1
    assert got == expected


def test_join_by_key(tap_service: TapService) -> None:
    keys = np.array([5, 17, 17, 4242, 99999, -1, 2301], dtype=np.int64)
    upload = Table({"sid": keys, "tag": [f"k{k}" for k in keys]})
    query = (
        "SELECT u.tag, s.id, s.gmag FROM TAP_UPLOAD.keys AS u "
        "JOIN demo.stars AS s ON s.id = u.sid ORDER BY u.tag"
    )
    response = _sync(tap_service, query, {"keys": _votable_bytes(upload)})
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    known = keys[np.isin(keys, tap_service.stars.id)]
    assert sorted(int(i) for i in table["id"]) == sorted(int(k) for k in known)
    assert len(table) == 5  # 17 is uploaded twice


def test_several_uploads_at_once(tap_service: TapService) -> None:
    positions = _positions()
    wanted = Table({"name": ["p0", "p1", "p5", "nope"], "weight": [1, 2, 3, 4]})
    query = (
        "SELECT w.name, w.weight, COUNT(*) AS n FROM TAP_UPLOAD.pos AS p "
        "JOIN TAP_UPLOAD.wanted AS w ON p.name = w.name "
        "JOIN demo.stars AS s "
        "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', p.ra, p.dec, 0.2)) "
        "GROUP BY w.name, w.weight ORDER BY w.name"
    )
    response = _sync(
        tap_service,
        query,
        {"pos": _votable_bytes(positions), "wanted": _votable_bytes(wanted)},
        FORMAT="csv",
    )
    assert response.status_code == 200, response.text
    rows = [line.split(",") for line in response.text.strip().splitlines()[1:]]
    pairs = _brute_force_pairs(tap_service.stars, positions, RADIUS)
    expected = [
        [name, str(weight), str(sum(1 for n, _ in pairs if n == name))]
        for name, weight in (("p0", 1), ("p1", 2), ("p5", 3))
    ]
    assert rows == expected


def test_repeated_upload_parameters_accumulate(tap_service: TapService) -> None:
    a = Table({"x": [1, 2, 3]})
    b = Table({"y": [2, 3, 4]})
    response = httpx.post(
        f"{tap_service.url}/sync",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.a AS a "
            "JOIN TAP_UPLOAD.b AS b ON a.x = b.y",
            "UPLOAD": ["a,param:pa", "b,param:pb"],
            "FORMAT": "csv",
        },
        files={"pa": ("a.xml", _votable_bytes(a)), "pb": ("b.xml", _votable_bytes(b))},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.text.split() == ["n", "2"]


def test_uploads_are_per_request(tap_service: TapService) -> None:
    upload = Table({"x": [1]})
    assert _sync(tap_service, "SELECT x FROM TAP_UPLOAD.gone", {"gone": _votable_bytes(upload)})
    response = httpx.post(
        f"{tap_service.url}/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT x FROM TAP_UPLOAD.gone"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "gone" in error_message(response.content).lower()


def test_missing_part_is_an_error(tap_service: TapService) -> None:
    response = httpx.post(
        f"{tap_service.url}/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:nothere"},
        files={"other": ("o.xml", _votable_bytes(Table({"x": [1]})))},
        timeout=30,
    )
    assert response.status_code == 400
    assert "nothere" in error_message(response.content)


def test_bad_upload_name_is_an_error(tap_service: TapService) -> None:
    response = _sync(tap_service, "SELECT 1 AS one", {"1bad": _votable_bytes(Table({"x": [1]}))})
    assert response.status_code == 400
    assert "1bad" in error_message(response.content)


def test_upload_by_url_is_refused_naming_the_host(tap_service: TapService) -> None:
    response = httpx.post(
        f"{tap_service.url}/sync",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT * FROM TAP_UPLOAD.t",
            "UPLOAD": "t,http://upload-source.example.org/t.xml",
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert "upload-source.example.org" in error_message(response.content)


def test_row_limit(limited_tap_service: TapService) -> None:
    small = Table({"x": np.arange(10)})
    ok = _sync(limited_tap_service, "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t", {"t": _votable_bytes(small)}, FORMAT="csv")  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert ok.text.split() == ["n", "10"]
    big = Table({"x": np.arange(11)})
    response = _sync(limited_tap_service, "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t", {"t": _votable_bytes(big)})  # fmt: skip
    assert response.status_code == 400
    message = error_message(response.content)
    assert "11" in message
    assert "10" in message


def test_byte_limit(limited_tap_service: TapService) -> None:
    data = _votable_bytes(Table({"x": np.arange(5), "pad": ["x" * 900] * 5}))
    assert len(data) > 4000
    response = _sync(limited_tap_service, "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t", {"t": data})
    assert response.status_code == 400
    assert "4000" in error_message(response.content)


def test_async_upload_row_limit(limited_tap_service: TapService) -> None:
    big = Table({"x": np.arange(50)})
    url = create_job(
        limited_tap_service.url,
        files={"t": ("t.xml", _votable_bytes(big))},
        LANG="ADQL",
        QUERY="SELECT COUNT(*) AS n FROM TAP_UPLOAD.t",
        UPLOAD="t,param:t",
        PHASE="RUN",
    )
    assert wait_terminal(url) == "ERROR"
    assert "50" in error_message(httpx.get(f"{url}/error", timeout=10).content)


def _xtype_votable() -> bytes:
    votable = VOTableFile()
    resource = Resource()
    votable.resources.append(resource)
    table = TableElement(votable)
    resource.tables.append(table)
    table.fields.extend(
        [
            Field(votable, name="k", datatype="int"),
            Field(votable, name="t", datatype="char", arraysize="*", xtype="timestamp"),
            Field(votable, name="p", datatype="double", arraysize="2", xtype="point", unit="deg"),
            Field(votable, name="label", datatype="char", arraysize="*"),
            Field(votable, name="Mixed Case", ID="mixed_case", datatype="double"),
        ]
    )
    table.create_arrays(3)
    table.array[0] = (1, "2024-01-02T03:04:05.500", [10.0, 20.0], "first", 1.5)
    table.array[1] = (2, "1999-12-31T23:59:59", [359.5, -89.25], "second, with comma", -2.0)
    table.array[2] = (3, "2010-06-15T00:00:00", [0.0, 0.0], "third", 0.0)
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_xtypes_round_trip(tap_service: TapService, fmt: str) -> None:
    response = _sync(
        tap_service, "SELECT * FROM TAP_UPLOAD.t", {"t": _xtype_votable()}, RESPONSEFORMAT=fmt
    )
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    fields = {f.get("name"): f for f in root.iter(f"{VOTABLE_NS}FIELD")}
    assert list(fields) == ["k", "t", "p", "label", "Mixed Case"]
    assert fields["t"].get("xtype") == "timestamp"
    assert fields["t"].get("datatype") == "char"
    assert fields["p"].get("xtype") == "point"
    assert fields["p"].get("datatype") == "double"
    assert fields["p"].get("arraysize") == "2"
    assert fields["p"].get("unit") == "deg"
    table = read_votable(response.content)
    assert list(table["k"]) == [1, 2, 3]
    timestamps = [str(v) for v in table["t"]]
    assert [t[:19] for t in timestamps] == [
        "2024-01-02T03:04:05",
        "1999-12-31T23:59:59",
        "2010-06-15T00:00:00",
    ]
    assert timestamps[0].startswith("2024-01-02T03:04:05.5")
    np.testing.assert_array_equal(
        np.asarray(table["p"]), [[10.0, 20.0], [359.5, -89.25], [0.0, 0.0]]
    )
    assert [str(v) for v in table["label"]] == ["first", "second, with comma", "third"]
    assert list(table["Mixed Case"]) == [1.5, -2.0, 0.0]


def test_delimited_column_names_and_point_functions_on_uploads(tap_service: TapService) -> None:
    response = _sync(
        tap_service,
        'SELECT k, "Mixed Case" AS m FROM TAP_UPLOAD.t WHERE "Mixed Case" > 0',
        {"t": _xtype_votable()},
        FORMAT="csv",
    )
    assert response.status_code == 200, response.text
    assert response.text.split() == ["k,m", "1,1.5"]


def test_async_upload(tap_service: TapService) -> None:
    upload = _positions()
    query = (
        "SELECT u.name, s.id FROM demo.stars AS s JOIN TAP_UPLOAD.mine AS u "
        "ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra, u.dec, 0.2))"
    )
    url = create_job(
        tap_service.url,
        files={"minepart": ("mine.xml", _votable_bytes(upload))},
        LANG="ADQL",
        QUERY=query,
        UPLOAD="mine,param:minepart",
        PHASE="RUN",
    )
    assert wait_terminal(url) == "COMPLETED"
    parameters = ET.fromstring(httpx.get(f"{url}/parameters", timeout=10).content)
    by_ref = [p for p in parameters.iter(f"{UWS_NS}parameter") if p.get("byReference") == "true"]
    assert len(by_ref) == 1
    table = read_votable(httpx.get(f"{url}/results/result", timeout=30).content)
    got = {(str(n), int(i)) for n, i in zip(table["name"], table["id"], strict=True)}
    assert got == _brute_force_pairs(tap_service.stars, upload, RADIUS)


def test_a_small_upload_limit_does_not_refuse_a_long_query(limited_tap_service: TapService) -> None:
    # A 20 kB query text (a long IN list) on a service whose upload limit is 4000 bytes.
    ids = list(range(4000))
    query = f"SELECT COUNT(*) AS n FROM demo.stars WHERE id IN ({', '.join(map(str, ids))})"
    assert len(query) > 4000
    response = httpx.post(
        f"{limited_tap_service.url}/sync",
        data={"LANG": "ADQL", "QUERY": query, "FORMAT": "csv"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    expected = int(np.count_nonzero(np.isin(limited_tap_service.stars.id, ids)))
    assert response.text.splitlines()[1] == str(expected)
    as_multipart = httpx.post(
        f"{limited_tap_service.url}/sync",
        data={"LANG": "ADQL", "QUERY": query, "FORMAT": "csv"},
        files={"unused": ("x.txt", b"x", "text/plain")},
        timeout=60,
    )
    assert as_multipart.status_code == 200, as_multipart.text


def test_a_malformed_multipart_body_is_a_dali_error(tap_service: TapService) -> None:
    response = httpx.post(
        f"{tap_service.url}/sync",
        content=b'--b\r\nContent-Disposition: form-data; name="QUERY"\r\n\r\nSELECT',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "QUERY_STATUS" in response.text
