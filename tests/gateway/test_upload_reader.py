"""Reading TAP_UPLOAD tables."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.votable import write_votable
from gateway.tap.upload_reader import UploadError, read_csv_upload, read_upload, read_votable_upload
from planners.sql_catalog import ColumnInfo


def upload_table():
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int32()),
            "ra": pa.array([10.5, None, 359.0]),
            "ok": pa.array([True, False, None]),
            "name": pa.array(["a&b", "é", "x"]),
            "pos": pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float64(), 2)),
            "poly": pa.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [], None], pa.list_(pa.float64())),
            "when": pa.array(["2020-01-02T03:04:05", "2021-01-01", None]),
        }
    )
    columns = [column_meta_from_arrow(f) for f in table.schema]
    columns[3] = ColumnInfo("name", "unicodeChar", "*", ucd="meta.id")
    columns[4] = ColumnInfo("pos", "double", "2", xtype="point", unit="deg")
    columns[5] = ColumnInfo("poly", "double", "*", xtype="polygon")
    columns[6] = ColumnInfo("when", "char", "*", xtype="timestamp")
    return columns, table


@pytest.mark.parametrize("serialization", ["binary2", "tabledata"])
def test_votable_upload_round_trip(serialization):
    columns, table = upload_table()
    doc = b"".join(write_votable(columns, table.to_batches(), serialization=serialization))
    metas, back = read_votable_upload(doc, max_rows=10)
    assert [m.name for m in metas] == table.column_names
    assert metas[4] == ColumnInfo("pos", "double", "2", xtype="point", unit="deg")
    assert metas[3].ucd == "meta.id"
    assert back.column("id").to_pylist() == [1, 2, None]
    assert back.column("ra").to_pylist() == [10.5, None, 359.0]
    assert back.column("ok").to_pylist() == [True, False, None]
    assert back.column("name").to_pylist() == ["a&b", "é", "x"]
    assert back.schema.field("pos").type == pa.list_(pa.float64())
    assert back.column("pos").to_pylist() == [[1.0, 2.0], None, [3.0, 4.0]]
    polys = back.column("poly").to_pylist()
    assert polys[0] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert not polys[1]
    assert not polys[2]
    assert back.column("when").to_pylist()[:2] == ["2020-01-02T03:04:05", "2021-01-01"]


def test_too_many_rows():
    columns, table = upload_table()
    doc = b"".join(write_votable(columns, table.to_batches()))
    with pytest.raises(UploadError, match="3 rows; the limit is 2"):
        read_votable_upload(doc, max_rows=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<VOTABLE><RESOURCE><TABLE>", "not a readable VOTable"),
        (
            b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE/></VOTABLE>',
            "no TABLE",
        ),
        (b"<html>nope</html>", "VOTable"),
    ],
)
def test_malformed_votable(data, message):
    with pytest.raises(UploadError, match=message) as info:
        read_votable_upload(data, max_rows=10)
    assert isinstance(info.value, ValueError)


def test_csv_upload_and_sniffing():
    data = b"id,ra,name\n1,10.5,a\n2,,b\n"
    metas, table = read_upload(data, max_rows=5)
    assert [(m.name, m.datatype) for m in metas] == [
        ("id", "long"),
        ("ra", "double"),
        ("name", "char"),
    ]
    assert table.column("ra").to_pylist()[0] == 10.5
    assert table.column("ra").to_pylist()[1] is None
    with pytest.raises(UploadError, match="limit is 1"):
        read_csv_upload(data, max_rows=1)
    with pytest.raises(UploadError, match="CSV"):
        read_csv_upload(b"a,b\n1,2,3\n", max_rows=5)


def test_votable_sniffed_by_read_upload():
    columns, table = upload_table()
    doc = b"\n  " + b"".join(write_votable(columns, table.to_batches()))
    metas, back = read_upload(doc, max_rows=10)
    assert metas[0].datatype == "int"
    assert back.num_rows == 3
    assert not math.isnan(back.column("ra").to_pylist()[0])
