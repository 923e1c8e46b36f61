"""Format negotiation with TAP backends and the Parquet answer decoder."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gateway.federation.catalog_sources import parse_capabilities
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.decode import DecodeError, decode
from gateway.formats.output import OUTPUT_FORMATS, OutputFormat
from gateway.formats.parquet_writer import write_parquet
from gateway.tap.vosi import ServiceLimits, capabilities_xml
from planners.sql_catalog import ColumnInfo

LIMITS = ServiceLimits(1000, 10000, 100, None, 600, 3600, 86400, 86400, 4)
TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"
BINARY2 = OutputFormat("application/x-votable+xml;serialization=BINARY2", ("votable/b2",), None)
TABLEDATA = OutputFormat(
    "application/x-votable+xml", ("votable",), f"{TAPREGEXT}#output-votable-td"
)
CSV = OutputFormat("text/csv", ("csv",))


def negotiated(*formats: OutputFormat) -> str | None:
    document = capabilities_xml("http://x.test/tap", LIMITS, output_formats=formats)
    features, _ = parse_capabilities(document)
    return features.response_format


def test_our_own_gateway_is_asked_for_parquet() -> None:
    assert negotiated(*OUTPUT_FORMATS) == "application/vnd.apache.parquet"
    features, _ = parse_capabilities(capabilities_xml("http://x.test/tap", LIMITS))
    assert features.response_format == "application/vnd.apache.parquet"


def test_binary2_before_csv_and_by_serialization_parameter() -> None:
    assert negotiated(CSV, TABLEDATA, BINARY2) == BINARY2.media_type
    binary2_by_id = OUTPUT_FORMATS[0]
    assert negotiated(CSV, binary2_by_id) == binary2_by_id.media_type


def test_csv_before_tabledata_and_nothing_known_keeps_the_default() -> None:
    assert negotiated(TABLEDATA, CSV) == "text/csv"
    assert negotiated(TABLEDATA) is None
    assert negotiated() is None


def sample() -> tuple[list[ColumnInfo], pa.Table]:
    rng = np.random.default_rng(3)
    n = 5000
    table = pa.table(
        {
            "id": pa.array(rng.integers(0, 2**63, n, dtype=np.int64)),
            "uid": pa.array(rng.integers(0, 2**64 - 1, n, dtype=np.uint64)),
            "ra": pa.array(rng.uniform(0, 360, n)),
            "name": pa.array([None if i % 9 == 0 else f"é{i}" for i in range(n)]),
            "pos": pa.array([[1.0 * i, -1.0] for i in range(n)], pa.list_(pa.float64(), 2)),
        }
    )
    columns = [column_meta_from_arrow(f) for f in table.schema]
    columns[4] = ColumnInfo("pos", "double", arraysize="2", xtype="point", unit="deg")
    return columns, table


def test_parquet_answer_round_trips_with_descriptions() -> None:
    columns, table = sample()
    data = b"".join(write_parquet(columns, table.to_batches(max_chunksize=1000)))
    decoded = decode(data, "application/vnd.apache.parquet")
    assert list(decoded.columns) == columns
    assert not decoded.overflow
    for name in table.column_names:
        assert decoded.table.column(name).to_pylist() == table.column(name).to_pylist(), name


def test_parquet_overflow_and_truncation() -> None:
    columns, table = sample()
    data = b"".join(write_parquet(columns, table.to_batches(), overflow=lambda: True))
    assert decode(data, "parquet").overflow
    with pytest.raises(DecodeError, match="Parquet"):
        decode(data[: len(data) // 2], "parquet")
