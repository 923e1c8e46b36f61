"""SIAv2 stand-in over real sockets: pyvo's SIA2Service for every parameter, raw HTTP for faults."""

from __future__ import annotations

import warnings

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy.time import Time
from pyvo.dal.exceptions import DALOverflowWarning, DALQueryError

from standins.data_rubin import generate_rubin
from standins.sia import create_sia_app
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

RUBIN_EXTRAS = [
    "dataproduct_subtype",
    "lsst_band",
    "lsst_filter",
    "lsst_tract",
    "lsst_patch",
    "lsst_visit",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    paths = generate_rubin(tmp_path_factory.mktemp("sia"))
    table = pq.read_table(paths["ivoa.ObsCore"])
    with serve_app(create_sia_app(paths)) as url:
        yield url, table


@pytest.fixture(scope="module")
def svc(demo):
    return pyvo.dal.SIA2Service(demo[0])


def _tiny_table() -> pa.Table:
    """Four rows with hand-picked values (NULLs included) for exact semantics checks."""
    square = [10.0, 0.0, 11.0, 0.0, 11.0, 1.0, 10.0, 1.0]
    far = [200.0, 50.0, 201.0, 50.0, 201.0, 51.0, 200.0, 51.0]
    return pa.table(
        {
            "dataproduct_type": ["image", "cube", "image", None],
            "calib_level": pa.array([1, 2, 3, 2], pa.int32()),
            "obs_collection": ["A", "B", "A", "B"],
            "obs_id": ["o1", "o2", "o3", "o4"],
            "obs_publisher_did": [
                "ivo://x/y?One",
                "ivo://x/y?two",
                "ivo://x/y?three",
                "ivo://x/y?four",
            ],
            "pol_states": ["/I/", "/I/Q/U/", None, "/XX/YY/"],
            "obs_release_date": [
                "2020-01-01T00:00:00",
                "2021-06-01T00:00:00",
                None,
                "2023-03-01T00:00:00",
            ],
            "em_min": [4e-7, 6e-7, None, 1e-6],
            "em_max": [5e-7, 7e-7, None, 2e-6],
            "t_exptime": [10.0, None, 30.0, 100.0],
            "s_ra": [10.5, 200.5, 10.5, 10.5],
            "s_dec": [0.5, 50.5, 0.5, 0.5],
            "s_region": pa.array([square, far, square, None], pa.list_(pa.float64())),
        }
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "obscore.parquet"
    pq.write_table(_tiny_table(), path)
    with serve_app(create_sia_app({"ivoa.ObsCore": path})) as url:
        yield pyvo.dal.SIA2Service(url)


def ids(results):
    return sorted(results.to_table()["obs_id"].tolist())


def count_where(table, mask):
    return int(np.count_nonzero(mask))


# ----------------------------------------------------------------------------- VOSI


def test_capabilities_and_availability(demo):
    url, _ = demo
    caps = httpx.get(f"{url}/capabilities")
    assert caps.status_code == 200
    assert 'standardID="ivo://ivoa.net/std/SIA#query-2.0"' in caps.text
    assert f"{url}/query" in caps.text
    avail = httpx.get(f"{url}/availability")
    assert "<avail:available>true</avail:available>" in avail.text


def test_accepts_an_object_with_table_attributes(demo, tmp_path):
    class Demo:
        def __init__(self, path):
            self.ivoa_obscore = path

    path = tmp_path / "oc.parquet"
    pq.write_table(_tiny_table(), path)
    with serve_app(create_sia_app(Demo(path))) as url:
        assert httpx.get(f"{url}/query").text.count("<TR>") == 4


def test_server_maxrec_limit_overflows_and_pyvo_warns(tmp_path):
    path = tmp_path / "oc.parquet"
    pq.write_table(_tiny_table(), path)
    app = create_sia_app({"ivoa.ObsCore": path}, default_maxrec=2)
    with serve_app(app) as url, pytest.warns(DALOverflowWarning):
        res = pyvo.dal.SIA2Service(url).search(collection=["A", "B"])
    assert len(res) == 2


def test_pyvo_finds_the_query_endpoint(svc, demo):
    assert svc.query_ep == f"{demo[0]}/query"


# ----------------------------------------------------------------------------- response


def test_response_has_obscore_and_rubin_columns(svc, demo):
    res = svc.search(pos=(53.2, -28.1, 0.01), maxrec=1000)
    table = res.to_table()
    for name in [
        "dataproduct_type",
        "calib_level",
        "obs_collection",
        "obs_id",
        "obs_publisher_did",
        "access_url",
        "access_format",
        "s_ra",
        "s_dec",
        "s_fov",
        "s_region",
        "s_resolution",
        "t_min",
        "t_max",
        "em_min",
        "em_max",
        "o_ucd",
        "pol_states",
        "facility_name",
        "instrument_name",
        *RUBIN_EXTRAS,
    ]:
        assert name in table.colnames, name
    assert table["s_ra"].unit == "deg"
    assert table["em_min"].unit == "m"
    field = res.votable.get_field_by_id_or_name("s_region")
    assert field.xtype == "polygon"
    assert field.utype == "obscore:Char.SpatialAxis.Coverage.Support.Area"
    assert len(table["s_region"][0]) == 8
    # Every row whose footprint covers the centre comes back: deep coadds and visit images.
    assert {"lsst.deep_coadd", "lsst.visit_image"} <= set(table["dataproduct_subtype"])


# ----------------------------------------------------------------------------- POS


def test_pos_circle_small_and_far(svc):
    centre = svc.search(pos=(53.2, -28.1, 0.001))
    assert len(centre) > 0
    assert len(svc.search(pos=(120.0, 10.0, 1.0))) == 0


def test_pos_circle_touching_a_footprint_edge(tiny):
    # The square spans RA 10-11: a circle centred 0.05 deg east of its edge.
    assert ids(tiny.search(pos=(11.05, 0.5, 0.06))) == ["o1", "o3"]
    assert ids(tiny.search(pos=(11.05, 0.5, 0.04))) == []


def test_pos_range_and_polygon(tiny):
    assert ids(tiny.search(pos=(10.9, 12.0, -1.0, 0.2))) == ["o1", "o3"]
    assert ids(tiny.search(pos=(0.0, 360.0, 49.0, 90.0))) == ["o2"]
    assert ids(tiny.search(pos=(20.0, 30.0, -1.0, 1.0))) == []
    # A polygon crossing the square without any vertex inside it.
    assert ids(tiny.search(pos=(9.0, 0.4, 12.0, 0.4, 12.0, 0.6, 9.0, 0.6))) == ["o1", "o3"]
    assert ids(tiny.search(pos=(12.0, 0.0, 13.0, 0.0, 12.5, 1.0))) == []


def test_range_with_open_latitude(demo):
    url, _ = demo
    body = httpx.get(f"{url}/query", params={"POS": "RANGE 0 360 -30 +Inf", "MAXREC": "5000"}).text
    assert body.count("<TR>") > 0
    north = httpx.get(f"{url}/query", params={"POS": "RANGE 0 360 89.0 +Inf"}).text
    assert north.count("<TR>") == 0


def test_repeated_pos_is_ored(tiny):
    both = tiny.search(pos=[(10.5, 0.5, 0.1), (200.5, 50.5, 0.1)])
    assert ids(both) == ["o1", "o2", "o3"]


# ----------------------------------------------------------------------------- intervals


def test_band_overlap_and_scalar(svc, demo):
    _, table = demo
    em_min, em_max = table["em_min"].to_numpy(), table["em_max"].to_numpy()
    expected = count_where(table, (em_min <= 560e-9) & (em_max >= 550e-9))
    assert len(svc.search(band=(550e-9, 560e-9), maxrec=1000)) == expected
    bands = set(svc.search(band=620e-9, maxrec=1000).to_table()["lsst_band"])
    assert bands == {"r"}


def test_band_with_null_columns_never_matches(tiny):
    assert ids(tiny.search(band=(0, float("inf")))) == ["o1", "o2", "o4"]


def test_time_with_astropy_time(svc, demo):
    _, table = demo
    t0, t1 = 60625.0, 60626.0
    expected = count_where(
        table, (table["t_min"].to_numpy() <= t1) & (table["t_max"].to_numpy() >= t0)
    )
    res = svc.search(time=(Time(t0, format="mjd"), Time(t1, format="mjd")), maxrec=1000)
    assert len(res) == expected > 0


@pytest.mark.parametrize(
    ("kwarg", "column", "lo", "hi"),
    [
        ("field_of_view", "s_fov", 0.25, 0.3),
        ("spatial_resolution", "s_resolution", 0.8, 1.0),
        ("spectral_resolving_power", "em_res_power", 3.0, 3.5),
        ("exptime", "t_exptime", 0.0, 60.0),
        ("timeres", "t_resolution", 100.0, float("inf")),
    ],
)
def test_within_interval_params(svc, demo, kwarg, column, lo, hi):
    _, table = demo
    values = table[column].to_numpy()
    expected = count_where(table, (values >= lo) & (values <= hi))
    assert 0 < expected < table.num_rows
    assert len(svc.search(**{kwarg: (lo, hi)}, maxrec=1000)) == expected


def test_exptime_repeated_ranges_are_ored(tiny):
    res = tiny.search(exptime=[(float("-inf"), 15.0), (50.0, float("inf"))])
    assert ids(res) == ["o1", "o4"]  # o2 has a NULL exposure time


# ----------------------------------------------------------------------------- strings


def test_string_params(svc, demo):
    _, table = demo
    n_visit = table["dataproduct_subtype"].to_pylist().count("lsst.visit_image")
    assert len(svc.search(collection="LSST.DP1", maxrec=1000)) == table.num_rows
    assert len(svc.search(collection="lsst.dp1")) == 0  # case-sensitive
    assert len(svc.search(facility="Rubin:Simonyi", maxrec=1000)) == table.num_rows
    assert len(svc.search(instrument="LSSTComCam", maxrec=1)) == 1
    assert len(svc.search(target_name="ECDFS", maxrec=1000)) == table.num_rows
    assert (
        len(svc.search(res_format="application/x-votable+xml;content=datalink", maxrec=1000))
        == table.num_rows
    )
    assert len(svc.search(DPSUBTYPE="lsst.visit_image", maxrec=1000)) == n_visit
    assert len(svc.search(data_type="image", DPSUBTYPE="lsst.visit_image", maxrec=1000)) == n_visit
    assert len(svc.search(data_type="cube")) == 0


def test_calib_repeated(svc, demo):
    _, table = demo
    levels = table["calib_level"].to_numpy()
    assert len(svc.search(calib_level=2, maxrec=1000)) == int((levels == 2).sum())
    assert len(svc.search(calib_level=[2, 3], maxrec=1000)) == table.num_rows


def test_id_is_case_insensitive_and_caps_maxrec(svc, demo):
    _, table = demo
    did = table["obs_publisher_did"][5].as_py()
    res = svc.search(publisher_did=did.upper())
    assert res.to_table()["obs_publisher_did"][0] == did
    two = svc.search(publisher_did=[did, table["obs_publisher_did"][6].as_py()])
    assert len(two) == 2


def test_pol_and_releasedate(tiny):
    assert ids(tiny.search(pol="I")) == ["o1", "o2"]
    assert ids(tiny.search(pol=["U", "YY"])) == ["o2", "o4"]
    assert ids(tiny.search(RELEASEDATE="2021-01-01 2022-01-01")) == ["o2"]


def test_params_are_anded(tiny):
    assert ids(tiny.search(collection="A", calib_level=[1, 2])) == ["o1"]
    assert ids(tiny.search(data_type="cube", collection="A")) == []


def test_releasedate_without_the_column_is_empty(svc):
    assert len(svc.search(RELEASEDATE="2020-01-01")) == 0


# ----------------------------------------------------------------------------- MAXREC / format


def test_maxrec_overflow_and_zero(svc):
    res = svc.search(collection="LSST.DP1", maxrec=7)
    assert len(res) == 7
    assert res.status[0] == "OVERFLOW"  # pyvo does not warn when the client chose MAXREC
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = svc.search(collection="LSST.DP1", maxrec=0)
    assert len(empty) == 0
    assert "obs_id" in empty.to_table().colnames


def test_default_maxrec_and_overflow_marker(demo):
    url, table = demo
    body = httpx.get(f"{url}/query", params={"maxrec": "3"}).text
    assert body.count("<TR>") == 3
    assert body.index('value="OVERFLOW"') > body.index("</TABLE>")
    full = httpx.get(f"{url}/query").text
    assert full.count("<TR>") == table.num_rows
    assert "OVERFLOW" not in full


def test_post_and_case_insensitive_names(demo):
    url, _ = demo
    get = httpx.get(f"{url}/query", params={"pos": "CIRCLE 53.2 -28.1 0.01", "Calib": "3"})
    post = httpx.post(f"{url}/query", data={"POS": "CIRCLE 53.2 -28.1 0.01", "CALIB": "3"})
    assert get.status_code == post.status_code == 200
    assert get.text == post.text
    assert get.text.count("<TR>") > 0


def test_responseformat(demo):
    url, _ = demo
    ok = httpx.get(
        f"{url}/query", params={"RESPONSEFORMAT": "application/x-votable+xml", "MAXREC": "1"}
    )
    assert ok.status_code == 200
    assert 'name="this"' in ok.text  # the service descriptor resource
    assert "SIA#query-2.0" in ok.text


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"BAND": "-2"}, "invalid BAND value -2"),
        ({"BAND": "7e-7 4e-7"}, "lower bound above upper bound"),
        ({"TIME": "abc"}, "not a number"),
        ({"TIME": "1 2 3"}, "expected 'lo hi'"),
        ({"FOV": "NaN"}, "invalid FOV"),
        ({"POS": "CIRCLE 10 100 1"}, "dec in [-90, 90]"),
        ({"POS": "CIRCLE 10 10"}, "CIRCLE needs"),
        ({"POS": "CIRCLE 10 10 -1"}, "radius"),
        ({"POS": "BOX 10 10 1 1"}, "shape must be"),
        ({"POS": "RANGE 0 10 20 10"}, "RANGE bounds"),
        ({"POS": "POLYGON 1 1 2 2"}, "POLYGON needs"),
        ({"POS": "POLYGON 0 0 120 0 240 0"}, "degenerate polygon"),
        ({"POS": ""}, "empty POS"),
        ({"CALIB": "7"}, "invalid CALIB"),
        ({"CALIB": "two"}, "invalid CALIB"),
        ({"POL": "Z"}, "invalid POL"),
        ({"DPTYPE": "spectrum"}, "invalid DPTYPE"),
        ({"MAXREC": "-1"}, "invalid MAXREC"),
        ({"MAXREC": "many"}, "invalid MAXREC"),
        ({"RESPONSEFORMAT": "text/csv"}, "RESPONSEFORMAT"),
        ({"RELEASEDATE": "yesterday"}, "RELEASEDATE"),
        ([("MAXREC", "1"), ("MAXREC", "2")], "only once"),
    ],
)
def test_usage_faults(demo, params, message):
    url, _ = demo
    response = httpx.get(f"{url}/query", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    assert '<INFO name="QUERY_STATUS" value="ERROR">UsageFault: ' in response.text
    assert message in response.text.replace("&amp;", "&")


def test_pyvo_reports_faults(svc):
    # pyvo reads the error VOTable of the HTTP 400 answer and raises its message.
    with pytest.raises(DALQueryError, match="UsageFault: invalid DPTYPE value 'spectrum'"):
        svc.search(DPTYPE="spectrum")  # pyvo checks calib_level itself, not extra params


def test_one_bad_value_among_good_ones_faults(demo):
    url, _ = demo
    response = httpx.get(f"{url}/query", params=[("CALIB", "2"), ("CALIB", "x")])
    assert response.status_code == 400
