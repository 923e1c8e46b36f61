"""SDSS ``specobjid`` through the demo federation: one representation, every predicate form.

The gateway's specobjid is the unsigned 64-bit number SDSS publishes; 3805 of the 8305 demo
ids are >= 2**63 (negative in the service's signed database column). Every query goes through
a real gateway over HTTP (``/tap/sync``) in front of the stand-ins, once with the predicate
pushed to the spectral service (rewritten for its signed column) and once evaluated by the
gateway's local engine after fetching; both must give the row set numpy computes from the
demo Parquet file's uint64 ids. Results are read back with astropy (VOTable) and csv.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import angular_separation
from astropy.io.votable import from_table, parse_single_table
from astropy.table import Table

from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from grammar import to_adql
from planners.spectral_reverse import spectral_params_to_query
from standins.data import DemoData
from tests.gateway.federation_servers import Federation
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

HALF = 2**63
Ids = npt.NDArray[np.uint64]


@pytest.fixture(scope="module")
def ids(demo: DemoData) -> Ids:
    """The demo's ids, read straight from the Parquet file (uint64)."""
    column = pq.read_table(demo.tables()["sdss_dr16.specobj"], columns=["specobjid"])
    values: Ids = column.column("specobjid").to_numpy()
    assert values.dtype == np.uint64
    assert (values >= HALF).sum() > 1000
    assert (values < HALF).sum() > 1000
    return values


