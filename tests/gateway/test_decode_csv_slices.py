"""Large CSV answers are parsed in line-aligned slices: same table as one whole parse.

The oracle is the stdlib ``csv`` reader plus numpy on the same body; slices are made small
so that a few thousand rows cross many slice boundaries.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import gateway.formats.decode
from gateway.formats.decode import CsvSlices, ServiceError, decode
from planners.sql_catalog import ColumnInfo

ROWS = 3000
COLUMNS = (ColumnInfo("id", "long"), ColumnInfo("ra", "double"), ColumnInfo("n", "int"))


def _body(rng: np.random.Generator, line_end: str) -> bytes:
    ids = rng.integers(-(2**63), 2**63 - 1, ROWS, dtype=np.int64)
    ra = rng.random(ROWS) * 360
    counts = rng.integers(0, 50, ROWS)
    lines = ["id,ra,n"]
    for i in range(ROWS):
        # Every 7th count is NULL (an empty cell, as HSC writes it).
        count = "" if i % 7 == 0 else str(counts[i])
        lines.append(f"{ids[i]},{float(ra[i])!r},{count}")
    return (line_end.join(lines) + line_end).encode()


def _oracle(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("slice_bytes", [1000, 4096, 30_001])
def test_sliced_parse_equals_the_rows(
    monkeypatch: pytest.MonkeyPatch, line_end: str, slice_bytes: int
) -> None:
    monkeypatch.setattr(gateway.formats.decode, "CSV_SLICE_BYTES", slice_bytes)
    parses = []
    read_csv = pacsv.read_csv

    def counted(*args: Any, **kwargs: Any) -> pa.Table:
        parses.append(1)
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", counted)
    body = _body(np.random.default_rng(slice_bytes), line_end)
    table = decode(bytearray(body), "csv", COLUMNS).table
    assert len(parses) >= len(body) // (2 * slice_bytes) > 1  # really sliced
    rows = _oracle(body)
    assert table.num_rows == len(rows) == ROWS
    assert table.schema.types == [pa.int64(), pa.float64(), pa.int32()]
    assert table.column("id").to_pylist() == [int(r[0]) for r in rows]
    ra = np.array([r[1] for r in rows], dtype=np.float64)
    assert table.column("ra").to_numpy().view(np.uint64).tolist() == ra.view(np.uint64).tolist()
    assert table.column("n").to_pylist() == [int(r[2]) if r[2] else None for r in rows]


def test_quoted_or_untyped_bodies_are_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted line end is no row end, and slices must not infer types differently."""
    monkeypatch.setattr(gateway.formats.decode, "CSV_SLICE_BYTES", 100)
    lines = ["id,name"] + [f'{i},"row {i}\r\nsecond line"' for i in range(200)]
    body = ("\r\n".join(lines) + "\r\n").encode()
    table = decode(body, "csv", (ColumnInfo("id", "long"), ColumnInfo("name", "char", "*"))).table
    assert table.column("name").to_pylist() == [r[1] for r in _oracle(body)]
    # Untyped: the first rows look like integers, the last one is a float.
    untyped = ("x\n" + "1\n" * 500 + "2.5\n").encode()
    assert decode(untyped, "csv").table.column("x").to_pylist() == [1.0] * 500 + [2.5]


def test_unsigned_ids_past_int64_in_later_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``long`` column overflowing int64 only in a later slice is still read as uint64."""
    monkeypatch.setattr(gateway.formats.decode, "CSV_SLICE_BYTES", 200)
    ids = [*range(300), 2**64 - 1]
    body = ("specobjid\n" + "".join(f"{i}\n" for i in ids)).encode()
    table = decode(body, "csv", (ColumnInfo("specobjid", "long"),)).table
    assert table.column("specobjid").type == pa.uint64()
    assert table.column("specobjid").to_pylist() == ids


def _feed_in_chunks(slices: CsvSlices, body: bytes, rng: np.random.Generator) -> bytearray:
    received = bytearray()
    while len(received) < len(body):
        size = int(rng.integers(1, 700))
        received += body[len(received) : len(received) + size]
        slices.feed(received)
    return received


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_slices_parsed_while_arriving_equal_the_rows(
    monkeypatch: pytest.MonkeyPatch, line_end: str
) -> None:
    monkeypatch.setattr(gateway.formats.decode, "CSV_SLICE_BYTES", 2000)
    rng = np.random.default_rng(7)
    body = _body(rng, line_end)
    slices = CsvSlices(COLUMNS)
    received = _feed_in_chunks(slices, body, rng)
    assert len(slices._parts) > 10  # really parsed while arriving
    table = slices.finish(received).table
    assert table.equals(decode(body, "csv", COLUMNS).table)
    rows = _oracle(body)
    assert table.column("id").to_pylist() == [int(r[0]) for r in rows]
    assert table.column("n").to_pylist() == [int(r[2]) if r[2] else None for r in rows]


def test_slices_fall_back_to_the_whole_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quote late in the body, a restarted attempt and an overflowing id all still decode."""
    monkeypatch.setattr(gateway.formats.decode, "CSV_SLICE_BYTES", 500)
    rng = np.random.default_rng(8)
    columns = (ColumnInfo("id", "long"), ColumnInfo("name", "char", "*"))
    lines = ["id,name"] + [f"{i},row{i}" for i in range(400)] + ['400,"a,b"']
    body = ("\n".join(lines) + "\n").encode()
    slices = CsvSlices(columns)
    _feed_in_chunks(slices, body[: len(body) // 2], rng)  # a first attempt, broken off
    slices.restart()
    table = slices.finish(_feed_in_chunks(slices, body, rng)).table
    assert table.column("name").to_pylist() == [f"row{i}" for i in range(400)] + ["a,b"]
    ids = [*range(400), 2**64 - 1]
    body = ("id\n" + "".join(f"{i}\n" for i in ids)).encode()
    slices = CsvSlices(columns[:1])
    table = slices.finish(_feed_in_chunks(slices, body, rng)).table
    assert table.column("id").to_pylist() == ids
    error = b"Param Error: unknown column\n" + b"x" * 2000
    slices = CsvSlices(columns)
    with pytest.raises(ServiceError):
        slices.finish(_feed_in_chunks(slices, error, rng))
