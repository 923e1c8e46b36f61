"""Arrow <-> VOTable type mapping."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table

from gateway.formats.arrow_types import (
    UnsupportedTypeError,
    array_shape,
    arrow_type_from_meta,
    coerce_array,
    column_meta_from_arrow,
    field_metadata,
)
from gateway.formats.columns import from_votable, to_votable
from gateway.formats.parquet_writer import write_parquet
from gateway.formats.text_writers import write_csv, write_json, write_tsv
from gateway.formats.votable import write_votable
from gateway.tap.upload_reader import read_upload
from planners.sql_catalog import ColumnInfo


@pytest.mark.parametrize(
    ("arrow", "datatype", "arraysize", "xtype"),
    [
        (pa.bool_(), "boolean", None, None),
        (pa.int8(), "short", None, None),
        (pa.uint8(), "unsignedByte", None, None),
        (pa.int16(), "short", None, None),
        (pa.uint16(), "int", None, None),
        (pa.int32(), "int", None, None),
        (pa.uint32(), "long", None, None),
        (pa.int64(), "long", None, None),
        (pa.float32(), "float", None, None),
        (pa.float64(), "double", None, None),
        (pa.string(), "char", "*", None),
        (pa.large_string(), "char", "*", None),
        (pa.timestamp("us"), "char", "*", "timestamp"),
        (pa.date32(), "char", "*", "timestamp"),
        (pa.list_(pa.float64(), 2), "double", "2", None),
        (pa.list_(pa.float64()), "double", "*", None),
        (pa.list_(pa.int32()), "int", "*", None),
        (pa.binary(), "unsignedByte", "*", None),
        (pa.binary(16), "unsignedByte", "16", None),
        (pa.dictionary(pa.int8(), pa.string()), "char", "*", None),
    ],
)
def test_arrow_to_votable(arrow, datatype, arraysize, xtype):
    meta = column_meta_from_arrow(pa.field("c", arrow))
    assert (meta.name, meta.datatype, meta.arraysize, meta.xtype) == (
        "c",
        datatype,
        arraysize,
        xtype,
    )


def test_overrides_and_field_metadata():
    field = pa.field(
        "pos", pa.list_(pa.float64(), 2), nullable=False, metadata={"unit": "deg", "ucd": "pos.eq"}
    )
    meta = column_meta_from_arrow(field, xtype="point", description="where")
    assert meta == ColumnInfo(
        "pos",
        "double",
        "2",
        xtype="point",
        unit="deg",
        ucd="pos.eq",
        description="where",
        nullable=False,
    )
    assert (
        column_meta_from_arrow(pa.field("pos", field.type, metadata=field_metadata(meta))).unit
        == "deg"
    )


@pytest.mark.parametrize(
    "arrow",
    [
        pa.struct([("a", pa.int32())]),
        pa.list_(pa.list_(pa.float64())),
        pa.map_(pa.string(), pa.int32()),
    ],
)
def test_unsupported_arrow_types(arrow):
    with pytest.raises(UnsupportedTypeError):
        column_meta_from_arrow(pa.field("c", arrow))


@pytest.mark.parametrize(
    ("meta", "arrow"),
    [
        (ColumnInfo("c", "boolean"), pa.bool_()),
        (ColumnInfo("c", "unsignedByte"), pa.uint8()),
        (ColumnInfo("c", "short"), pa.int16()),
        (ColumnInfo("c", "int"), pa.int32()),
        (ColumnInfo("c", "long"), pa.int64()),
        (ColumnInfo("c", "float"), pa.float32()),
        (ColumnInfo("c", "double"), pa.float64()),
        (ColumnInfo("c", "char", "*"), pa.string()),
        (ColumnInfo("c", "char", "*", xtype="timestamp"), pa.string()),
        (ColumnInfo("c", "unicodeChar", "32*"), pa.string()),
        (ColumnInfo("c", "double", "2", xtype="point"), pa.list_(pa.float64(), 2)),
        (ColumnInfo("c", "double", "3", xtype="circle"), pa.list_(pa.float64(), 3)),
        (ColumnInfo("c", "double", "*", xtype="polygon"), pa.list_(pa.float64())),
        (ColumnInfo("c", "int", "2x3"), pa.list_(pa.int32(), 6)),
        (ColumnInfo("c", "int", "2x*"), pa.list_(pa.int32())),
        (ColumnInfo("c", "unsignedByte", "*"), pa.binary()),
        (ColumnInfo("c", "unsignedByte", "4"), pa.binary(4)),
        (ColumnInfo("c", "doubleComplex"), pa.list_(pa.float64(), 2)),
    ],
)
def test_votable_to_arrow(meta, arrow):
    assert arrow_type_from_meta(meta) == arrow


@pytest.mark.parametrize("meta", [ColumnInfo("c", "quaternion"), ColumnInfo("c", "bit", "8")])
def test_unknown_votable_types(meta):
    with pytest.raises(UnsupportedTypeError, match="c"):
        arrow_type_from_meta(meta)


@pytest.mark.parametrize(
    ("arraysize", "shape"),
    [
        (None, (None, False)),
        ("2", (2, False)),
        ("*", (None, True)),
        ("10*", (10, True)),
        ("2x3", (6, False)),
        ("2x*", (None, True)),
    ],
)
def test_array_shape(arraysize, shape):
    assert array_shape(arraysize) == shape


def test_round_trip_of_the_mapping():
    for arrow in [
        pa.bool_(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.float32(),
        pa.float64(),
        pa.string(),
        pa.list_(pa.float64(), 2),
        pa.list_(pa.float64()),
        pa.binary(),
    ]:
        assert arrow_type_from_meta(column_meta_from_arrow(pa.field("c", arrow))) == arrow


def test_coerce_timestamps_to_dali_text_and_refuse_overflow():
    meta = ColumnInfo("t", "char", "*", xtype="timestamp")
    values = pa.array([0, None], pa.timestamp("s"))
    assert coerce_array(values, meta).to_pylist() == ["1970-01-01T00:00:00", None]
    assert coerce_array(pa.array([1, None], pa.int64()), ColumnInfo("i", "int")).type == pa.int32()
    with pytest.raises(pa.ArrowInvalid):
        coerce_array(pa.array([2**40]), ColumnInfo("i", "int"))
    chunked = pa.chunked_array([pa.array(["a"]), pa.array(["b"])])
    assert coerce_array(chunked, ColumnInfo("s", "char", "*")).to_pylist() == ["a", "b"]


IDS = [0, 1, 2**63 - 1, 2**63, 2**63 + 5, 2**64 - 1, None]
"""Unsigned 64-bit ids around the signed boundary, and a NULL."""


def test_unsigned_64_bit_ids_are_declared_char_text_with_the_uint64_xtype() -> None:
    # An integer for ADQL; VOTable has no unsigned long and its long cannot hold ids >= 2**63.
    meta = column_meta_from_arrow(pa.field("specobjid", pa.uint64()))
    assert (meta.datatype, meta.arraysize, meta.xtype) == ("long", None, "uint64")
    declared = to_votable(meta)
    assert (declared.datatype, declared.arraysize, declared.xtype) == ("char", "*", "uint64")
    assert from_votable(declared) == meta
    assert arrow_type_from_meta(meta) == arrow_type_from_meta(declared) == pa.uint64()
    values = pa.array(IDS, pa.uint64())
    assert coerce_array(values, meta).to_pylist() == IDS
    # The database's signed view of the same bits, and decimal text, both read as unsigned.
    signed = [None if v is None else v - 2**64 if v >= 2**63 else v for v in IDS]
    assert coerce_array(pa.array(signed, pa.int64()), meta).to_pylist() == IDS
    text = pa.array([None if v is None else str(v) for v in IDS])
    assert coerce_array(text, meta).to_pylist() == IDS


@pytest.mark.parametrize("fmt", ["binary2", "tabledata", "csv", "tsv", "json", "parquet"])
def test_unsigned_64_bit_ids_survive_every_output_format(fmt: str) -> None:
    """Written values read back exactly by astropy, the csv/json modules and pyarrow."""
    table = pa.table({"specobjid": pa.array(IDS, pa.uint64())})
    columns = [column_meta_from_arrow(f) for f in table.schema]
    batches = table.to_batches(max_chunksize=3)
    if fmt in {"binary2", "tabledata"}:
        doc = b"".join(write_votable(columns, batches, serialization=fmt))  # type: ignore[arg-type]
        field = parse_single_table(io.BytesIO(doc)).to_table()["specobjid"]
        got = [None if v is np.ma.masked or v == "" else int(v) for v in field]
    elif fmt == "parquet":
        back = pq.read_table(io.BytesIO(b"".join(write_parquet(columns, batches))))
        assert back.schema.field("specobjid").type == pa.uint64()
        got = back.column("specobjid").to_pylist()
    elif fmt == "json":
        doc = json.loads(b"".join(write_json(columns, batches)))
        got = [None if row[0] is None else int(row[0]) for row in doc["data"]]
    else:
        writer = write_csv if fmt == "csv" else write_tsv
        text = b"".join(writer(columns, batches)).decode()
        rows = list(csv.reader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t"))
        got = [int(r[0]) if r and r[0] else None for r in rows[1:]]
    assert got == IDS


def test_uploaded_unsigned_ids_read_back_as_uint64() -> None:
    """A result of the gateway uploaded again (TAP_UPLOAD) keeps its unsigned ids."""
    table = pa.table({"specobjid": pa.array(IDS, pa.uint64())})
    columns = [column_meta_from_arrow(f) for f in table.schema]
    doc = b"".join(write_votable(columns, table.to_batches(), serialization="binary2"))
    metas, back = read_upload(doc, max_rows=100)
    assert (metas[0].datatype, metas[0].arraysize, metas[0].xtype) == ("long", None, "uint64")
    assert back.column("specobjid").type == pa.uint64()
    assert back.column("specobjid").to_pylist() == IDS
