"""Faults while rows stream: before the first byte an exception, after it a VOTable trailer."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa
import pytest
from astropy.io.votable import parse

from gateway.engine.local import LocalEngine, QueryResult
from gateway.errors import describe_fault
from gateway.formats.votable import write_votable
from gateway.tap.stream_guard import prefetched
from grammar import parse as parse_adql
from planners.sql_catalog import ColumnInfo
from tests.gateway.conftest import query_statuses

COLUMNS = [ColumnInfo("x", "long")]


def batches_then_fault(good: int) -> Iterator[pa.RecordBatch]:
    for start in range(good):
        yield pa.record_batch({"x": pa.array([start * 10 + i for i in range(10)], pa.int64())})
    raise ZeroDivisionError("division by zero in row 31")


@pytest.mark.parametrize("serialization", ["binary2", "tabledata"])
def test_a_fault_after_rows_ends_the_table_with_an_error_trailer(serialization: str) -> None:
    body = b"".join(
        write_votable(
            COLUMNS,
            batches_then_fault(3),
            serialization=serialization,  # type: ignore[arg-type]
            error_text=lambda exc: f"stopped: {exc}",
        )
    )
    # A valid document: the rows sent so far, then QUERY_STATUS=ERROR after the TABLE.
    table = parse(io.BytesIO(body)).get_first_table().to_table()
    assert list(table["x"]) == list(range(30))
    assert query_statuses(body) == [("before", "OK"), ("after", "ERROR")]
    assert b"stopped: division by zero in row 31" in body


def test_without_error_text_the_fault_propagates() -> None:
    with pytest.raises(ZeroDivisionError):
        b"".join(write_votable(COLUMNS, batches_then_fault(1)))


def streamed(batches: Iterator[pa.RecordBatch]) -> QueryResult:
    """A result whose rows come from a generator (as the engine's streamed scans do)."""
    return QueryResult(COLUMNS, batches, {"overflow": False})


def test_prefetch_raises_a_fault_of_the_first_batch_before_any_byte() -> None:
    with pytest.raises(ZeroDivisionError):
        prefetched(streamed(batches_then_fault(0)))
    later = prefetched(streamed(batches_then_fault(2)))
    body = b"".join(write_votable(later.columns, later.batches, error_text=describe_fault))
    assert query_statuses(body) == [("before", "OK"), ("after", "ERROR")]
    # An internal failure is told by reference only: its text is for the server log.
    assert b"internal error (reference " in body
    assert b"division by zero in row 31" not in body


def test_prefetch_keeps_every_row_and_the_overflow_flag() -> None:
    engine = LocalEngine()
    engine.add_table("t.x", pa.table({"a": pa.array([2, 1, 0], pa.int64())}))
    result = prefetched(engine.execute(parse_adql("SELECT a FROM t.x ORDER BY a"), maxrec=2))
    assert [b.to_pydict() for b in result.batches] == [{"a": [0, 1]}]
    assert result.overflow is True
    empty = prefetched(engine.execute(parse_adql("SELECT a FROM t.x WHERE a > 5")))
    assert list(empty.batches) == []
    engine.close()


def test_a_row_that_cannot_be_encoded_ends_the_table_with_an_error_trailer() -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": pa.array([1, 2], pa.int64())})
        yield pa.record_batch({"x": pa.array(["not a long"])})

    body = b"".join(write_votable(COLUMNS, batches(), error_text=describe_fault))
    assert list(parse(io.BytesIO(body)).get_first_table().to_table()["x"]) == [1, 2]
    assert query_statuses(body) == [("before", "OK"), ("after", "ERROR")]
