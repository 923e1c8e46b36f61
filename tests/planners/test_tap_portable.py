"""What the gateway sends a remote TAP service for joins and polygons it may not read.

A join without ON/USING is ADQL 2.1, but services that apply SQL-92's rule (and parts of the
IVOA validator suite) reject it, and CROSS JOIN is not ADQL at all: both go over as
``JOIN ... ON 1 = 1``, the same rows everywhere; a bare ``*`` beside other select items (our
extension) goes over as ``t.*`` per table. ADQL 2.0 services get polygon vertices that are
point columns as ``COORD1(p), COORD2(p)`` pairs.
"""

from __future__ import annotations

import pytest

import grammar
from planners.sql_catalog import ColumnInfo
from planners.tap import TapCapabilities, TapPlanner

TABLES = {
    "s.a": (ColumnInfo("x", "long"), ColumnInfo("pos", "double", "2", xtype="point")),
    "s.b": (ColumnInfo("y", "long"), ColumnInfo("p2", "double", "2", xtype="point")),
}
MODERN = TapPlanner("new", "http://new.test/tap", TABLES)
OLD = TapPlanner(
    "old", "http://old.test/tap", TABLES, features=TapCapabilities(adql_versions=("2.0",))
)


def sent(planner: TapPlanner, adql: str) -> str:
    _, requests = planner.request_for(grammar.parse(adql))
    (request,) = requests
    query = dict(request.params)["QUERY"]
    grammar.parse(query)  # what is sent is ADQL the gateway itself accepts
    return query


@pytest.mark.parametrize(
    ("adql", "query"),
    [
        ("SELECT a.x, b.y FROM s.a AS a JOIN s.b AS b", "FROM s.a AS a JOIN s.b AS b ON 1 = 1"),
        ("SELECT * FROM s.a AS a CROSS JOIN s.b AS b", "FROM s.a AS a JOIN s.b AS b ON 1 = 1"),
        ("SELECT * FROM s.a AS a LEFT JOIN s.b AS b", "FROM s.a AS a LEFT JOIN s.b AS b ON 1 = 1"),
        (
            "SELECT * FROM s.a AS a JOIN (s.b AS b JOIN s.a AS c) ON a.x = b.y",
            "FROM s.a AS a JOIN (s.b AS b JOIN s.a AS c ON 1 = 1) ON a.x = b.y",
        ),
        (
            "SELECT * FROM s.a AS a JOIN s.b AS b USING (x) NATURAL JOIN s.a AS c",
            "FROM s.a AS a JOIN s.b AS b USING (x) NATURAL JOIN s.a AS c",
        ),
    ],
)
def test_joins_go_over_with_explicit_conditions(adql: str, query: str) -> None:
    for planner in (MODERN, OLD):
        assert query in sent(planner, adql)


@pytest.mark.parametrize(
    ("adql", "items"),
    [
        ("SELECT *, x * 2 AS x2 FROM s.a", "SELECT s.a.*, x * 2 AS x2 FROM"),
        ("SELECT y, * FROM s.a AS a JOIN s.b AS b ON a.x = b.y", "SELECT y, a.*, b.* FROM"),
        ("SELECT * FROM s.a", "SELECT * FROM"),
        ("SELECT x, * FROM s.a AS a JOIN s.b AS b USING (x)", "SELECT x, * FROM"),
    ],
)
def test_a_bare_star_beside_other_items_is_qualified(adql: str, items: str) -> None:
    for planner in (MODERN, OLD):
        assert sent(planner, adql).startswith(items)


def test_point_column_vertices_become_coordinates_for_adql_20() -> None:
    adql = "SELECT x FROM s.a WHERE 1 = CONTAINS(POINT(10, 20), POLYGON(pos, POINT(11, 20), pos))"
    assert "POLYGON(pos, POINT(11, 20), pos)" in sent(MODERN, adql)
    assert "POLYGON('ICRS', COORD1(pos), COORD2(pos), 11, 20, COORD1(pos), COORD2(pos))" in sent(
        OLD, adql
    )