@pytest.fixture(scope="module")
def gateway(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("gateway")
    settings = GatewaySettings(data_dir=work, backends=federation.backends())
    with serve_app(build_app(settings), lifespan="on") as url:
        yield url + "/tap"


def sync(url: str, adql: str, **extra: object) -> httpx.Response:
    answer = httpx.post(f"{url}/sync", data={"LANG": "ADQL", "QUERY": adql}, timeout=120, **extra)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return answer


def votable_ids(body: bytes, column: str = "specobjid") -> list[int]:
    """The ids of a VOTable answer, checking they are declared as unsigned decimal text."""
    table = parse_single_table(io.BytesIO(body))
    (field,) = [f for f in table.fields if f.name == column]
    assert (field.datatype, field.arraysize, field.xtype) == ("char", "*", "uint64")
    return [int(v) for v in table.to_table(use_names_over_ids=True)[column]]


def translate(url: str, adql: str) -> dict[str, object]:
    answer = httpx.post(f"{url}/translate", data={"query": adql}, timeout=60)
    assert answer.status_code == 200, answer.text
    fragment: dict[str, object] = answer.json()["fragments"][0]
    return fragment


def pushed_cond(url: str, adql: str) -> str:
    fragment = translate(url, adql)
    requests = fragment["requests"]
    assert isinstance(requests, list)
    return str(dict(requests[0]["params"])["cond"])


def cases(ids: Ids) -> list[tuple[str, Callable[[Ids], npt.NDArray[np.bool_]]]]:
    """(ADQL predicate, numpy mask over the uint64 ids) for every predicate form."""
    big, small = np.sort(ids[ids >= HALF]), np.sort(ids[ids < HALF])
    x, y, z = int(big[17]), int(small[5]), int(big[-3])
    u = np.uint64
    return [
        (f"specobjid = {x}", lambda v: v == u(x)),
        (f"specobjid IN ({x}, 1)", lambda v: v == u(x)),
        (f"specobjid = {x} OR specobjid = {y}", lambda v: (v == u(x)) | (v == u(y))),
        (f"specobjid = {y} OR specobjid IN ({z}, {x})", lambda v: np.isin(v, [x, y, z])),
        (f"specobjid <> {x}", lambda v: v != u(x)),
        (f"specobjid NOT IN ({x}, {y})", lambda v: ~np.isin(v, [x, y])),
        ("specobjid > 0", lambda v: v > u(0)),
        (f"specobjid < {HALF}", lambda v: v < u(HALF)),
        (f"specobjid >= {HALF}", lambda v: v >= u(HALF)),
        (f"{x} < specobjid", lambda v: v > u(x)),
        (f"specobjid <= {x}", lambda v: v <= u(x)),
        (f"specobjid BETWEEN {y} AND {x}", lambda v: (v >= u(y)) & (v <= u(x))),
        (f"specobjid NOT BETWEEN {y} AND {x}", lambda v: (v < u(y)) | (v > u(x))),
        (f"specobjid BETWEEN {x} AND {z}", lambda v: (v >= u(x)) & (v <= u(z))),
        (f"specobjid > {y} AND specobjid <= {x}", lambda v: (v > u(y)) & (v <= u(x))),
        (f"NOT (specobjid < {x} OR specobjid = {z})", lambda v: (v >= u(x)) & (v != u(z))),
        # The signed database form of x is another number: it is no specobjid.
        (f"specobjid = {x - 2**64}", lambda v: np.zeros(len(v), dtype=bool)),
        (f"specobjid IN ({x - 2**64}, {y})", lambda v: v == u(y)),
        (f"specobjid > {x - 2**64}", lambda v: np.ones(len(v), dtype=bool)),
    ]


@pytest.mark.parametrize("where", ["pushed", "local"])
def test_every_predicate_form_agrees_with_numpy(gateway: str, ids: Ids, where: str) -> None:
    for predicate, mask in cases(ids):
        # ``z / 2`` is never pushed (integer division differs), so the whole OR runs in the
        # gateway's engine over the fetched rows; z is far below 200 in the demo.
        condition = predicate if where == "pushed" else f"({predicate}) OR z / 2 > 100"
        adql = f"SELECT specobjid FROM sdss_dr16.specobj WHERE {condition}"
        # Pushed in the signed form of the service's column, nothing left to the gateway; or
        # all of it left to the gateway.
        fragment = translate(gateway, adql)
        assert (fragment["residual"] is None) == (where == "pushed"), (predicate, fragment)
        got = votable_ids(sync(gateway, adql).content)
        expected = ids[mask(ids)]
        assert sorted(got) == sorted(int(v) for v in expected), predicate


def test_counts_use_the_unsigned_value(gateway: str, ids: Ids) -> None:
    adql = "SELECT COUNT(*) AS n FROM sdss_dr16.specobj WHERE specobjid > 0"
    table = parse_single_table(io.BytesIO(sync(gateway, adql).content)).to_table(
        use_names_over_ids=True
    )
    assert int(table["n"][0]) == len(ids) == 8305


@pytest.mark.parametrize("descending", [False, True])
def test_order_by_and_top_follow_the_unsigned_order(
    gateway: str, ids: Ids, descending: bool
) -> None:
    direction = " DESC" if descending else ""
    adql = f"SELECT TOP 7 specobjid FROM sdss_dr16.specobj ORDER BY specobjid{direction}"
    # The service sorts its signed column: the ORDER BY is the gateway's.
    assert " order by " not in pushed_cond(gateway, adql)
    expected = np.sort(ids)[::-1] if descending else np.sort(ids)
    got = votable_ids(sync(gateway, adql).content)
    assert got == [int(v) for v in expected[:7]]
    # Rows both sides of 2**63 with a pushed filter: the first big id follows the last small.
    boundary = f"SELECT TOP 3 specobjid FROM sdss_dr16.specobj WHERE specobjid >= {int(np.sort(ids[ids < HALF])[-2])} ORDER BY specobjid"
    got = votable_ids(sync(gateway, boundary).content)
    expected = np.sort(ids[ids >= np.sort(ids[ids < HALF])[-2]])[:3]
    assert got == [int(v) for v in expected]
    assert got[-1] >= HALF > got[0]


def test_csv_answers_carry_the_unsigned_decimal(gateway: str, ids: Ids) -> None:
    x = int(np.sort(ids[ids >= HALF])[3])
    adql = f"SELECT specobjid, plate FROM sdss_dr16.specobj WHERE specobjid IN ({x}, 1)"
    body = sync(gateway, adql, params={"RESPONSEFORMAT": "csv"}).text
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["specobjid", "plate"]
    assert [int(r[0]) for r in rows[1:]] == [x]
    assert int(rows[1][1]) == x >> 50  # the plate packed in the top 14 bits


def test_join_of_two_spectral_tables_on_specobjid(gateway: str, demo: DemoData) -> None:
    main = pq.read_table(demo.tables()["sdss_dr16.specobj"], columns=["specobjid", "class"])
    every = pq.read_table(demo.tables()["sdss_dr16.specobjall"], columns=["specobjid"])
    qso = main.column("specobjid").to_numpy()[np.asarray(main.column("class")) == "QSO"]
    expected = np.intersect1d(qso, every.column("specobjid").to_numpy())
    adql = (
        "SELECT s.specobjid FROM sdss_dr16.specobj AS s JOIN sdss_dr16.specobjall AS a "
        "ON s.specobjid = a.specobjid WHERE s.class = 'QSO'"
    )
    got = votable_ids(sync(gateway, adql).content)
    assert sorted(got) == sorted(int(v) for v in expected)
    assert max(got) >= HALF


def test_tap_upload_joins_on_unsigned_ids(gateway: str, ids: Ids) -> None:
    """Ids uploaded as decimal text marked ``xtype="uint64"``, then the gateway's own answer.

    astropy cannot write a uint64 column to VOTable, so a user writes the ids as text and
    marks the FIELD as the gateway does.
    """
    x, y = int(np.sort(ids[ids >= HALF])[-1]), int(np.sort(ids[ids < HALF])[0])
    mine = Table({"tag": ["big", "small", "none"], "id": [str(x), str(y), str(x - 1)]})
    document = from_table(mine)
    document.get_first_table().get_field_by_id("id").xtype = "uint64"
    sink = io.BytesIO()
    document.to_xml(sink)
    adql = (
        "SELECT u.tag, s.specobjid FROM TAP_UPLOAD.mine AS u JOIN sdss_dr16.specobj AS s "
        "ON s.specobjid = u.id"
    )
    upload = {"UPLOAD": "mine,param:part"}
    files = {"part": ("mine.xml", sink.getvalue(), "application/x-votable+xml")}
    answer = sync(gateway, adql, params=upload, files=files).content
    table = parse_single_table(io.BytesIO(answer)).to_table(use_names_over_ids=True)
    pairs = sorted(zip(table["tag"], votable_ids(answer), strict=True))
    assert pairs == [("big", x), ("small", y)]
    # The answer uploaded again: its ids are char text with xtype uint64, read back exactly.
    again = (
        "SELECT s.plate, s.specobjid FROM TAP_UPLOAD.mine AS u JOIN sdss_dr16.specobj AS s "
        "ON s.specobjid = u.specobjid"
    )
    files = {"part": ("mine.xml", answer, "application/x-votable+xml")}
    second = sync(gateway, again, params=upload, files=files).content
    assert sorted(votable_ids(second)) == sorted([x, y])


def test_tap_schema_declares_the_serialisation(gateway: str) -> None:
    adql = (
        "SELECT datatype, arraysize, xtype FROM TAP_SCHEMA.columns "
        "WHERE table_name = 'sdss_dr16.specobj' AND column_name = 'specobjid'"
    )
    table = parse_single_table(io.BytesIO(sync(gateway, adql).content)).to_table(
        use_names_over_ids=True
    )
    assert [tuple(str(v) for v in row) for row in table] == [("char", "*", "uint64")]


def test_pyvo_reads_the_ids_exactly(gateway: str, ids: Ids) -> None:
    """What a user copies from a pyvo result is the id SDSS publishes, usable in a query."""
    import pyvo  # noqa: PLC0415 - slow import, one test

    service = pyvo.dal.TAPService(gateway)
    adql = "SELECT TOP 3 specobjid FROM sdss_dr16.specobj ORDER BY specobjid DESC"
    table = service.run_sync(adql).to_table()
    got = [int(v) for v in table["specobjid"]]
    assert got == [int(v) for v in np.sort(ids)[::-1][:3]]
    again = service.run_sync(f"SELECT specobjid FROM sdss_dr16.specobj WHERE specobjid = {got[0]}")
    assert [int(v) for v in again.to_table()["specobjid"]] == got[:1]


def test_ids_travel_through_an_upload_join_to_the_tap_backend(gateway: str, demo: DemoData) -> None:
    """Spectra (ids >= 2**63 among them) uploaded to the rsp TAP service and joined there."""
    spec = pq.read_table(demo.tables()["sdss_dr16.specobj"], columns=["specobjid", "ra", "dec"])
    dp1 = pq.read_table(demo.tables()["dp1.Object"], columns=["objectId", "coord_ra", "coord_dec"])
    s_ra, s_dec = (np.radians(spec.column(c).to_numpy()) for c in ("ra", "dec"))
    o_ra, o_dec = (np.radians(dp1.column(c).to_numpy()) for c in ("coord_ra", "coord_dec"))
    centre = angular_separation(s_ra, s_dec, np.radians(53.2), np.radians(-28.1))
    inside = np.flatnonzero(np.degrees(centre) <= 0.3)
    expected = set()
    for i in inside:
        near = np.degrees(angular_separation(s_ra[i], s_dec[i], o_ra, o_dec)) <= 0.0003
        ident = int(spec.column("specobjid")[int(i)].as_py())
        expected |= {(ident, int(o)) for o in dp1.column("objectId").to_numpy()[near]}
    assert any(ident >= HALF for ident, _ in expected)
    adql = (
        "SELECT s.specobjid, o.objectId FROM sdss_dr16.specobj AS s JOIN dp1.Object AS o "
        "ON CONTAINS(POINT(o.coord_ra, o.coord_dec), CIRCLE(s.ra, s.dec, 0.0003)) = 1 "
        "WHERE CONTAINS(POINT(s.ra, s.dec), CIRCLE(53.2, -28.1, 0.3)) = 1"
    )
    body = sync(gateway, adql).content
    assert b"UploadJoin" in body
    table = parse_single_table(io.BytesIO(body)).to_table(use_names_over_ids=True)
    got = set(zip(votable_ids(body), (int(v) for v in table["objectId"]), strict=True))
    assert got == expected


def test_to_adql_of_a_service_request_finds_the_rows_the_service_finds(
    federation: Federation, gateway: str, ids: Ids
) -> None:
    """A Data Lab ``cond`` compares the signed column; its ADQL (unsigned ids) must agree."""
    signed = ids.view(np.int64)
    x = int(signed[signed < 0][7])
    cases: list[tuple[str, npt.NDArray[np.bool_]]] = [
        ("specobjid < 0", signed < 0),
        (f"specobjid >= {x}", signed >= x),
        (f"specobjid in ({x}, 5)", signed == x),
        (f"specobjid between {x} and {int(signed.max())}", signed >= x),
        (f"specobjid <> {x} and specobjid < 10", (signed != x) & (signed < 10)),
    ]
    for cond, mask in cases:
        params = {"fields": "specobjid", "cond": cond}
        service = httpx.get(
            f"{federation.spec}/query",
            params={"id": "", "catalog": "", "context": "sdss_dr16", **params},
            timeout=60,
        )
        assert service.status_code == 200, service.text
        direct = sorted(int(line) for line in service.text.split()[1:])
        assert direct == sorted(int(v) for v in ids[mask]), cond
        adql = to_adql(spectral_params_to_query(params))
        assert sorted(votable_ids(sync(gateway, adql).content)) == direct, (cond, adql)
