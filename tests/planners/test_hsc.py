"""Unit tests of the HSC planner: metadata, table lookup, single pushdown rules."""

from __future__ import annotations

import httpx
import pytest

from grammar import AdqlSemanticError, parse
from grammar.nodes import Identifier, TableName
from planners.hsc import HscPlanner
from planners.hsc_tables import TABLES, load_metadata
from planners.negotiate import negotiate
from planners.sky import cap_box
from tests.planners import make_hsc_metadata


def params(text: str) -> list[tuple[str, str]]:
    (request,) = negotiate(HscPlanner(), parse(text)).requests
    return list(request.params)


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(TABLES))
def test_shipped_metadata_equals_the_stand_in(name: str, hsc_url: str) -> None:
    table = TABLES[name]
    served = httpx.get(f"{hsc_url}/{table.path}/metadata", timeout=30).json()
    assert list(load_metadata(table.stem)) == served
    assert (make_hsc_metadata.DATA_DIR / f"{table.stem}.json").read_text() == (
        make_hsc_metadata.render(name)
    )


def test_unknown_table_suggests_close_names() -> None:
    with pytest.raises(AdqlSemanticError, match=r"did you mean hscv3\.summary"):
        HscPlanner().scan(TableName((Identifier("hscv3"), Identifier("sumary"))))


def test_unknown_column_is_a_semantic_error_with_position() -> None:
    with pytest.raises(AdqlSemanticError, match="MatchRa2") as info:
        negotiate(HscPlanner(), parse("SELECT MatchRa2 FROM hscv3.summary"))
    assert info.value.line == 1
    assert info.value.column == 8


def test_operators_and_flipped_literals() -> None:
    got = params("SELECT MatchID FROM hscv3.summary WHERE 3 <= NumImages AND NumVisits < 4")
    assert ("NumImages.gte", "3") in got
    assert ("NumVisits.lt", "4") in got


def test_not_equal_and_null_tests_stay_residual() -> None:
    fragment = negotiate(
        HscPlanner(), parse("SELECT MatchID FROM hscv3.summary WHERE CI <> 1 AND CI IS NULL")
    )
    assert fragment.residual is not None
    assert not [k for k, _ in fragment.requests[0].params if k.startswith("CI")]


def test_like_only_on_text_and_without_star() -> None:
    got = params("SELECT MatchID FROM hscv3.summary WHERE TargetName LIKE 'a*b%'")
    assert not [k for k, _ in got if k.endswith(".like")]
    got = params("SELECT MatchID FROM hscv3.summary WHERE TargetName LIKE 'ab%'")
    assert ("TargetName.like", "ab%") in got


def test_radius_limit_is_inclusive() -> None:
    got = params(
        "SELECT MatchID FROM hscv3.summary"
        " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(1, 2, 0.5)) = 1"
    )
    assert ("radius", "0.5") in got


def test_no_top_means_paging_may_overflow() -> None:
    (request,) = negotiate(HscPlanner(), parse("SELECT MatchID FROM hscv3.summary")).requests
    assert request.paging is not None
    assert request.paging.may_overflow
    assert ("pagesize", "50000") in request.params


def test_top_fits_one_page() -> None:
    (request,) = negotiate(HscPlanner(), parse("SELECT TOP 3 MatchID FROM hscv3.summary")).requests
    assert request.paging is not None
    assert not request.paging.may_overflow
    assert ("pagesize", "3") in request.params


def test_descending_order_only_on_the_key() -> None:
    fragment = negotiate(
        HscPlanner(), parse("SELECT TOP 3 MatchID FROM hscv3.summary ORDER BY CI DESC")
    )
    assert fragment.local_query is not None
    assert not [k for k, _ in fragment.requests[0].params if k == "sort_by"]


@pytest.mark.parametrize(
    ("ra", "dec", "radius", "ranges"),
    [(10.0, 0.0, 1.0, 1), (0.2, 10.0, 1.0, 2), (359.9, -10.0, 1.0, 2), (5.0, 89.5, 1.0, 0)],
)
def test_cap_box(ra: float, dec: float, radius: float, ranges: int) -> None:
    box = cap_box(ra, dec, radius)
    assert len(box.ra_ranges) == ranges
    assert box.dec_min <= dec - radius or box.dec_min == -90.0
    assert box.dec_max >= min(dec + radius, 90.0)
