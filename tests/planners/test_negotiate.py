"""Negotiation rules, with a recording fake planner and with the HSC planner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from grammar import UnsupportedError, parse, to_adql
from grammar import nodes as n
from planners.base import Applied, BackendRequest, Capability, Planner
from planners.hsc import HscPlanner
from planners.negotiate import negotiate
from planners.sql_catalog import ColumnInfo

COLUMNS = (ColumnInfo("a", "int"), ColumnInfo("b", "double"), ColumnInfo("c", "char", "*"))


@dataclass(frozen=True)
class Handle:
    filters: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    order: bool = False
    limit: int | None = None


@dataclass
class FakePlanner:
    """Pushes comparisons on ``a`` only; records every call."""

    backend: str = "fake"
    kind: str = "fake"
    capabilities: Capability = Capability.FILTER | Capability.LIMIT
    calls: list[str] = field(default_factory=list)

    def scan(self, table: n.TableName) -> Handle:
        del table
        return Handle()

    def columns(self, h: Handle) -> tuple[ColumnInfo, ...]:
        return COLUMNS if h.columns is None else tuple(c for c in COLUMNS if c.name in h.columns)

    def apply_filter(
        self, h: Handle, conjuncts: Sequence[n.SearchCondition]
    ) -> Applied[Handle] | None:
        self.calls.append("filter")
        mine = [c for c in conjuncts if "a" in to_adql(c).split()]
        if not mine:
            return None
        rest = tuple(c for c in conjuncts if c not in mine)
        return Applied(replace(h, filters=h.filters + tuple(map(to_adql, mine))), rest, not rest)

    def apply_projection(self, h: Handle, columns: Sequence[str]) -> Applied[Handle] | None:
        self.calls.append("projection")
        return Applied(replace(h, columns=tuple(columns)))

    def apply_order(self, h: Handle, items: Sequence[n.OrderItem]) -> Applied[Handle] | None:
        self.calls.append("order")
        del items
        return Applied(replace(h, order=True))

    def apply_limit(self, h: Handle, n_rows: int) -> Applied[Handle] | None:
        self.calls.append("limit")
        return Applied(replace(h, limit=n_rows))

    def apply_semijoin(self, h: Handle, upload: str, key: str) -> Applied[Handle] | None:
        del h, upload, key
        return None

    def render(self, h: Handle) -> tuple[BackendRequest, ...]:
        return (BackendRequest("GET", "http://x/", (("h", repr(h)),)),)


def test_fake_planner_satisfies_the_protocol() -> None:
    planner: Planner[Handle] = FakePlanner()
    assert planner.kind == "fake"


def test_fixpoint_terminates_and_order_of_steps() -> None:
    planner = FakePlanner()
    fragment = negotiate(planner, parse("SELECT TOP 5 a FROM t WHERE a > 1 AND a < 9 ORDER BY a"))
    assert planner.calls == ["filter", "projection", "order", "limit"]
    assert fragment.local_query is None
    assert "limit: 5" in fragment.pushed


def test_residual_blocks_order_and_limit() -> None:
    planner = FakePlanner()
    fragment = negotiate(planner, parse("SELECT TOP 5 a FROM t WHERE a > 1 AND b < 2 ORDER BY a"))
    assert "limit" not in planner.calls
    assert "order" not in planner.calls
    assert fragment.residual is not None
    assert to_adql(fragment.residual) == "b < 2"
    assert fragment.local_query is not None
    assert to_adql(fragment.local_query) == (
        "SELECT TOP 5 a FROM fragment.fetched WHERE b < 2 ORDER BY a"
    )


def test_projection_includes_residual_and_order_columns() -> None:
    planner = FakePlanner()
    fragment = negotiate(planner, parse("SELECT a FROM t WHERE b > 1 ORDER BY c"))
    assert fragment.columns == ("a", "b", "c")


def test_aggregates_and_offset_stay_local() -> None:
    planner = FakePlanner()
    fragment = negotiate(planner, parse("SELECT TOP 2 a FROM t ORDER BY a OFFSET 3"))
    assert "limit: 5" in fragment.pushed
    assert fragment.local_query is not None
    fragment = negotiate(FakePlanner(), parse("SELECT COUNT(*) FROM t WHERE a = 1"))
    assert fragment.local_query is not None
    assert fragment.local_query.body.where is None  # type: ignore[union-attr]


def test_qualifiers_are_dropped_in_the_local_query() -> None:
    fragment = negotiate(FakePlanner(), parse("SELECT s.b FROM t AS s WHERE s.b > 1"))
    assert fragment.local_query is not None
    assert to_adql(fragment.local_query) == "SELECT b FROM fragment.fetched WHERE b > 1"


@pytest.mark.parametrize(
    "text",
    [
        "SELECT a FROM t JOIN u ON t.a = u.a",
        "SELECT a FROM t WHERE a IN (SELECT a FROM u)",
        "SELECT a FROM t UNION SELECT a FROM u",
    ],
)
def test_multi_table_queries_are_refused(text: str) -> None:
    with pytest.raises(UnsupportedError):
        negotiate(FakePlanner(), parse(text))


def test_contains_written_backwards_is_normalised() -> None:
    text = (
        "SELECT MatchID FROM hscv3.summary"
        " WHERE 1 = CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(1, 2, 0.1))"
    )
    fragment = negotiate(HscPlanner(), parse(text))
    assert fragment.residual is None
    assert ("radius", "0.1") in fragment.requests[0].params
