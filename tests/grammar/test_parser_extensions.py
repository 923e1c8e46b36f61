"""Trees of the join forms without a specification, the bare * beside other items and
POLYGON over point values (the corpus only checks that they parse)."""

from __future__ import annotations

import pytest

from grammar import nodes as n
from grammar import parse, to_adql
from grammar.errors import AdqlSyntaxError


def _from(text: str) -> n.FromItem:
    body = parse(text).body
    assert isinstance(body, n.SelectQuery)
    (item,) = body.from_
    return item


@pytest.mark.parametrize(
    ("join", "kind"),
    [
        ("JOIN", "INNER"),
        ("INNER JOIN", "INNER"),
        ("LEFT JOIN", "LEFT"),
        ("FULL OUTER JOIN", "FULL"),
    ],
)
def test_a_join_without_specification_has_no_condition(join: str, kind: str) -> None:
    item = _from(f"SELECT * FROM a {join} b")
    assert isinstance(item, n.JoinedTable)
    assert (item.kind, item.natural, item.condition, item.using) == (kind, False, None, None)


def test_parenthesised_joins_nest_on_both_sides() -> None:
    item = _from("SELECT x FROM (t1 JOIN t4) FULL OUTER JOIN (t2 JOIN t3 ON t2.a = t3.a)")
    assert isinstance(item, n.JoinedTable)
    assert item.kind == "FULL"
    assert isinstance(item.left, n.JoinedTable)
    assert isinstance(item.right, n.JoinedTable)
    assert item.right.condition is not None
    assert to_adql(parse(to_adql(parse("SELECT x FROM a JOIN (b JOIN c)")))) == (
        "SELECT x FROM a JOIN (b JOIN c)"
    )


def test_a_join_takes_at_most_one_specification() -> None:
    with pytest.raises(AdqlSyntaxError):
        parse("SELECT * FROM a JOIN b ON a.x = b.x USING (x)")


def test_bare_star_beside_other_items() -> None:
    body = parse("SELECT ra, *, t.*, 1 AS one FROM t").body
    assert isinstance(body, n.SelectQuery)
    kinds = [type(i).__name__ for i in body.items]
    assert kinds == ["DerivedColumn", "Asterisk", "Asterisk", "DerivedColumn"]
    assert isinstance(body.items[1], n.Asterisk)
    assert body.items[1].qualifier is None
    assert isinstance(body.items[2], n.Asterisk)
    assert body.items[2].qualifier is not None


@pytest.mark.parametrize(
    "vertices",
    ["p1, p2, p3", "'ICRS', p1, p2, p3", "POINT(1, 2), p2, CENTROID(c)", "p1, p2, p3, p4, p5"],
)
def test_polygon_of_point_values_keeps_them_as_vertices(vertices: str) -> None:
    body = parse(f"SELECT POLYGON({vertices}) FROM t").body
    assert isinstance(body, n.SelectQuery)
    item = body.items[0]
    assert isinstance(item, n.DerivedColumn)
    polygon = item.expression
    assert isinstance(polygon, n.Polygon)
    assert not any(isinstance(v, n.Coordinates) for v in polygon.vertices)


def test_six_columns_read_as_three_coordinate_pairs() -> None:
    body = parse("SELECT POLYGON(a, b, c, d, e, f) FROM t").body
    assert isinstance(body, n.SelectQuery)
    item = body.items[0]
    assert isinstance(item, n.DerivedColumn)
    assert isinstance(item.expression, n.Polygon)
    assert all(isinstance(v, n.Coordinates) for v in item.expression.vertices)
    assert len(item.expression.vertices) == 3
