"""Legacy spectral-ID stand-in over real sockets (httpx): query, getSpec, listSpan, metadata."""

from __future__ import annotations

import csv
import io
import json

import httpx
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from standins import specobjid as sid
from standins.data_sdss import SPEC_DTYPE, generate_sdss
from standins.sia_geometry import unit
from standins.spectral import create_spectral_app
from tests.live_server import serve_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    paths = generate_sdss(tmp_path_factory.mktemp("spec"))
    with (
        serve_app(create_spectral_app(paths)) as url,
        httpx.Client(base_url=f"{url}/spec") as client,
    ):
        yield client, paths


def rows(response):
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def legacy(client, cond, fields="specobjid", **extra):
    params = {
        "id": "",
        "fields": fields,
        "catalog": "sdss_dr16.specobj",
        "cond": cond,
        "context": "sdss_dr16",
        "profile": "default",
        "debug": "False",
        "verbose": "False",
    }
    return client.get("/query", params=params | extra)


def test_worked_example_through_the_service(spec):
    client, paths = spec
    table = pq.read_table(paths["sdss_dr16.specobj"])
    cond = "q3c_radial_query(ra,dec,30.000000,1.000000,0.500000) AND z > 0.2 and class = 'GALAXY' order by z limit 10"
    got = rows(legacy(client, cond, fields="specobjid,z,class"))
    # Independent answer from the Parquet file.
    sep = np.degrees(
        np.arccos(
            np.clip(unit(table["ra"].to_numpy(), table["dec"].to_numpy()) @ unit(30.0, 1.0), -1, 1)
        )
    )
    mask = (
        (sep <= 0.5)
        & (table["z"].to_numpy() > 0.2)
        & (np.array(table["class"].to_pylist()) == "GALAXY")
    )
    expected = table.filter(mask).sort_by("z").slice(0, 10)
    assert [int(r["specobjid"]) for r in got] == expected["specobjid"].to_pylist()
    assert 0 < len(got) <= 10
    assert [float(r["z"]) for r in got] == sorted(float(r["z"]) for r in got)


def test_ids_are_unsigned_and_unpack(spec):
    client, _ = spec
    got = rows(
        client.get(
            "/query", params={"ra": "53.2", "dec": "-28.1", "radius": "0.1", "fields": "tuple"}
        )
    )
    assert got
    for row in got:
        value = int(row["specobjid"])
        assert value > 2**63  # ECDFS plates >= 8192: negative as signed, so unsigned is huge
        fields = sid.unpack(value)
        assert (fields.plate, fields.mjd, fields.fiberid, fields.run2d) == (
            int(row["plate"]),
            int(row["mjd"]),
            int(row["fiberid"]),
            row["run2d"],
        )


def test_lookup_by_id_accepts_signed_and_unsigned(spec):
    client, paths = spec
    table = pq.read_table(paths["sdss_dr16.specobj"])
    value = table.filter(pc.equal(table["plate"], 9701))["specobjid"][0].as_py()
    for text in (str(value), str(sid.to_signed(value))):
        got = rows(client.get("/query", params={"id": text, "fields": "z"}))
        assert [int(r["specobjid"]) for r in got] == [value]


def test_primary_switches_catalogue(spec):
    client, paths = spec
    cond = "plate >= 0"
    n_primary = len(rows(client.get("/query", params={"constraint": cond})))
    n_all = len(rows(client.get("/query", params={"constraint": cond, "primary": "false"})))
    assert n_primary == pq.read_table(paths["sdss_dr16.specobj"]).num_rows
    assert n_all == pq.read_table(paths["sdss_dr16.specobjall"]).num_rows > n_primary
    explicit = rows(legacy(client, "scienceprimary = 0", catalog="sdss_dr16.specobjall"))
    assert len(explicit) == n_all - n_primary


def test_polygon_query(spec):
    client, _ = spec
    poly = "53.1,-28.2,53.3,-28.2,53.3,-28.0,53.1,-28.0"
    got = rows(client.get("/query", params={"polygon": poly, "fields": "ra,dec"}))
    assert got
    assert all(53.09 < float(r["ra"]) < 53.31 and -28.21 < float(r["dec"]) < -27.99 for r in got)
    legacy_form = rows(legacy(client, f"q3c_poly_query(ra,dec,ARRAY[{poly}])", fields="ra,dec"))
    assert legacy_form == got


@pytest.mark.parametrize(
    "cond",
    [
        "1=1; DROP TABLE x",
        "z > 0.1; DELETE FROM sdss_dr16.specobj",
        "z > (SELECT max(z) FROM sdss_dr16.specobjall)",
        "exists (select 1 from pg_user)",
        "pg_sleep(10) = 1",
        "nosuchcolumn > 1",
        "class = 'GALAXY' OR 1=1) UNION SELECT * FROM users --",
        "q3c_radial_query(ra,dec,(select 1),1,1)",
        "z > 0.1 order by z; drop table x",
        "z > 0.1 limit 10 offset 5",
        "z > 0.1 order by secret_column",
    ],
)
def test_injection_attempts_are_400(spec, cond):
    client, _ = spec
    response = legacy(client, cond)
    assert response.status_code == 400
    assert response.text.startswith("Error: ")


