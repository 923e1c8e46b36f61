"""Constant folding of conditions: values against numpy, what is left alone, spans kept."""

from __future__ import annotations

import numpy as np
import pytest

from grammar import nodes as n
from grammar import parse, to_adql
from grammar.fold import fold_conditions
from grammar.walk import literal_value


def _folded_where(condition: str) -> n.ComparisonPredicate:
    query = fold_conditions(parse(f"SELECT a FROM t WHERE x < {condition}"))
    assert isinstance(query.body, n.SelectQuery)
    where = query.body.where
    assert isinstance(where, n.ComparisonPredicate)
    return where


@pytest.mark.parametrize(
    ("text", "oracle"),
    [
        ("1.0/3600", np.float64(1.0) / np.float64(3600)),
        ("2*0.5", np.float64(2) * np.float64(0.5)),
        ("-(3)", np.int64(-3)),
        ("-(-(2.5))", np.float64(2.5)),
        ("7/2", np.int64(7) // np.int64(2)),  # ADQL integer division
        ("1/3600", np.int64(0)),
        ("1/3600.0", np.float64(1) / np.float64(3600.0)),
        ("(1.0/60 + 2E-3) * 3", (np.float64(1.0) / 60 + np.float64(2e-3)) * 3),
        ("0.1 + 0.2", np.float64(0.1) + np.float64(0.2)),
        ("CAST(1 AS DOUBLE PRECISION)/3", np.float64(1) / np.float64(3)),
        ("CAST(1.1 AS REAL)", np.float64(np.float32(1.1))),
        ("CAST(12 AS BIGINT) - 20", np.int64(-8)),
        ("1E-7/10", np.float64(1e-7) / np.float64(10)),
    ],
)
def test_folded_values_match_numpy(text: str, oracle: np.generic) -> None:
    right = _folded_where(text).right
    value = literal_value(right)
    assert type(value) is (int if isinstance(oracle, np.integer) else float)
    assert value == oracle.item()
    # The folded literal prints and parses back to the same value (exact text, no rounding).
    assert literal_value(_folded_where(to_adql(right)).right) == oracle.item()


@pytest.mark.parametrize(
    "text",
    [
        "1/0",  # the engine reports the division by zero
        "1.0/0",
        "-7/2",  # truncating or flooring: engines differ
        "2147483647 + 1",  # may overflow a 32-bit INTEGER in the engine
        "1E300 * 1E300",  # not finite
        "CAST(2.5 AS INTEGER)",  # rounding rules differ
        "CAST(1 AS VARCHAR(3))",
        "1 | 2",
        "y / 2",
    ],
)
def test_left_for_the_engine(text: str) -> None:
    right = _folded_where(text).right
    assert to_adql(right) == to_adql(_unfolded(text))


def _unfolded(text: str) -> n.ValueExpression:
    query = parse(f"SELECT a FROM t WHERE x < {text}")
    assert isinstance(query.body, n.SelectQuery)
    assert isinstance(query.body.where, n.ComparisonPredicate)
    return query.body.where.right


def test_only_conditions_are_folded() -> None:
    text = (
        "SELECT 1.0/3600, a FROM t JOIN u ON DISTANCE(POINT(t.ra, t.de), POINT(u.ra, u.de)) "
        "< 1.0/3600 WHERE x > 2*3 GROUP BY a HAVING COUNT(*) > 1+1 ORDER BY 1+1"
    )
    folded = to_adql(fold_conditions(parse(text)))
    assert folded.startswith("SELECT 1.0 / 3600, a")  # output names come from the text
    assert "< 0.0002777777777777778 WHERE x > 6" in folded
    assert "HAVING COUNT(*) > 2 ORDER BY 1 + 1" in folded  # ORDER BY 2 would be a position


def test_spans_and_idempotence() -> None:
    query = parse("SELECT a FROM t\nWHERE x < 1.0 / 3600")
    folded = fold_conditions(query)
    assert fold_conditions(folded) == folded
    assert isinstance(folded.body, n.SelectQuery)
    assert isinstance(folded.body.where, n.ComparisonPredicate)
    span = folded.body.where.right.span
    assert (span.line, span.column, span.end_column) == (2, 11, 21)
