"""Output format negotiation and the CSV, TSV, JSON and Parquet writers."""

from __future__ import annotations

import csv
import io
import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.output import UnsupportedFormatError, resolve_format
from gateway.formats.parquet_writer import COLUMNS_KEY
from planners.sql_catalog import ColumnInfo


@pytest.mark.parametrize(
    ("value", "name", "media_type"),
    [
        (None, "votable", "application/x-votable+xml"),
        ("", "votable", "application/x-votable+xml"),
        ("votable", "votable", "application/x-votable+xml"),
        ("VOTable", "votable", "application/x-votable+xml"),
        ("votable/b2", "votable", "application/x-votable+xml;serialization=binary2"),
        ("votable/td", "votable/td", "application/x-votable+xml;serialization=tabledata"),
        ("application/x-votable+xml", "votable", "application/x-votable+xml"),
        (
            "application/x-votable+xml;serialization=binary2",
            "votable",
            "application/x-votable+xml;serialization=binary2",
        ),
        (
            "application/x-votable+xml; serialization=TABLEDATA",
            "votable/td",
            "application/x-votable+xml; serialization=TABLEDATA",
        ),
        ("text/xml", "votable", "text/xml"),
        ("csv", "csv", "text/csv;header=present"),
        ("text/csv", "csv", "text/csv;header=present"),
        ("tsv", "tsv", "text/tab-separated-values"),
        ("text/tab-separated-values", "tsv", "text/tab-separated-values"),
        ("json", "json", "application/json"),
        ("application/json", "json", "application/json"),
        ("parquet", "parquet", "application/vnd.apache.parquet"),
        ("application/vnd.apache.parquet", "parquet", "application/vnd.apache.parquet"),
    ],
)
def test_resolve_format(value, name, media_type):
    fmt = resolve_format(value)
    assert (fmt.name, fmt.media_type) == (name, media_type)


@pytest.mark.parametrize(
    "value", ["fits", "text/html", "application/x-votable+xml;serialization=binary", "xml/votable"]
)
def test_unsupported_format_lists_the_supported_ones(value):
    with pytest.raises(UnsupportedFormatError, match="supported: votable") as info:
        resolve_format(value)
    assert isinstance(info.value, ValueError)
    assert "parquet" in str(info.value)


def test_votable_writers_differ_by_serialization():
    columns = [ColumnInfo("a", "int")]
    batch = pa.record_batch([pa.array([1], pa.int32())], names=["a"])
    assert b"<BINARY2>" in b"".join(resolve_format("votable").writer(columns, [batch]))
    assert b"<TABLEDATA>" in b"".join(resolve_format("votable/td").writer(columns, [batch]))


def sample():
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "x": pa.array([1.5, float("nan"), None]),
            "ok": pa.array([True, None, False]),
            "name": pa.array(['a,"b"', "", None]),
            "pos": pa.array([[1.0, 2.0], None, [3.0, 4.5]], pa.list_(pa.float64(), 2)),
            "t": pa.array([0, None, 1000], pa.timestamp("ms")),
            "note": pa.array(["tab\there", "line\nbreak", "ü"]),
        }
    )
    columns = [column_meta_from_arrow(f) for f in table.schema]
    columns[4] = column_meta_from_arrow(table.schema.field("pos"), xtype="point", unit="deg")
    return columns, table


def test_csv_quotes_only_what_rfc4180_needs():
    columns, table = sample()
    text = b"".join(
        resolve_format("csv").writer(columns, table.to_batches(max_chunksize=2))
    ).decode()
    lines = text.split("\r\n")
    assert lines[0] == "id,x,ok,name,pos,t,note"
    assert lines[1] == '1,1.5,true,"a,""b""",1 2,1970-01-01T00:00:00.000,tab\there'
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[2] == ["2", "NaN", "", "", "", "", "line\nbreak"]
    assert rows[3] == ["", "", "false", "", "3 4.5", "1970-01-01T00:00:01.000", "ü"]
    assert '""' in lines[2].split(",")[3]  # empty string quoted, unlike the null in row 3