def test_unknown_fields_catalog_context(spec):
    client, _ = spec
    assert client.get("/query", params={"fields": "specobjid,password"}).status_code == 400
    assert client.get("/query", params={"catalog": "pg_catalog.pg_user"}).status_code == 400
    assert client.get("/query", params={"context": "sdss_dr7"}).status_code == 400
    assert client.get("/query", params={"ra": "1", "dec": "2"}).status_code == 400


def getspec(client, ids, **form):
    data = {
        "id_list": str(ids),
        "values": "all",
        "format": "numpy",
        "align": "False",
        "cutout": "",
        "w0": "None",
        "w1": "None",
        "context": "sdss_dr16",
    } | form
    return client.post("/getSpec", data=data)


def test_getspec_single_npy(spec):
    client, paths = spec
    value = pq.read_table(paths["sdss_dr16.specobj"])["specobjid"][0].as_py()
    response = getspec(client, [value])
    assert response.status_code == 200
    arr = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert arr.dtype == SPEC_DTYPE
    assert arr.ndim == 1
    assert arr.size > 3000
    assert np.isfinite(arr["flux"]).all()
    again = np.load(io.BytesIO(getspec(client, [value]).content))
    assert np.array_equal(arr, again)


def test_getspec_align_values_and_listspan(spec):
    client, paths = spec
    ids = pq.read_table(paths["sdss_dr16.specobj"])["specobjid"].to_pylist()[:4]
    span = json.loads(client.post("/listSpan", data={"id_list": str(ids)}).text)
    response = getspec(client, ids, align="True", values="flux,loglam")
    arr = np.load(io.BytesIO(response.content))
    assert arr.dtype.names == ("flux", "loglam")
    assert arr.shape[0] == 4
    assert np.isclose(arr["loglam"][0, 0], span["w0"], atol=1e-4)
    assert np.isclose(arr["loglam"][0, -1], span["w1"], atol=1e-4)
    singles = [np.load(io.BytesIO(getspec(client, [i]).content)) for i in ids]
    for row, single in zip(arr, singles, strict=True):
        start = round(float(single["loglam"][0] - span["w0"]) / 1e-4)
        assert np.array_equal(row["flux"][start : start + single.size], single["flux"])
        assert (row["flux"][:start] == 0).all()


def test_getspec_cutout_and_tuples(spec):
    client, _ = spec
    response = getspec(client, "[(9701, 57720, 1-3)]", align="True", cutout="4000,5000")
    arr = np.load(io.BytesIO(response.content))
    assert arr.shape[0] == 3
    wave = 10 ** arr["loglam"][0].astype(float)
    assert wave[0] >= 3999.9
    assert wave[-1] <= 5000.1


def test_getspec_errors(spec):
    client, paths = spec
    ids = pq.read_table(paths["sdss_dr16.specobj"])["specobjid"].to_pylist()[:2]
    assert getspec(client, ids).status_code == 400  # several ids without align
    assert getspec(client, [123]).status_code == 400  # no such spectrum
    assert getspec(client, ids[:1], values="flux,secret").status_code == 400
    assert getspec(client, "[1; drop]").status_code == 400
    assert getspec(client, "[(*, *, 1)]").status_code == 400


def test_metadata_routes(spec):
    client, _ = spec
    ctx = client.get("/contexts", params={"context": "sdss_dr16", "format": "text"}).json()
    assert ctx["id_main"] == "specobjid"
    assert ctx["catalog"] == "sdss_dr16.specobj"
    assert "sdss_dr16" in client.get("/contexts").text
    assert client.get(
        "/catalogs", params={"context": "sdss_dr16", "format": "csv"}
    ).text.startswith("catalog_name,description\nsdss_dr16.specobj,")
    assert "default" in client.get("/profiles").text
    assert client.get("/validate", params={"what": "context", "value": "sdss_dr16"}).text == "OK"
    assert client.get("/validate", params={"what": "context", "value": "nope"}).text == "Error"
    assert client.get("/available").text == "True"


def test_cond_sees_the_signed_database_column_like_the_real_service(spec):
    """The service's SQL runs over signed bigint ids; its CSV output is unsigned (A.5)."""
    client, paths = spec
    ids = pq.read_table(paths["sdss_dr16.specobj"]).column("specobjid").to_numpy()
    big = np.sort(ids[ids >= 2**63])
    assert len(big) > 100
    negative = rows(legacy(client, "specobjid < 0"))
    assert sorted(int(r["specobjid"]) for r in negative) == big.tolist()
    # ORDER BY sorts the signed values: the smallest signed id is the smallest id >= 2**63.
    first = rows(legacy(client, "specobjid IS NOT NULL order by specobjid limit 2"))
    assert [int(r["specobjid"]) for r in first] == big[:2].tolist()
    signed = int(big[0]) - 2**64
    assert [int(r["specobjid"]) for r in rows(legacy(client, f"specobjid = {signed}"))] == [
        int(big[0])
    ]


def test_the_smallest_bigint_literal_is_a_number_like_in_sql(spec):
    """``-9223372036854775808`` is the least signed bigint, not a wrapped unsigned value."""
    client, paths = spec
    n_rows = pq.read_table(paths["sdss_dr16.specobj"]).num_rows
    assert len(rows(legacy(client, "specobjid > -9223372036854775808"))) == n_rows
    assert rows(legacy(client, "specobjid < -9223372036854775808")) == []
