"""CSV/TSV/JSON writers read back by independent readers (stdlib csv/json + numpy).

The writers render batches on a thread pool ahead of the consumer; these tests use many
small batches so that several renderings are pending at once, and check that every value
comes back exactly (floats bit for bit) and in row order.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pytest

from gateway.formats.cell_text import join_rows
from gateway.formats.text_writers import write_csv, write_json, write_tsv
from planners.sql_catalog import ColumnInfo

ROWS = 5000
BATCH = 97  # not a divisor of ROWS: a short last batch


def _floats(rng: np.random.Generator, dtype: type[np.floating]) -> np.ndarray:
    """Finite values over the whole exponent range, plus subnormals, zeros and extremes."""
    info = np.finfo(dtype)
    bits = rng.integers(0, 2 ** (8 * info.dtype.itemsize), ROWS, dtype=np.uint64)
    raw = bits.astype(np.uint32 if dtype is np.float32 else np.uint64).view(dtype)
    values = np.where(np.isfinite(raw), raw, dtype(1.5)).astype(dtype)
    values[:6] = [info.max, info.min, info.smallest_subnormal, -0.0, 0.0, info.tiny]
    return values


def _table(rng: np.random.Generator) -> tuple[pa.Table, list[ColumnInfo]]:
    ids = rng.integers(0, 2**64 - 1, ROWS, dtype=np.uint64, endpoint=True)
    ids[0] = np.iinfo(np.uint64).max
    text = np.array(["plain", "a,b", 'say "hi"', "line\nbreak", "", "tab\there"], dtype=object)
    table = pa.table(
        {
            "d": pa.array(_floats(rng, np.float64)),
            "f": pa.array(_floats(rng, np.float32)),
            "n": pa.array(rng.integers(-(2**63), 2**63 - 1, ROWS, dtype=np.int64)),
            "u": pa.array(ids),
            "b": pa.array(rng.random(ROWS) < 0.5),
            "s": pa.array(text[rng.integers(0, len(text), ROWS)].tolist(), pa.string()),
        }
    )
    columns = [
        ColumnInfo("d", "double"),
        ColumnInfo("f", "float"),
        ColumnInfo("n", "long"),
        ColumnInfo("u", "long", xtype="uint64"),
        ColumnInfo("b", "boolean"),
        ColumnInfo("s", "char", "*"),
    ]
    return table, columns


@pytest.fixture(scope="module")
def data() -> tuple[pa.Table, list[ColumnInfo]]:
    return _table(np.random.default_rng(20261204))


Writer = Callable[[Sequence[ColumnInfo], Iterable[pa.RecordBatch]], Iterator[bytes]]


def _body(writer: Writer, table: pa.Table, columns: list[ColumnInfo]) -> bytes:
    return b"".join(writer(columns, table.to_batches(max_chunksize=BATCH)))


def _same_bits(text: list[str], expected: np.ndarray) -> None:
    back = np.array(text, dtype=np.float64).astype(expected.dtype)
    assert back.view(f"u{expected.dtype.itemsize}").tolist() == (
        expected.view(f"u{expected.dtype.itemsize}").tolist()
    )


def test_csv_reads_back_exactly(data: tuple[pa.Table, list[ColumnInfo]]) -> None:
    table, columns = data
    body = _body(write_csv, table, columns).decode()
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == ["d", "f", "n", "u", "b", "s"]
    cells = list(zip(*rows[1:], strict=True))
    assert len(cells[0]) == ROWS
    _same_bits(list(cells[0]), table["d"].to_numpy())
    # float32 text is the shortest that round-trips as float32, not as float64.
    back32 = np.array(cells[1], dtype=np.float32)
    assert back32.view(np.uint32).tolist() == table["f"].to_numpy().view(np.uint32).tolist()
    assert [int(v) for v in cells[2]] == table["n"].to_pylist()
    assert [int(v) for v in cells[3]] == table["u"].to_pylist()
    assert list(cells[4]) == ["true" if v else "false" for v in table["b"].to_pylist()]
    assert list(cells[5]) == table["s"].to_pylist()


def test_csv_nulls_and_non_finite_floats() -> None:
    values = [1.0, None, float("nan"), float("inf"), float("-inf")]
    table = pa.table({"x": pa.array(values), "s": pa.array(["", None, "x", "y", "z"])})
    columns = [ColumnInfo("x", "double"), ColumnInfo("s", "char", "*")]
    body = _body(write_csv, table, columns)
    assert body.split(b"\r\n")[1:-1] == [b'1,""', b",", b"NaN,x", b"+Inf,y", b"-Inf,z"]
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]
    back = np.array([r[0] or "nan" for r in rows], dtype=np.float64)
    assert np.isnan(back[1:3]).all()
    assert back[3:].tolist() == [np.inf, -np.inf]


def test_tsv_reads_back_exactly(data: tuple[pa.Table, list[ColumnInfo]]) -> None:
    table, columns = data
    lines = _body(write_tsv, table, columns).decode().split("\n")
    assert lines[-1] == ""
    cells = list(zip(*(line.split("\t") for line in lines[1:-1]), strict=True))
    _same_bits(list(cells[0]), table["d"].to_numpy())
    assert [int(v) for v in cells[3]] == table["u"].to_pylist()
    expected = [" ".join(v.replace("\t", " ").split("\n")) for v in table["s"].to_pylist()]
    assert list(cells[5]) == expected


def test_json_reads_back_exactly(data: tuple[pa.Table, list[ColumnInfo]]) -> None:
    table, columns = data
    # Numbers kept as their text: json would read "-0" as the integer 0.
    document = json.loads(_body(write_json, table, columns), parse_float=str, parse_int=str)
    rows = document["data"]
    assert len(rows) == ROWS
    _same_bits([r[0] for r in rows], table["d"].to_numpy())
    assert [int(r[3]) for r in rows] == table["u"].to_pylist()
    assert [r[5] for r in rows] == table["s"].to_pylist()


def test_rendering_error_is_raised_to_the_consumer() -> None:
    """A cell that cannot be rendered fails the stream, not silently drops rows."""
    table = pa.table({"x": pa.array(["1", "2", "not a number"] * 100)})
    chunks = write_csv([ColumnInfo("x", "int")], table.to_batches(max_chunksize=7))
    with pytest.raises((pa.ArrowInvalid, ValueError)):
        b"".join(chunks)


def test_closing_early_stops_reading_batches() -> None:
    read: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, 10_000, 10):
            read.append(start)
            yield pa.record_batch({"x": pa.array(range(start, start + 10))})

    chunks = write_csv([ColumnInfo("x", "long")], batches())
    assert isinstance(chunks, Generator)
    assert next(chunks) == b"x\r\n"
    assert next(chunks) == b"".join(f"{i}\r\n".encode() for i in range(10))
    chunks.close()
    assert len(read) < 20


@pytest.mark.parametrize("sep", [",", "\t"])
@pytest.mark.parametrize("suffix", ["\n", "\r\n"])
@pytest.mark.parametrize(
    "texts",
    [["1", "-2.5", "", "NaN"], ['"a,b"', "x", "", "y"], ["tab\there", 'q"uote', "", "z"]],
)
def test_join_rows_matches_a_python_join(sep: str, suffix: str, texts: list[str]) -> None:
    """Both ways of joining (Arrow's unquoted CSV writer, the element-wise join) agree."""
    first = pa.array(texts, pa.string())
    second = pa.array([str(i) for i in range(len(texts))], pa.string())
    expected = "".join(
        f"{a}{sep}{b}{suffix}" for a, b in zip(texts, second.to_pylist(), strict=True)
    )
    assert join_rows([first, second], sep=sep, prefix="", suffix=suffix) == expected.encode()
    assert join_rows([first], sep=sep, prefix="", suffix=suffix) == (
        "".join(f"{a}{suffix}" for a in texts).encode()
    )