def test_csv_overflow_is_logged(caplog):
    columns, table = sample()
    with caplog.at_level(logging.WARNING):
        b"".join(resolve_format("csv").writer(columns, table.to_batches(), overflow=lambda: True))
    assert "MAXREC" in caplog.text


def test_tsv_has_no_tabs_or_breaks_inside_values():
    columns, table = sample()
    text = b"".join(
        resolve_format("tsv").writer(columns, table.to_batches(max_chunksize=1))
    ).decode()
    lines = text.split("\n")
    assert lines[0] == "id\tx\tok\tname\tpos\tt\tnote"
    assert len(lines) == 5
    assert lines[-1] == ""
    assert all(line.count("\t") == 6 for line in lines[:-1])
    assert lines[1].endswith("tab here")
    assert lines[2].endswith("line break")


def test_json_shape_and_values():
    columns, table = sample()
    chunks = list(
        resolve_format("json").writer(
            columns, table.to_batches(max_chunksize=2), overflow=lambda: True
        )
    )
    assert len(chunks) == 4  # metadata, two batches, trailer: streamed
    doc = json.loads(b"".join(chunks))
    assert list(doc) == ["metadata", "data", "overflow"]
    assert doc["metadata"][4] == {
        "name": "pos",
        "datatype": "double",
        "arraysize": "2",
        "xtype": "point",
        "unit": "deg",
        "description": None,  # always present, like unit: astroquery's reader indexes both
    }
    assert doc["metadata"][0]["unit"] is None
    assert doc["data"] == [
        [1, 1.5, True, 'a,"b"', [1.0, 2.0], "1970-01-01T00:00:00.000", "tab\there"],
        [2, None, None, "", None, None, "line\nbreak"],
        [None, None, False, None, [3.0, 4.5], "1970-01-01T00:00:01.000", "ü"],
    ]
    assert doc["overflow"] is True


def test_json_empty_result():
    columns, table = sample()
    doc = json.loads(b"".join(resolve_format("json").writer(columns, [])))
    assert doc["data"] == []
    assert doc["overflow"] is False
    assert len(doc["metadata"]) == table.num_columns


def test_json_escapes_control_characters():
    columns = [ColumnInfo("s", "char", "*")]
    batch = pa.record_batch([pa.array(['\x01"\\\x1f'])], names=["s"])
    doc = json.loads(b"".join(resolve_format("json").writer(columns, [batch])))
    assert doc["data"] == [['\x01"\\\x1f']]


def test_parquet_streams_with_metadata_and_overflow():
    columns, table = sample()
    batches = [table.slice(i, 1).to_batches()[0] for i in range(3)]
    data = b"".join(
        resolve_format("parquet").writer(columns, batches, overflow=lambda: True, query="SELECT 1")
    )
    pfile = pq.ParquetFile(io.BytesIO(data))
    footer = pfile.metadata.metadata
    assert footer[b"QUERY_STATUS"] == b"OVERFLOW"
    assert footer[b"QUERY"] == b"SELECT 1"
    assert json.loads(footer[COLUMNS_KEY.encode()])[4]["xtype"] == "point"
    back = pfile.read()
    assert back.column("id").to_pylist() == [1, 2, None]
    assert back.column("t").to_pylist()[0] == "1970-01-01T00:00:00.000"
    assert back.schema.field("pos").metadata[b"unit"] == b"deg"
    assert column_meta_from_arrow(back.schema.field("pos")).xtype == "point"


def test_parquet_ok_status_and_zero_rows():
    columns, _ = sample()
    data = b"".join(resolve_format("parquet").writer(columns, []))
    pfile = pq.ParquetFile(io.BytesIO(data))
    assert pfile.metadata.metadata[b"QUERY_STATUS"] == b"OK"
    assert pfile.read().num_rows == 0
