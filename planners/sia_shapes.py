"""Literal ADQL geometry as SIAv2 ``POS`` text (specs/sia-obscore.md §5).

:func:`shape_text` turns a constant CIRCLE, POLYGON, BOX or POINT into the value of one POS
parameter (``CIRCLE ra dec r`` / ``POLYGON ra1 dec1 ...``), or None when the shape is not
constant, not in a sky frame, or not something the SIA service accepts. The predicates that
use it (CONTAINS, INTERSECTS, DISTANCE) are recognised in :mod:`planners.sia_atoms`.
"""

from __future__ import annotations

import math

from grammar import nodes as n
from grammar.walk import NotALiteralError, literal_value
from planners.sql_geometry import box_corners

TINY_RADIUS = 1e-9
"""Radius (deg) of the circle that stands for a point in POS (a superset of the point)."""


def literal_number(expr: n.ValueExpression) -> float | None:
    """The value of a numeric literal (not a boolean), or None for anything else."""
    try:
        value = literal_value(expr)
    except NotALiteralError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _lonlat(lon_e: n.ValueExpression, lat_e: n.ValueExpression) -> tuple[float, float] | None:
    lon, lat = literal_number(lon_e), literal_number(lat_e)
    if lon is None or lat is None or not -90 <= lat <= 90 or not math.isfinite(lon):
        return None
    return lon % 360.0, lat


def _centre(c: n.Coordinates | n.ValueExpression) -> tuple[float, float] | None:
    if isinstance(c, n.Coordinates | n.Point):
        return _lonlat(c.lon, c.lat)
    return None


def _hemisphere_ok(pairs: list[tuple[float, float]]) -> bool:
    """The SIA service accepts only polygons smaller than a hemisphere."""
    vectors = [
        (
            math.cos(math.radians(d)) * math.cos(math.radians(a)),
            math.cos(math.radians(d)) * math.sin(math.radians(a)),
            math.sin(math.radians(d)),
        )
        for a, d in pairs
    ]
    total = [sum(v[i] for v in vectors) for i in range(3)]
    norm = math.sqrt(sum(t * t for t in total))
    if norm < 1e-9:
        return False
    return all(sum(v[i] * total[i] for i in range(3)) / norm > 1e-6 for v in vectors)


_SKY_FRAMES = frozenset({"", "icrs", "j2000", "fk5", "icrs geocenter", "unknownframe"})
"""Coordinate systems read as plain ICRS degrees (as the local engine reads them)."""


def shape_text(shape: n.ValueExpression, *, point_radius: float = TINY_RADIUS) -> str | None:
    """The POS value for a literal CIRCLE, POLYGON, BOX or POINT; None if not constant."""
    frame = getattr(shape, "coord_sys", None)
    if isinstance(frame, n.StringLiteral) and frame.value.strip().lower() not in _SKY_FRAMES:
        return None
    match shape:
        case n.Circle():
            centre, radius = _centre(shape.center), literal_number(shape.radius)
            if centre is None or radius is None or radius <= 0:
                return None
            return f"CIRCLE {_fmt(centre[0])} {_fmt(centre[1])} {_fmt(min(radius, 180.0))}"
        case n.Point():
            centre = _lonlat(shape.lon, shape.lat)
            if centre is None:
                return None
            return f"CIRCLE {_fmt(centre[0])} {_fmt(centre[1])} {_fmt(point_radius)}"
        case n.Polygon():
            pairs = [_centre(v) for v in shape.vertices]
            if any(p is None for p in pairs) or len(pairs) < 3:
                return None
            return _polygon_text([p for p in pairs if p is not None])
        case n.Box():
            centre = _centre(shape.center)
            width, height = literal_number(shape.width), literal_number(shape.height)
            if centre is None or width is None or height is None or width <= 0 or height <= 0:
                return None
            if width >= 180 or height >= 180:
                return None
            flat = box_corners(centre[0], centre[1], width, height)
            return _polygon_text(list(zip(flat[0::2], flat[1::2], strict=True)))
        case _:
            return None


def _polygon_text(pairs: list[tuple[float, float]]) -> str | None:
    if not _hemisphere_ok(pairs):
        return None
    return "POLYGON " + " ".join(f"{_fmt(a)} {_fmt(d)}" for a, d in pairs)
