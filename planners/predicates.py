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
    """``CONTAINS(POINT(lon_col, lat_col), CIRCLE(ra, dec, radius)) = 1``, degrees."""

    lon: ColumnInfo
    lat: ColumnInfo
    ra: float
    dec: float
    radius: float


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


def sky_circle(cond: n.SearchCondition, columns: Sequence[ColumnInfo]) -> SkyCircle | None:
    """Read a point-in-circle conjunct over two catalogue columns and constant geometry.

    Both ``CIRCLE(ra, dec, r)`` and ``CIRCLE(POINT(ra, dec), r)`` are read; a negative
    radius or a centre off the sphere is not a usable cone (None: it stays residual).
    """
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
    values = _numbers([*exprs, circle.radius])
    if values is None:
        return None
    ra, dec, radius = values
    if not -90.0 <= dec <= 90.0 or radius < 0.0:
        return None
    return SkyCircle(args[0], args[1], ra % 360.0, dec, radius)


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
