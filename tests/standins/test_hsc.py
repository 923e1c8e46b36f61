"""The HSC REST stand-in over real sockets: the notebooks' request pattern, every parameter,
every refusal."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import duckdb
import httpx
import numpy as np
import pytest
from astropy.io import ascii as astropy_ascii
from astropy.io.votable import parse_single_table

from standins.data import DemoData
from standins.hsc import create_hsc_app
from standins.hsc_objects import SMC_QUERY_ROWS
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

SMC_COLUMNS = ["MatchID", "MatchRA", "MatchDec", "CI", "A_F555W", "A_F555W_N",
               "A_F555W_MAD", "A_F814W", "A_F814W_N", "A_F814W_MAD"]  # fmt: skip
SMC_CONSTRAINTS: dict[str, Any] = {
    "MatchDec.gt": -74.3, "MatchDec.lt": -71.3, "MatchRA.gt": 11.68659,
    "MatchRA.lt": 14.68659, "A_F555W_N.gte": 1, "A_F814W_N.gte": 1, "CI.gt": 0.9, "CI.lt": 1.6,
}  # fmt: skip
ECDFS: dict[str, Any] = {"ra": 53.2, "dec": -28.1}


@pytest.fixture(scope="module")
def base(demo_data: DemoData) -> Iterator[str]:
    with serve_app(create_hsc_app(demo_data)) as url:
        yield url + "/api/v0.1/hsc"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=120) as c:
        yield c


def oracle(demo_data: DemoData, table: str, where: str) -> list[tuple[object, ...]]:
    path = demo_data.tables()[table]
    return (
        duckdb.connect().execute(f"SELECT * FROM read_parquet('{path}') WHERE {where}").fetchall()
    )


def csv_table(text: str) -> Any:
    return astropy_ascii.read(text, format="csv")


# -- the notebook's own pattern -----------------------------------------------------------


def test_notebook_metadata_then_csv_search(base: str, client: httpx.Client) -> None:
    meta = client.get(f"{base}/v3/summary/magaper2/metadata").json()
    names = [m["name"] for m in meta]
    assert names[:3] == ["MatchID", "MatchRA", "MatchDec"]
    assert "A_F814W" in names[19::3]
    params = {
        "columns": "[MatchID,MatchRA,MatchDec,NumImages,A_F814W]",
        "pagesize": 10,
        "numimages.gte": 5,
        **ECDFS,
        "radius": 0.1,
    }
    r = client.get(f"{base}/v3/summary/magaper2.csv", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    tab = astropy_ascii.read(r.text)  # what the notebook does: no options
    assert tab.colnames == ["MatchID", "MatchRA", "MatchDec", "NumImages", "A_F814W"]
    assert 0 < len(tab) <= 10
    assert (tab["NumImages"] >= 5).all()
    assert r.text.count("MatchID") == 1  # exactly one header line


def test_metadata_has_the_superset_keys(base: str, client: httpx.Client) -> None:
    for path in (
        "v3/detailed/metadata",
        "v2/summary/magauto/metadata",
        "v3/propermotions/metadata",
    ):
        meta = client.get(f"{base}/{path}").json()
        assert isinstance(meta, list)
        keys = {
            "name",
            "type",
            "description",
            "unit",
            "ucd",
            "column_name",
            "db_type",
            "datatype",
            "utype",
            "size",
            "arraysize",
            "principal",
            "indexed",
            "std",
            "column_index",
            "search_priority",
            "default_value",
        }
        assert keys <= set(meta[0])
    v2 = [m["name"] for m in client.get(f"{base}/v2/summary/magauto/metadata").json()]
    assert "A_F814W_Sigma" in v2
    assert "A_F814W_MAD" not in v2


@pytest.mark.slow
def test_smc_notebook_query_returns_the_documented_count(base: str, client: httpx.Client) -> None:
    params = {**SMC_CONSTRAINTS, "columns": "[" + ",".join(SMC_COLUMNS) + "]", "pagesize": 2000000}
    r = client.get(f"{base}/v3/summary/magaper2.csv", params=params)
    assert r.status_code == 200
    tab = csv_table(r.text)
    assert len(tab) == SMC_QUERY_ROWS == 764_000
    assert tab.colnames == SMC_COLUMNS
    assert ((tab["MatchDec"] > -74.3) & (tab["MatchDec"] < -71.3)).all()
    assert ((tab["MatchRA"] > 11.68659) & (tab["MatchRA"] < 14.68659)).all()
    assert ((tab["A_F555W_N"] >= 1) & (tab["A_F814W_N"] >= 1)).all()
    assert ((tab["CI"] > 0.9) & (tab["CI"] < 1.6)).all()
    assert len(np.unique(tab["MatchID"])) == SMC_QUERY_ROWS


# -- cone ------------------------------------------------------------------------------


def _sep_deg(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    r, d = np.radians(np.asarray(ra)), np.radians(np.asarray(dec))
    r0, d0 = np.radians(ra0), np.radians(dec0)
    hav = np.sin((d - d0) / 2) ** 2 + np.cos(d) * np.cos(d0) * np.sin((r - r0) / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(hav))))


@pytest.mark.parametrize("radius_key", ["radius", "sr", "RADIUS"])
def test_cone_is_great_circle_and_complete(
    base: str, client: httpx.Client, demo_data: DemoData, radius_key: str
) -> None:
    r = client.get(
        f"{base}/v3/summary/magaper2.csv",
        params={**ECDFS, radius_key: 0.05, "columns": "MatchID,MatchRA,MatchDec"},
    )
    tab = csv_table(r.text)
    sep = _sep_deg(tab["MatchRA"], tab["MatchDec"], 53.2, -28.1)
    assert (sep <= 0.05).all()
    everything = oracle(demo_data, "hscv3.summary", "MatchDec BETWEEN -28.2 AND -28.0")
    ids = np.array([row[0] for row in everything])
    ra, dec = (np.array([row[i] for row in everything]) for i in (1, 2))
    expected = set(ids[_sep_deg(ra, dec, 53.2, -28.1) <= 0.05].tolist())
    assert set(tab["MatchID"].tolist()) == expected
    assert len(expected) > 50


def test_cone_on_other_tables_uses_their_positions(base: str, client: httpx.Client) -> None:
    pm = client.get(
        f"{base}/v3/propermotions.csv",
        params={"ra": 269.7213, "dec": -29.1954, "radius": 0.005, "columns": "raMean,decMean"},
    )
    tab = csv_table(pm.text)
    assert len(tab) > 100
    assert (_sep_deg(tab["raMean"], tab["decMean"], 269.7213, -29.1954) <= 0.005).all()
    det = client.get(f"{base}/v3/detailed.csv", params={**ECDFS, "radius": 0.02, "pagesize": 5})
    assert len(csv_table(det.text)) == 5


# -- criteria ----------------------------------------------------------------------------


def _count(
    client: httpx.Client, url: str, params: dict[str, Any] | list[tuple[str, object]]
) -> int:
    r = client.get(url, params=params)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("CI.gt", "1.3", "CI > 1.3"),
        ("NumImages.gt", "4", "NumImages > 4"),
        ("NumImages.gte", "4", "NumImages >= 4"),
        ("CI.lt", "1.0", "CI < 1.0"),
        ("NumImages.lt", "2", "NumImages < 2"),
        ("NumImages.lte", "2", "NumImages <= 2"),
        ("NumImages.min", "4", "NumImages >= 4"),
        ("NumImages.max", "2", "NumImages <= 2"),
        ("NumFilters", "4", "NumFilters = 4"),
        ("A_F435W_N.gte", "2", "A_F435W_N >= 2"),
        ("AbsCorr", "N", "AbsCorr = 'N'"),
        ("TargetName.like", "GOODS*", "TargetName LIKE 'GOODS%'"),
        ("TargetName.like", "%SOUTH", "TargetName LIKE '%SOUTH'"),
        ("TargetName.contains", "DELS", "contains(TargetName, 'DELS')"),
        ("StartTime.gt", "2010-01-01", "StartTime > TIMESTAMP '2010-01-01'"),
    ],
)
def test_each_decorator_matches_the_oracle(
    base: str, client: httpx.Client, demo_data: DemoData, key: str, value: str, where: str
) -> None:
    cone = "MatchDec BETWEEN -28.15 AND -28.05"
    params = {"MatchDec.gte": -28.15, "MatchDec.lte": -28.05, key: value, "pagesize": 100000}
    expected = len(oracle(demo_data, "hscv3.summary", f"{cone} AND {where}"))
    assert 0 < expected < len(oracle(demo_data, "hscv3.summary", cone))
    assert _count(client, f"{base}/v3/summary/magaper2", params) == expected


def test_repeated_key_ors_and_different_keys_and(
    base: str, client: httpx.Client, demo_data: DemoData
) -> None:
    url = f"{base}/v3/detailed"
    cols = ("columns", "SourceID")
    one = _count(
        client,
        url,
        {"Filter": "F435W", "MatchDec.lt": -28.0, "pagesize": 10**6, "columns": "SourceID"},
    )
    two = _count(
        client,
        url,
        {"Filter": "F606W", "MatchDec.lt": -28.0, "pagesize": 10**6, "columns": "SourceID"},
    )
    both = _count(
        client,
        url,
        [
            ("Filter", "F435W"),
            ("filter", "F606W"),
            ("MatchDec.lt", -28.0),
            ("pagesize", 10**6),
            cols,
        ],
    )
    assert one > 0
    assert two > 0
    assert both == one + two
    expected = oracle(
        demo_data,
        "hscv3.detailed",
        "Filter IN ('F435W', 'F606W') AND MatchDec < -28.0 AND Detector = 'ACS/WFC'",
    )
    anded = _count(
        client,
        url,
        [
            ("Filter", "F435W"),
            ("filter", "F606W"),
            ("Detector", "ACS/WFC"),
            ("MatchDec.lt", -28.0),
            ("pagesize", 10**6),
            cols,
        ],
    )
    assert anded == len(expected)


def test_matchid_lookup_and_case_insensitive_names(base: str, client: httpx.Client) -> None:
    first = client.get(
        f"{base}/v3/summary/magaper2", params={**ECDFS, "radius": 0.01, "pagesize": 1}
    ).json()
    match_id = first["data"][0][0]
    r = client.get(
        f"{base}/v3/detailed.json",
        params={"matchid": match_id, "columns": "[matchid,sourceid,FILTER,magaper2]"},
    )
    body = r.json()
    assert [i["name"] for i in body["info"]] == ["MatchID", "SourceID", "Filter", "MagAper2"]
    assert body["data"]
    assert {row[0] for row in body["data"]} == {match_id}


# -- shaping and paging --------------------------------------------------------------------


def test_columns_in_both_syntaxes(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2.csv"
    bracketed = client.get(url, params={**ECDFS, "radius": 0.01, "columns": "[MatchID, CI]"}).text
    repeated = client.get(
        url,
        params=[
            ("ra", 53.2),
            ("dec", -28.1),
            ("radius", 0.01),
            ("columns", "MatchID"),
            ("columns", "CI"),
        ],
    ).text
    assert bracketed == repeated
    assert bracketed.splitlines()[0] == "MatchID,CI"


@pytest.mark.parametrize(
    ("sort_by", "descending"),
    [("CI", False), ("CI.asc", False), ("CI.desc", True), ("asc.CI", False), ("desc.ci", True)],
)
def test_sort_by_forms(base: str, client: httpx.Client, sort_by: str, descending: bool) -> None:
    r = client.get(
        f"{base}/v3/summary/magaper2.csv",
        params={**ECDFS, "radius": 0.02, "columns": "MatchID,CI", "sort_by": sort_by},
    )
    ci = np.asarray(csv_table(r.text)["CI"])
    assert len(ci) > 10
    assert (np.diff(ci) <= 0).all() if descending else (np.diff(ci) >= 0).all()


def test_pages_are_disjoint_and_complete(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2.csv"
    cone = {**ECDFS, "radius": 0.03, "columns": "MatchID", "sort_by": "CI.desc"}
    whole = csv_table(client.get(url, params={**cone, "pagesize": 10**6}).text)["MatchID"].tolist()
    pages = [
        csv_table(client.get(url, params={**cone, "pagesize": 40, "page": p}).text)
        for p in range(1, len(whole) // 40 + 2)
    ]
    assert [i for page in pages for i in page["MatchID"].tolist()] == whole
    # Without sort_by, pages follow the file order (MatchID ascending).
    unsorted = {**cone, "sort_by": []}
    first = csv_table(client.get(url, params={**unsorted, "pagesize": 40}).text)["MatchID"].tolist()
    second = csv_table(client.get(url, params={**unsorted, "pagesize": 40, "page": 2}).text)
    assert first + second["MatchID"].tolist() == sorted(whole)[:80]
    beyond = client.get(url, params={**cone, "pagesize": 40, "page": 10**6})
    assert beyond.status_code == 200
    assert beyond.text.strip() == "MatchID"


def test_no_parameters_returns_the_first_default_page(base: str, client: httpx.Client) -> None:
    r = client.get(f"{base}/v3/summary/magaper2.csv")
    assert r.status_code == 200
    assert r.text.count("\n") == 50_000 + 1


# -- formats ------------------------------------------------------------------------------


def test_format_selection(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2"
    q = {**ECDFS, "radius": 0.01, "columns": "MatchID"}
    assert client.get(url, params=q).headers["content-type"] == "application/json"
    assert client.get(url, params={**q, "format": "csv"}).text.startswith("MatchID\n")
    assert client.get(url, params=q, headers={"Accept": "text/csv"}).text.startswith("MatchID\n")
    assert client.get(url + ".votable", params=q).text.startswith("<?xml")
    assert client.get(url + ".xml", params=q).text.startswith("<?xml")
    assert client.get(
        url, params=q, headers={"Accept": "application/x-votable+xml"}
    ).text.startswith("<?xml")
    # The path suffix wins over format=.
    assert client.get(url + ".csv", params={**q, "format": "json"}).text.startswith("MatchID\n")


def test_votable_parses_and_matches_csv(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2"
    q = {
        **ECDFS,
        "radius": 0.01,
        "columns": "[MatchID,MatchRA,A_F850LP,A_F850LP_N,TargetName,StartTime,AbsCorr]",
    }
    table = parse_single_table(
        io.BytesIO(client.get(url + ".votable", params=q).content)
    ).to_table()
    csv = csv_table(client.get(url + ".csv", params=q).text)
    assert table.colnames == csv.colnames
    assert table["MatchID"].tolist() == csv["MatchID"].tolist()
    assert np.allclose(table["MatchRA"], csv["MatchRA"], rtol=0, atol=1e-12)
    assert table["MatchRA"].unit == "deg"
    assert table["TargetName"].tolist() == csv["TargetName"].tolist()
    assert int(np.ma.count_masked(table["A_F850LP"])) == int((table["A_F850LP_N"] == 0).sum())


def test_json_options(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2.json"
    q = {**ECDFS, "radius": 0.01, "columns": "MatchID,W3_F160W,TargetName"}
    default = client.get(url, params=q).json()
    assert set(default) == {"info", "data"}
    assert [i["type"] for i in default["info"]] == ["long", "float", "char"]
    objects = client.get(
        url, params={**q, "flatten_response": "false", "include_info": "false"}
    ).json()
    assert set(objects) == {"data"}
    assert objects["data"][0] == dict(
        zip(["MatchID", "W3_F160W", "TargetName"], default["data"][0], strict=True)
    )
    as_text = client.get(url, params={**q, "raw": "false"}).json()
    assert as_text["data"][0][0] == str(default["data"][0][0])
    empty = client.get(url, params={**q, "CI.gt": 99}).json()
    assert empty["data"] == []


def test_csv_options(base: str, client: httpx.Client) -> None:
    url = f"{base}/v3/summary/magaper2.csv"
    q = {**ECDFS, "radius": 0.01, "columns": "MatchID,CI"}
    assert not client.get(url, params={**q, "include_info": "false"}).text.startswith("MatchID")
    assert client.get(url, params={**q, "delimiter": "|"}).text.startswith("MatchID|CI\n")


# -- POST ---------------------------------------------------------------------------------


def test_post_form_and_json_bodies_win_over_the_query_string(
    base: str, client: httpx.Client
) -> None:
    url = f"{base}/v3/summary/magaper2.csv"
    q = {**ECDFS, "radius": 0.01, "columns": "MatchID,CI", "sort_by": "MatchID"}
    get = client.get(url, params=q).text
    form = client.post(url, params={"radius": 0.3, "columns": "MatchRA"}, data=q).text
    body = client.post(url, params={"radius": 0.3}, json={**q, "columns": ["MatchID", "CI"]}).text
    assert get == form == body
    assert get.count("\n") > 3


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("v3/summary/magaper2", {"nosuch": 1}, "nosuch"),
        ("v3/summary/magaper2", {"CI.between": 1}, "CI.between"),
        ("v3/summary/magaper2", {"CI.gt": "abc"}, "CI.gt"),
        ("v3/summary/magaper2", {"MatchID": "x1"}, "MatchID"),
        ("v3/summary/magaper2", {"CI.like": "1*"}, "CI.like"),
        ("v3/summary/magaper2", {"StartTime.like": "2010*"}, "StartTime.like"),
        ("v3/summary/magaper2", {"StartTime.contains": "2010"}, "StartTime.contains"),
        ("v3/summary/magaper2", {"StartTime.gt": "yesterday"}, "StartTime.gt"),
        ("v3/summary/magaper2", {"ra": 1, "dec": 2, "radius": 0.51}, "radius"),
        ("v3/summary/magaper2", {"ra": 1, "dec": 2, "sr": 1}, "sr"),
        ("v3/summary/magaper2", {"ra": 1, "radius": 0.1}, "dec"),
        ("v3/summary/magaper2", {"ra": "x", "dec": 2, "radius": 0.1}, "ra"),
        ("v3/summary/magaper2", {"ra": 1, "dec": 95, "radius": 0.1}, "dec"),
        ("v3/summary/magaper2", {"ra": "nan", "dec": 2, "radius": 0.1}, "ra"),
        ("v3/summary/magaper2", {"page": 0}, "page"),
        ("v3/summary/magaper2", {"page": "two"}, "page"),
        ("v3/summary/magaper2", {"pagesize": -5}, "pagesize"),
        ("v3/summary/magaper2", {"page": 10**18, "pagesize": 10**6}, "page"),
        ("v3/summary/magaper2", {"columns": "[MatchID,nosuch]"}, "columns"),
        ("v3/summary/magaper2", {"sort_by": "nosuch.desc"}, "sort_by"),
        ("v3/summary/magaper2", {"sort_by": "CI.sideways"}, "sort_by"),
        ("v3/summary/magaper2", {"format": "fits"}, "format"),
        ("v3/summary/magaper2", {"raw": "maybe"}, "raw"),
        ("v3/summary/magaper2", {"delimiter": "x"}, "delimiter"),
        ("v3/summary/magaper2.fits", {}, "format"),
        ("v3/summary/magbest", {}, "magtype"),
        ("v3/summary", {}, "magtype"),
        ("v3/nosuch", {}, "table"),
        ("v3/hcv", {}, "table"),
        ("v2/propermotions", {}, "table"),
        ("v9/detailed", {}, "release"),
        ("v3/detailed/metadata", {}, None),
    ],
)
def test_bad_requests_get_400_naming_the_parameter(
    base: str, client: httpx.Client, path: str, params: dict[str, Any], param: str | None
) -> None:
    r = client.get(f"{base}/{path}", params=params)
    if param is None:  # control: the same path without a bad parameter works
        assert r.status_code == 200
        return
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["param"] == param
    assert body["error"]


def test_bad_json_body_is_a_400(base: str, client: httpx.Client) -> None:
    r = client.post(
        f"{base}/v3/detailed", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert json.loads(r.text)["param"] == "body"
