"""Recognising the pushable shapes of WHERE conjuncts, shared by the REST-style planners.

Backends such as HSC REST and the legacy spectral service take a handful of predicate shapes
(``column op literal``, ``BETWEEN``, ``IN``, ``LIKE``, a cone). These helpers turn an AST
conjunct into a small typed value when it has such a shape, and return None otherwise, so
each planner decides what to do with a shape and everything unrecognised stays residual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grammar import nodes as n
from grammar.walk import NotALiteralError, literal_value
from planners.sql_catalog import ColumnInfo
from planners.sql_geometry import box_corners

Op = Literal["=", "<>", "<", ">", "<=", ">="]

_FLIP: dict[Op, Op] = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_SKY_FRAMES = frozenset({"", "icrs", "j2000", "fk5", "icrs geocenter", "unknownframe"})
"""Coordinate systems read as plain ICRS degrees (ADQL 2.1 deprecates the argument)."""

Scalar = int | float | str


def find_column(columns: Sequence[ColumnInfo], name: n.Identifier) -> ColumnInfo | None:
    """The column ``name`` designates: exact for delimited names, case-insensitive otherwise."""
    for column in columns:
        if (column.name == name.name) if name.delimited else column.name.lower() == name.key:
            return column
    return None


def column_of(expr: n.ValueExpression, columns: Sequence[ColumnInfo]) -> ColumnInfo | None:
    """The catalogue column a bare column reference designates, or None for anything else.

    Qualifiers are ignored: negotiation only ever sees single-table fragments.
    """
    if isinstance(expr, n.ColumnReference):
        return find_column(columns, expr.name)
    return None


def constant(expr: n.ValueExpression) -> Scalar | None:
    """The value of a non-NULL literal (signs folded), or None when not a constant."""
    try:
        value = literal_value(expr)
    except NotALiteralError:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Comparison:
    """``column op value`` with the column on the left (``5 < x`` reads as ``x > 5``)."""

    column: ColumnInfo
    op: Op
    value: Scalar


def comparison(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> Comparison | None:
    """Read ``column op literal`` or ``literal op column``; None for every other shape."""
    if not isinstance(cond, n.ComparisonPredicate):
        return None
    left, right = column_of(cond.left, columns), column_of(cond.right, columns)
    if left is not None and right is None:
        value = constant(cond.right)
        return None if value is None else Comparison(left, cond.op, value)
    if right is not None and left is None:
        value = constant(cond.left)
        return None if value is None else Comparison(right, _FLIP[cond.op], value)
    return None


def between(
    cond: n.SearchCondition, columns: Sequence[ColumnInfo]
) -> tuple[ColumnInfo, Scalar, Scalar] | None:
    """``column BETWEEN low AND high`` (not negated) with constant bounds."""
    if not isinstance(cond, n.BetweenPredicate) or cond.negated:
        return None
    column = column_of(cond.operand, columns)
    low, high = constant(cond.low), constant(cond.high)
    if column is None or low is None or high is None:
        return None
    return column, low, high


def in_list(
    cond: n.SearchCondition, columns: Sequence[ColumnInfo]
) -> tuple[ColumnInfo, tuple[Scalar, ...]] | None:
    """``column IN (v1, v2, ...)`` (not negated, constants only, no NULL)."""
    if not isinstance(cond, n.InPredicate) or cond.negated or isinstance(cond.values, n.Query):
        return None
    column = column_of(cond.operand, columns)
    values = tuple(constant(v) for v in cond.values)
    if column is None or any(v is None for v in values):
        return None
    return column, tuple(v for v in values if v is not None)


def like(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> tuple[ColumnInfo, str] | None:
    """``column LIKE 'pattern'`` (case-sensitive, not negated)."""
    if not isinstance(cond, n.LikePredicate) or cond.negated or cond.case_insensitive:
        return None
    column = column_of(cond.operand, columns)
    pattern = constant(cond.pattern)
    if column is None or not isinstance(pattern, str):
        return None
    return column, pattern


@dataclass(frozen=True, slots=True)
class SkyCircle:
    """A cone over two catalogue columns, degrees.

    Read from ``CONTAINS(POINT(lon_col, lat_col), CIRCLE(ra, dec, radius)) = 1`` and from
    ``DISTANCE(POINT(lon_col, lat_col), POINT(ra, dec)) <= radius`` (``exact``), or from
    ``DISTANCE(...) < radius`` and the cone around a BOX, which a backend's (closed) cone
    only covers: ``exact`` is False and the conjunct must stay residual.
    """

    lon: ColumnInfo
    lat: ColumnInfo
    ra: float
    dec: float
    radius: float
    exact: bool = True


@dataclass(frozen=True, slots=True)
class SkyPolygon:
    """``CONTAINS(POINT(lon_col, lat_col), POLYGON(...)) = 1``; ``vertices`` flat lon/lat."""

    lon: ColumnInfo
    lat: ColumnInfo
    vertices: tuple[float, ...]


def normalise_contains(cond: n.SearchCondition) -> n.SearchCondition:
    """Write ``1 = CONTAINS(...)`` as ``CONTAINS(...) = 1`` (one shape for the planners)."""
    if (
        isinstance(cond, n.ComparisonPredicate)
        and cond.op == "="
        and isinstance(cond.right, n.FunctionCall)
        and cond.right.name in {"CONTAINS", "INTERSECTS"}
        and constant(cond.left) == 1
    ):
        return n.ComparisonPredicate("=", cond.right, cond.left, span=cond.span)
    return cond


def _frame_ok(coord_sys: n.ValueExpression | None) -> bool:
    # ADQL 2.1 lets the deprecated coordinate system be NULL: no frame was given.
    if coord_sys is None or isinstance(coord_sys, n.NullLiteral):
        return True
    return isinstance(coord_sys, n.StringLiteral) and coord_sys.value.strip().lower() in _SKY_FRAMES


def _numbers(exprs: Sequence[n.ValueExpression]) -> tuple[float, ...] | None:
    values = [constant(e) for e in exprs]
    if any(isinstance(v, str) or v is None for v in values):
        return None
    return tuple(float(v) for v in values if v is not None and not isinstance(v, str))


def _contains_args(
    cond: n.SearchCondition, columns: Sequence[ColumnInfo]
) -> tuple[ColumnInfo, ColumnInfo, n.ValueExpression] | None:
    cond = normalise_contains(cond)
    if not (
        isinstance(cond, n.ComparisonPredicate)
        and cond.op == "="
        and isinstance(cond.left, n.FunctionCall)
        and cond.left.name == "CONTAINS"
        and len(cond.left.args) == 2
        and constant(cond.right) == 1
    ):
        return None
    point, region = cond.left.args
    if not isinstance(point, n.Point) or not _frame_ok(point.coord_sys):
        return None
    lon, lat = column_of(point.lon, columns), column_of(point.lat, columns)
    if lon is None or lat is None:
        return None
    return lon, lat, region


def _point_columns(
    expr: n.ValueExpression, columns: Sequence[ColumnInfo]
) -> tuple[ColumnInfo, ColumnInfo] | None:
    if not isinstance(expr, n.Point) or not _frame_ok(expr.coord_sys):
        return None
    lon, lat = column_of(expr.lon, columns), column_of(expr.lat, columns)
    return None if lon is None or lat is None else (lon, lat)


def _cone(
    lon: ColumnInfo, lat: ColumnInfo, exprs: Sequence[n.ValueExpression], *, exact: bool
) -> SkyCircle | None:
    values = _numbers(exprs)
    if values is None:
        return None
    ra, dec, radius = values
    if not -90.0 <= dec <= 90.0 or radius < 0.0 or not math.isfinite(ra):
        return None
    return SkyCircle(lon, lat, ra % 360.0, dec, radius, exact)


_DISTANCE_OPS: dict[str, tuple[bool, bool]] = {
    # op -> (DISTANCE on the left, closed bound)
    "<": (True, False), "<=": (True, True), ">": (False, False), ">=": (False, True),
}  # fmt: skip


def distance_cone(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> SkyCircle | None:
    """Read ``DISTANCE(POINT(lon_col, lat_col), POINT(ra, dec)) < r`` as a cone.

    ADQL 2.1's recommended cone form: ``<`` or ``<=``, written either way round
    (``r > DISTANCE(...)``), with the points in either order or as four numbers
    (``DISTANCE(lon_col, lat_col, ra, dec)``). ``<=`` is the closed cone (exact); ``<``
    leaves out the boundary, so the cone is a superset and ``exact`` is False.
    """
    if not isinstance(cond, n.ComparisonPredicate) or cond.op not in _DISTANCE_OPS:
        return None
    left_side, closed = _DISTANCE_OPS[cond.op]
    call, bound = (cond.left, cond.right) if left_side else (cond.right, cond.left)
    if not (isinstance(call, n.FunctionCall) and call.name == "DISTANCE"):
        return None
    args = call.args
    if len(args) == 4:
        args = (n.Point(None, args[0], args[1]), n.Point(None, args[2], args[3]))
    if len(args) != 2:
        return None
    for probe, centre in ((args[0], args[1]), (args[1], args[0])):
        own = _point_columns(probe, columns)
        if own is not None and isinstance(centre, n.Point) and _frame_ok(centre.coord_sys):
            return _cone(*own, [centre.lon, centre.lat, bound], exact=closed)
    return None


def _separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees (haversine)."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


@dataclass(frozen=True, slots=True)
class SkyBox:
    """``CONTAINS(POINT(lon_col, lat_col), BOX(ra, dec, width, height)) = 1``, degrees.

    ``corners`` are the box's four corners (flat lon/lat, as the local engine reads a BOX:
    a gnomonic rectangle about the centre, i.e. great-circle edges between the corners).
    """

    lon: ColumnInfo
    lat: ColumnInfo
    ra: float
    dec: float
    width: float
    height: float
    corners: tuple[float, ...]

    def enclosing_cone(self) -> SkyCircle:
        """The cone about the centre through the farthest corner: it holds the whole box.

        A box narrower than a hemisphere is convex and so is a cap under 90 degrees, so the
        cap holding the four corners holds the box; the margin absorbs rounding.
        """
        pairs = zip(self.corners[0::2], self.corners[1::2], strict=True)
        radius = max(_separation(self.ra, self.dec, lon, lat) for lon, lat in pairs)
        grown = radius * (1 + 1e-9) + 1e-9
        return SkyCircle(self.lon, self.lat, self.ra, self.dec, grown, exact=False)


def sky_box(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> SkyBox | None:
    """Read a point-in-box conjunct over two catalogue columns and a constant BOX."""
    args = _contains_args(cond, columns)
    if args is None or not isinstance(args[2], n.Box) or not _frame_ok(args[2].coord_sys):
        return None
    box = args[2]
    centre = box.center
    if not isinstance(centre, n.Coordinates) and not (
        isinstance(centre, n.Point) and _frame_ok(centre.coord_sys)
    ):
        return None
    values = _numbers([centre.lon, centre.lat, box.width, box.height])
    if values is None:
        return None
    ra, dec, width, height = values
    if not -90.0 <= dec <= 90.0 or not 0.0 < width < 180.0 or not 0.0 < height < 180.0:
        return None
    if not math.isfinite(ra):
        return None
    corners = tuple(box_corners(ra % 360.0, dec, width, height))
    return SkyBox(args[0], args[1], ra % 360.0, dec, width, height, corners)


def sky_circle(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> SkyCircle | None:
    """Read a cone conjunct over two catalogue columns and constant geometry.

    ``CONTAINS`` with ``CIRCLE(ra, dec, r)`` or ``CIRCLE(POINT(ra, dec), r)``, and the
    ``DISTANCE`` forms of :func:`distance_cone`; a negative radius or a centre off the sphere
    is not a usable cone (None: it stays residual).
    """
    by_distance = distance_cone(cond, columns)
    if by_distance is not None:
        return by_distance
    args = _contains_args(cond, columns)
    if args is None or not isinstance(args[2], n.Circle) or not _frame_ok(args[2].coord_sys):
        return None
    circle = args[2]
    center = circle.center
    if isinstance(center, n.Coordinates) or (
        isinstance(center, n.Point) and _frame_ok(center.coord_sys)
    ):
        exprs = [center.lon, center.lat]
    else:
        return None
    return _cone(args[0], args[1], [*exprs, circle.radius], exact=True)


def sky_polygon(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> SkyPolygon | None:
    """Read a point-in-polygon conjunct with constant vertices (coordinates or points)."""
    args = _contains_args(cond, columns)
    if args is None or not isinstance(args[2], n.Polygon) or not _frame_ok(args[2].coord_sys):
        return None
    exprs: list[n.ValueExpression] = []
    for vertex in args[2].vertices:
        if isinstance(vertex, n.Coordinates) or (
            isinstance(vertex, n.Point) and _frame_ok(vertex.coord_sys)
        ):
            exprs += [vertex.lon, vertex.lat]
        else:
            return None
    values = _numbers(exprs)
    if values is None or len(values) < 6 or any(abs(v) > 90 for v in values[1::2]):
        return None
    return SkyPolygon(args[0], args[1], values)


def number_text(value: float) -> str:
    """A number as request text: integers plainly, floats by their shortest exact repr."""
    if isinstance(value, int):
        return str(value)
    return repr(float(value))
