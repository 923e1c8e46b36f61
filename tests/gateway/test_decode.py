"""gateway.formats.decode over real stand-in answers (HSC, SIA, spectral) and over edge-case bodies."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.formats.decode import DecodeError, ServiceError, decode, error_text
from planners.hsc_tables import load_columns
from planners.spectral import COLUMNS as SPEC_COLUMNS
from planners.sql_catalog import ColumnInfo
from standins.data import DemoData, ensure_demo_data
from standins.hsc import create_hsc_app
from standins.sia import create_sia_app
from standins.spectral import create_spectral_app
from tests.live_server import serve_app

HSC_COLUMNS = load_columns("hsc_v3_summary_magaper2")
CONE = {"ra": "53.2", "dec": "-28.1", "radius": "0.05"}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def hsc(demo: DemoData) -> Iterator[str]:
    with serve_app(create_hsc_app(demo)) as url:
        yield url + "/api/v0.1/hsc"


@pytest.fixture(scope="module")
def sia(demo: DemoData) -> Iterator[str]:
    with serve_app(create_sia_app(demo)) as url:
        yield url


@pytest.fixture(scope="module")
def spectral(demo: DemoData) -> Iterator[str]:
    with serve_app(create_spectral_app(demo)) as url:
        yield url + "/spec"


# --------------------------------------------------------------------------- real answers


@pytest.mark.integration
def test_hsc_cone_same_rows_in_csv_json_votable(hsc: str) -> None:
    tables = {}
    for fmt in ("csv", "json", "votable"):
        body = httpx.get(f"{hsc}/v3/summary/magaper2.{fmt}", params=CONE).content
        tables[fmt] = decode(body, fmt, HSC_COLUMNS)
    csv, js, vot = tables["csv"], tables["json"], tables["votable"]
    assert csv.table.num_rows > 50
    assert csv.table.column_names == js.table.column_names == vot.table.column_names
    for name in ("MatchID", "MatchRA", "MatchDec", "CI", "NumImages", "TargetName"):
        assert csv.table.column(name).to_pylist() == js.table.column(name).to_pylist(), name
        assert csv.table.column(name).to_pylist() == vot.table.column(name).to_pylist(), name
    # Types come from the planner's column list, not from guessing.
    assert csv.table.schema.field("MatchID").type == pa.int64()
    assert csv.table.schema.field("TargetName").type == pa.string()
    match_ra = next(c for c in csv.columns if c.name == "MatchRA")
    assert match_ra.unit == "deg"
    assert not any(d.overflow for d in tables.values())


@pytest.mark.integration
def test_hsc_csv_empty_cells_are_nulls(hsc: str) -> None:
    body = httpx.get(f"{hsc}/v3/summary/magaper2.csv", params=CONE).content
    decoded = decode(body, "csv", HSC_COLUMNS)
    # Sparse filter columns are mostly NULL in the demo data, written as empty cells.
    assert any(decoded.table.column(c).null_count for c in decoded.table.column_names)


@pytest.mark.integration
def test_sia_pos_query(sia: str) -> None:
    body = httpx.get(f"{sia}/query", params={"POS": "CIRCLE 53.2 -28.1 0.5"}).content
    decoded = decode(body, "votable")
    names = decoded.table.column_names
    assert {"obs_id", "s_ra", "s_dec", "access_url", "s_region"} <= set(names)
    assert decoded.table.num_rows > 10
    assert not decoded.overflow
    s_ra = next(c for c in decoded.columns if c.name == "s_ra")
    assert (s_ra.datatype, s_ra.unit, s_ra.ucd) == ("double", "deg", "pos.eq.ra")


@pytest.mark.integration
def test_sia_maxrec_gives_overflow(sia: str) -> None:
    params = {"POS": "CIRCLE 53.2 -28.1 0.5", "MAXREC": "2"}
    decoded = decode(httpx.get(f"{sia}/query", params=params).content, "votable")
    assert decoded.table.num_rows == 2
    assert decoded.overflow


@pytest.mark.integration
def test_sia_usage_fault_message(sia: str) -> None:
    response = httpx.get(f"{sia}/query", params={"BAND": "-2"})
    assert response.status_code == 400
    assert error_text(response.content, response.headers["content-type"]).startswith("UsageFault")
    with pytest.raises(ServiceError, match="UsageFault"):
        decode(response.content, "votable")


@pytest.mark.integration
def test_spectral_query_keeps_unsigned_ids(spectral: str, demo: DemoData) -> None:
    params = {**CONE, "radius": "0.5", "fields": "specobjid,ra,dec,z,class,run2d"}
    body = httpx.get(f"{spectral}/query", params=params).content
    decoded = decode(body, "csv", SPEC_COLUMNS)
    ids = decoded.table.column("specobjid")
    assert ids.type == pa.uint64()  # values above 2**63 - 1: int64 would fail, double would round
    truth = set(pq.read_table(demo.tables()["sdss_dr16.specobj"]).column("specobjid").to_pylist())
    assert set(ids.to_pylist()) <= truth
    assert decoded.table.schema.field("run2d").type == pa.string()


@pytest.mark.integration
def test_spectral_getspec_npy(spectral: str) -> None:
    csv = httpx.get(f"{spectral}/query", params={"fields": "specobjid", "cond": "limit 2"})
    ids = decode(csv.content, "csv", SPEC_COLUMNS).table.column("specobjid").to_pylist()
    form = {"id_list": f"[{ids[0]}, {ids[1]}]", "values": "flux,loglam", "align": "True"}
    aligned = decode(httpx.post(f"{spectral}/getSpec", data=form).content, "npy")
    assert aligned.table.column_names == ["flux", "loglam"]
    assert aligned.table.num_rows == 2  # one row per spectrum, pixels as fixed-size lists
    assert pa.types.is_fixed_size_list(aligned.table.schema.field("flux").type)
    single = {"id_list": f"[{ids[0]}]", "values": "all", "align": "False"}
    one = decode(httpx.post(f"{spectral}/getSpec", data=single).content, "npy")
    assert one.table.num_rows > 1000  # one row per pixel
    assert {"flux", "loglam", "ivar"} <= set(one.table.column_names)


@pytest.mark.integration
def test_spectral_listspan_json(spectral: str) -> None:
    csv = httpx.get(f"{spectral}/query", params={"fields": "specobjid", "cond": "limit 1"})
    ident = decode(csv.content, "csv", SPEC_COLUMNS).table.column("specobjid")[0].as_py()
    body = httpx.post(f"{spectral}/listSpan", data={"id_list": f"[{ident}]"}).content
    decoded = decode(body, "json")
    assert decoded.table.column_names == ["w0", "w1"]
    assert decoded.table.num_rows == 1


# --------------------------------------------------------------------------- edge cases


def test_csv_quoted_empty_string_is_not_null() -> None:
    body = b'a,b,c\n1,"",x\n,,\n'
    table = decode(body, "csv", (ColumnInfo("a", "int"), ColumnInfo("b", "char", "*"))).table
    assert table.column("a").to_pylist() == [1, None]
    assert table.column("b").to_pylist() == ["", None]
    assert table.schema.field("a").type == pa.int32()


def test_csv_header_only_gives_typed_empty_table() -> None:
    decoded = decode(b"id,name\n", "csv", (ColumnInfo("id", "long"),))
    assert decoded.table.num_rows == 0
    assert decoded.table.schema.field("id").type == pa.int64()
    assert decoded.table.schema.field("name").type == pa.string()


def test_datalab_param_error_text_is_a_service_error() -> None:
    with pytest.raises(ServiceError, match="Param Error: missing id"):
        decode(b"Param Error: missing id", "csv")


def test_empty_body_is_malformed() -> None:
    for fmt in ("csv", "votable"):
        with pytest.raises(DecodeError):
            decode(b"", fmt)


def test_json_shapes() -> None:
    hsc = {"info": [{"name": "objID", "type": "long"}], "data": [["68960059717834079"], [None]]}
    table = decode(json.dumps(hsc).encode(), "json").table
    assert table.column("objID").to_pylist() == [68960059717834079, None]
    records = [{"status": {"success": True}}, {"ra": 1.0, "_dr": "DR1"}, {"ra": 2.0, "_dr": "DR1"}]
    table = decode(json.dumps(records).encode(), "json").table
    assert table.column("ra").to_pylist() == [1.0, 2.0]
    unflat = {"data": [{"a": 1, "b": "x"}, {"a": 2}]}
    assert decode(json.dumps(unflat).encode(), "json").table.column("b").to_pylist() == ["x", None]
    with pytest.raises(ServiceError, match="bad column"):
        decode(b'{"error": "bad column", "param": "x"}', "json")
    with pytest.raises(DecodeError, match="unknown shape"):
        decode(b'{"nested": {"a": 1}}', "json")


def test_npy_big_endian_and_pickle_refused() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4, dtype=">f8"))
    assert decode(buffer.getvalue(), "npy").table.column("value").to_pylist() == [0, 1, 2, 3]
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DecodeError, match=r"malformed \.npy"):
        decode(buffer.getvalue(), "npy")


def test_error_text_sources() -> None:
    assert error_text(b'{"detail": "nope"}', "application/json") == "nope"
    assert error_text(b"  <html>\n<b>Bad</b>  gateway </html>", "text/html").startswith("<html>")
    assert error_text(b"", "text/plain") == "(empty body)"


def test_unknown_format() -> None:
    with pytest.raises(DecodeError, match="unknown response format"):
        decode(b"x", "fits")
