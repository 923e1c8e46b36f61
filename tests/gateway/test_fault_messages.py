"""What a client reads for each kind of failure (no servers: the mapping itself)."""

from __future__ import annotations

import duckdb
import pytest

import grammar
from gateway.errors import BackendError, classify
from gateway.query.fault_location import QueryFault, located


def engine_error(sql: str) -> duckdb.Error:
    with pytest.raises(duckdb.Error) as caught:
        duckdb.connect().sql(sql).fetchall()
    return caught.value


def test_backend_errors_name_the_backend_never_its_url() -> None:
    error = BackendError(
        "spec",
        "http://10.0.0.7:8080/internal/spec?secret=1",
        "cannot connect: [Errno 111] Connection refused (http://10.0.0.7:8080/internal/spec)",
        transient=True,
    )
    fault = classify(error)
    assert (fault.status, fault.kind) == (503, "transient")
    assert fault.message.startswith("backend 'spec' failed: cannot connect")
    assert "10.0.0.7" not in fault.message


@pytest.mark.parametrize(("status", "expected"), [(400, 400), (500, 502), (404, 502)])
def test_a_backend_that_rejects_the_query_passes_its_400_on(status: int, expected: int) -> None:
    error = BackendError(
        "rsp", "http://rsp/tap/sync", f"HTTP {status}: unexpected 'x' at line 1, column 30",
        status=status,
    )  # fmt: skip
    fault = classify(error)
    assert fault.status == expected
    if status == 400:
        # Its position is in the query the gateway sent, not in the user's.
        assert fault.message.endswith("at line 1, column 30 of the query sent to it")


@pytest.mark.parametrize(
    ("sql", "status", "start"),
    [
        ("SELECT 1 // 0", 400, "division by zero"),
        ("SELECT CAST('abc' AS INTEGER)", 400, "a conversion failed"),
        ("SELECT 9223372036854775807::BIGINT * 2", 400, "numeric overflow"),
        ("SELECT lower(1.5)", 400, "the query cannot be evaluated"),
    ],
)
def test_engine_faults_are_usage_errors_without_the_generated_sql(
    sql: str, status: int, start: str
) -> None:
    fault = classify(engine_error(sql))
    assert fault.status == status
    assert fault.message.startswith(start), fault.message
    assert "LINE 1" not in fault.message
    assert "Use TRY" not in fault.message


def test_a_fault_is_placed_only_when_one_construct_can_have_raised_it() -> None:
    zero = engine_error("SELECT 1 // 0")
    one = grammar.parse("SELECT a,\n  b / (c - c) FROM t")
    placed = located(zero, one)
    assert isinstance(placed, QueryFault)
    assert str(placed).endswith("in b / (c - c) at line 2, column 3")
    two = grammar.parse("SELECT a / b, MOD(a, c) FROM t")
    assert located(zero, two) is zero
    constant = grammar.parse("SELECT a / 2, MOD(a, c) FROM t")  # a non-zero literal cannot
    assert isinstance(located(zero, constant), QueryFault)
    backend = BackendError("rsp", "u", "HTTP 400: division by zero at line 1, column 8", status=400)
    moved = located(backend, one)
    assert str(moved) == (
        "backend 'rsp' failed: HTTP 400: division by zero, in b / (c - c) at line 2, column 3"
    )
