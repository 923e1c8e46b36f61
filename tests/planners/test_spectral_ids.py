"""Unsigned specobjid predicates rewritten for a signed column select the same rows.

The oracle is numpy over uint64 ids. The rewritten condition is printed as the ``cond`` the
planner sends and run as SQL by DuckDB over a signed ``BIGINT`` column holding the same bits,
as the legacy service's PostgreSQL does (spectro-ids.md A.5).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar import parse_condition, to_adql
from planners import spectral_constraint as sc
from planners.spectral_ids import interval, to_signed_domain, to_unsigned_domain

TOP, HALF = 2**64, 2**63
EDGES = [0, 1, 2, HALF - 2, HALF - 1, HALF, HALF + 1, TOP - 2, TOP - 1]
IDS = np.array(
    sorted({*EDGES, *np.random.default_rng(5).integers(0, TOP, 300, dtype=np.uint64).tolist()}),
    dtype=np.uint64,
)
Mask = npt.NDArray[np.bool_]


@pytest.fixture(scope="module")
def database() -> duckdb.DuckDBPyConnection:
    """The service's view of the ids: signed bigint (two's complement of the same bits)."""
    connection = duckdb.connect()
    signed = pa.array(IDS.view(np.int64))
    connection.register("specobj", pa.table({"specobjid": signed}))
    return connection


def service_rows(database: duckdb.DuckDBPyConnection, adql: str) -> set[int]:
    """Unsigned ids the service returns for the ``cond`` the planner prints for ``adql``."""
    signed = to_signed_domain(parse_condition(adql))
    assert signed is not None, adql
    assert sc.pushable(signed, {"specobjid": "num"}), adql
    cond = sc.render(signed, {"specobjid": "specobjid"})
    rows = database.execute(f"SELECT specobjid FROM specobj WHERE {cond}").fetchall()
    return {v % TOP for (v,) in rows}


def expected(mask: Mask) -> set[int]:
    return {int(v) for v in IDS[mask]}


ids = st.one_of(st.sampled_from(EDGES), st.integers(0, TOP - 1))
OPS: dict[str, Callable[[npt.NDArray[np.uint64], int], Mask]] = {
    "=": lambda v, x: v == np.uint64(x),
    "<>": lambda v, x: v != np.uint64(x),
    "<": lambda v, x: v < np.uint64(x),
    "<=": lambda v, x: v <= np.uint64(x),
    ">": lambda v, x: v > np.uint64(x),
    ">=": lambda v, x: v >= np.uint64(x),
}


@settings(max_examples=150, deadline=None)
@given(op=st.sampled_from(sorted(OPS)), value=ids)
def test_comparisons(database: duckdb.DuckDBPyConnection, op: str, value: int) -> None:
    got = service_rows(database, f"specobjid {op} {value}")
    assert got == expected(OPS[op](IDS, value))


@settings(max_examples=150, deadline=None)
@given(low=ids, high=ids, negated=st.booleans())
def test_between(database: duckdb.DuckDBPyConnection, low: int, high: int, negated: bool) -> None:
    inside = (np.uint64(low) <= IDS) & (np.uint64(high) >= IDS)
    word = "NOT BETWEEN" if negated else "BETWEEN"
    got = service_rows(database, f"specobjid {word} {low} AND {high}")
    assert got == expected(~inside if negated else inside)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(ids, st.integers(-TOP, -1)), min_size=1, max_size=5))
def test_in_lists_and_or_chains(database: duckdb.DuckDBPyConnection, values: list[int]) -> None:
    inside = np.isin(IDS, np.array([v for v in values if v >= 0], dtype=np.uint64))
    listed = ", ".join(map(str, values))
    assert service_rows(database, f"specobjid IN ({listed})") == expected(inside)
    assert service_rows(database, f"specobjid NOT IN ({listed})") == expected(~inside)
    chain = " OR ".join(f"specobjid = {v}" for v in values)
    assert service_rows(database, chain) == expected(inside)


@settings(max_examples=60, deadline=None)
@given(a=ids, b=ids)
def test_nested_logic(database: duckdb.DuckDBPyConnection, a: int, b: int) -> None:
    adql = f"NOT (specobjid < {a} OR specobjid >= {b}) AND specobjid <> {a}"
    mask = ~((np.uint64(a) > IDS) | (np.uint64(b) <= IDS)) & (np.uint64(a) != IDS)
    assert service_rows(database, adql) == expected(mask)


@pytest.fixture(scope="module")
def gateway_engine() -> duckdb.DuckDBPyConnection:
    """The gateway's view of the ids: unsigned (UBIGINT in its DuckDB engine)."""
    connection = duckdb.connect()
    connection.register("specobj", pa.table({"specobjid": pa.array(IDS, pa.uint64())}))
    return connection


SIGNED_OPS: dict[str, Callable[[npt.NDArray[np.int64], int], Mask]] = {
    "=": lambda v, x: v == x,
    "<>": lambda v, x: v != x,
    "<": lambda v, x: v < x,
    "<=": lambda v, x: v <= x,
    ">": lambda v, x: v > x,
    ">=": lambda v, x: v >= x,
}
signed_ids = st.one_of(
    st.sampled_from([-HALF, -HALF + 1, -1, 0, 1, HALF - 1]), st.integers(-HALF, HALF - 1)
)


@settings(max_examples=150, deadline=None)
@given(op=st.sampled_from(sorted(SIGNED_OPS)), value=signed_ids, other=signed_ids)
def test_service_conditions_read_back_over_unsigned_ids(
    gateway_engine: duckdb.DuckDBPyConnection, op: str, value: int, other: int
) -> None:
    """A ``cond`` written for the signed column, as ADQL over unsigned ids (to-adql)."""
    signed = IDS.view(np.int64)
    adql = (
        f"specobjid {op} {value} OR specobjid BETWEEN {min(value, other)} AND {max(value, other)}"
    )
    between = (signed >= min(value, other)) & (signed <= max(value, other))
    unsigned = to_unsigned_domain(parse_condition(adql))
    assert unsigned is not None
    rows = gateway_engine.execute(f"SELECT specobjid FROM specobj WHERE {to_adql(unsigned)}")
    assert {v for (v,) in rows.fetchall()} == expected(SIGNED_OPS[op](signed, value) | between)


def test_printed_numbers_stay_inside_the_signed_range() -> None:
    """-2**63 has no positive literal to negate in SQL: bounds at the ends are left out."""
    assert to_adql(interval(0, TOP - 1)) == "specobjid >= 0 OR specobjid <= -1"
    assert to_adql(interval(HALF, TOP - 1)) == "specobjid <= -1"
    assert to_adql(interval(0, HALF - 1)) == "specobjid >= 0"
    assert to_adql(interval(5, 4)) == "1 = 0"


@pytest.mark.parametrize(
    "adql",
    [
        "specobjid + 1 > 5",
        "specobjid = bestobjid",
        "specobjid = 1.5",
        "specobjid < 1e19",
        "ABS(specobjid) = 3",
        "class = 'QSO' OR specobjid * 2 = 4",
    ],
)
def test_other_uses_of_specobjid_are_not_rewritten(adql: str) -> None:
    assert to_signed_domain(parse_condition(adql)) is None


def test_conditions_without_specobjid_are_unchanged() -> None:
    cond = parse_condition("class = 'QSO' AND z > 1")
    assert to_signed_domain(cond) is cond
