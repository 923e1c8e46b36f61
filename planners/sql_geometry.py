"""ADQL geometry lowered to plain SQL arithmetic on the unit sphere (DuckDB, SQLite).

Geometry values never exist as SQL values while a predicate is evaluated: a :class:`Geo` keeps
the SQL expressions of its parts (centre, radius, vertices), and each predicate becomes
trigonometry on those parts. Only when a geometry is *selected* does it become a DALI array
(``point -> [lon, lat]``, ``circle -> [lon, lat, r]``, ``polygon -> [lon1, lat1, ...]``).

Definitions (all angles in degrees, coordinates as given, no frame conversion):

* distance: haversine form ``2 asin(sqrt(sin²(Δδ/2) + cos δ1 cos δ2 sin²(Δα/2)))``, accurate
  for small and large separations alike (the cosine formula loses precision below ~1").
  RA needs no wrapping: only ``sin²(Δα/2)`` enters, which is 360°-periodic.
* CONTAINS(point, circle): ``hav(distance) <= sin²(r/2)``, avoiding the ``asin`` per row.
* CONTAINS(point, BOX(lon, lat, w, h)): ADQL 2.1 §4.2.5 defines the box by a cross of arms
  along the coordinate axes at the centre, and sides that are great circles meeting the arm
  ends at right angles. A great circle through the arm end ``cos(h/2) c + sin(h/2) n`` and
  perpendicular to the meridian arm has normal ``sin(h/2) c - cos(h/2) n``, so the box is
  exactly ``|η| <= tan(h/2)`` and ``|ξ| <= tan(w/2)`` with ``p·c > 0``, where ``ξ, η`` are the
  gnomonic (tangent-plane) coordinates of the point about the centre. This works across
  RA = 0/360 and at the poles (the axes at the centre come from its RA even at |dec| = 90).
* CONTAINS(point, polygon): great-circle edges; the interior is the region not containing the
  antipode of the vertex centroid. Evaluated by the engine's vectorised function
  ``adql_polygon_contains`` (a gnomonic projection maps great circles to straight lines, so a
  planar crossing test is exact).
* INTERSECTS(circle, circle): ``distance(c1, c2) <= r1 + r2``. INTERSECTS with a point is
  CONTAINS with the point first (ADQL 2.1 keeps this for compatibility).
* Circles and polygons, polygons and polygons (a constant BOX is the polygon of its corners):
  engine functions ``adql_circle_intersects_polygon``, ``adql_circle_in_polygon``,
  ``adql_polygon_in_circle``, ``adql_polygons_intersect``, ``adql_polygon_in_polygon``.

Regions are closed (ADQL 2.1: the boundary is inside). Circle and box tests are ``<=``
comparisons of row-wise SQL arithmetic: deterministic, and the same as ``DISTANCE(...) <= r``.
Polygon tests (engine functions) accept ``gateway.engine.sphere.TOLERANCE_DEG`` beyond the
boundary: their boundary comes out of projections whose last bit depends on the batch, so
without it a vertex used as a query point was in or out depending on the rest of the query.

NULL in, NULL out: a NULL coordinate or radius makes the predicate, DISTANCE, AREA and a
selected geometry NULL. (``LEAST``/``GREATEST`` skip NULLs in DuckDB, so clamps are ``CASE``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from grammar.errors import UnsupportedError
from grammar.nodes import Span

GeoKind = Literal["point", "circle", "box", "polygon"]


@dataclass(frozen=True, slots=True)
class Geo:
    """A geometry as SQL parts.

    ``parts``: point ``(lon, lat)``; circle ``(lon, lat, r)``; box ``(lon, lat, w, h)``;
    polygon ``(lon1, lat1, lon2, lat2, ...)``. A polygon read from a column has no parts
    but an ``array`` (a DALI ``double[]``). ``consts`` holds the part values when every part
    is a compile-time number, which lets AREA/CENTROID of literals be folded.
    """

    kind: GeoKind
    parts: tuple[exp.Expr, ...] = ()
    array: exp.Expr | None = None
    consts: tuple[float, ...] | None = None


def num(value: float) -> exp.Expr:
    """A numeric literal (negative values become a unary minus)."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    if value < 0:
        return exp.Neg(this=exp.Literal.number(text.lstrip("-")))
    return exp.Literal.number(text)


def call(name: str, *args: exp.Expr) -> exp.Expr:
    """A function call rendered verbatim (the names used are common to all targets)."""
    return exp.Anonymous(this=name, expressions=list(args))


def paren(e: exp.Expr) -> exp.Expr:
    """Parenthesise binary expressions so generated arithmetic keeps its grouping."""
    return exp.Paren(this=e) if isinstance(e, exp.Binary) else e


def rad(e: exp.Expr) -> exp.Expr:
    """Degrees to radians, folded for constants."""
    if isinstance(e, exp.Literal) and not e.is_string:
        return num(math.radians(float(e.this)))
    return call("RADIANS", e)


def _sin2_half(delta: exp.Expr) -> exp.Expr:
    return exp.Pow(
        this=call("SIN", exp.Div(this=paren(delta), expression=num(2.0))), expression=num(2)
    )


def haversine(lon1: exp.Expr, lat1: exp.Expr, lon2: exp.Expr, lat2: exp.Expr) -> exp.Expr:
    """``sin²(d/2)`` for the great-circle distance ``d`` between two positions in degrees."""
    dlat = exp.Sub(this=rad(lat2), expression=rad(lat1))
    dlon = exp.Sub(this=rad(lon2), expression=rad(lon1))
    cosines = exp.Mul(this=call("COS", rad(lat1)), expression=call("COS", rad(lat2)))
    return exp.Add(
        this=_sin2_half(dlat), expression=exp.Mul(this=cosines, expression=_sin2_half(dlon))
    )


def at_most(value: exp.Expr, limit: float) -> exp.Expr:
    """``min(value, limit)`` that stays NULL for NULL (DuckDB's ``LEAST`` would not)."""
    return exp.Case(
        ifs=[exp.If(this=exp.GT(this=value, expression=num(limit)), true=num(limit))],
        default=value,
    )


def distance_deg(p: Geo, q: Geo) -> exp.Expr:
    """Great-circle distance in degrees between two points (haversine, clamped for rounding)."""
    hav = haversine(p.parts[0], p.parts[1], q.parts[0], q.parts[1])
    root = at_most(call("SQRT", hav), 1.0)
    return call("DEGREES", exp.Mul(this=num(2.0), expression=call("ASIN", root)))


def constant(node: exp.Expr) -> float | None:
    """The value of a numeric constant expression, or None if it depends on data."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return float(node.this)
    if isinstance(node, exp.Paren | exp.Cast):
        return constant(node.this)
    if isinstance(node, exp.Neg):
        inner = constant(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Binary):
        a, b = constant(node.this), constant(node.expression)
        if a is None or b is None:
            return None
        if isinstance(node, exp.Add):
            return a + b
        if isinstance(node, exp.Sub):
            return a - b
        if isinstance(node, exp.Mul):
            return a * b
        if isinstance(node, exp.IntDiv) and b:
            return float(int(a / b))
        if isinstance(node, exp.Div) and b:
            return a / b
    return None


def _hav_of_radius(r: exp.Expr) -> exp.Expr:
    """``sin²(r/2)``; 1 from 180° on (the whole sphere), -1 for r < 0 (empty)."""
    value = constant(r)
    if value is not None:
        if value < 0:
            return num(-1.0)
        return num(math.sin(math.radians(min(value, 180.0)) / 2) ** 2)
    sin2 = exp.Pow(this=call("SIN", exp.Div(this=rad(r), expression=num(2.0))), expression=num(2))
    # A NULL radius fails both tests and reaches the ELSE, which is NULL too.
    return exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=r, expression=num(0.0)), true=num(-1.0)),
            exp.If(this=exp.GTE(this=r, expression=num(180.0)), true=num(1.0)),
        ],
        default=sin2,
    )


def point_in_circle(p: Geo, c: Geo) -> exp.Expr:
    """Boolean: the point is inside or on the circle."""
    lon, lat, r = c.parts
    return exp.LTE(this=haversine(p.parts[0], p.parts[1], lon, lat), expression=_hav_of_radius(r))


def point_in_box(p: Geo, b: Geo) -> exp.Expr:
    """Boolean: the point lies in the ADQL box (gnomonic rectangle about the centre)."""
    lon, lat = p.parts[:2]
    lon0, lat0, width, height = b.parts
    dra = exp.Sub(this=rad(lon), expression=rad(lon0))
    sd, cd = call("SIN", rad(lat)), call("COS", rad(lat))
    sd0, cd0 = call("SIN", rad(lat0)), call("COS", rad(lat0))
    cdra = call("COS", dra)
    # p·c, p·e and p·n with c the centre and e, n the east and north axes there.
    pc = exp.Add(
        this=exp.Mul(this=sd, expression=sd0),
        expression=exp.Mul(this=exp.Mul(this=cd, expression=cd0), expression=cdra),
    )
    pe = exp.Mul(this=cd, expression=call("SIN", dra))
    pn = exp.Sub(
        this=exp.Mul(this=sd, expression=cd0),
        expression=exp.Mul(this=exp.Mul(this=cd, expression=sd0), expression=cdra),
    )

    def half_tan(size: exp.Expr) -> exp.Expr:
        value = constant(size)
        if value is not None:
            return num(math.tan(math.radians(value) / 2))
        return call("TAN", exp.Div(this=rad(size), expression=num(2.0)))

    return exp.and_(
        exp.GT(this=pc, expression=num(0.0)),
        exp.LTE(
            this=call("ABS", pe), expression=exp.Mul(this=paren(pc), expression=half_tan(width))
        ),
        exp.LTE(
            this=call("ABS", pn), expression=exp.Mul(this=paren(pc), expression=half_tan(height))
        ),
    )


def polygon_array(g: Geo) -> exp.Expr:
    """A polygon (or box folded to its corners) as a DALI ``double[]`` expression."""
    if g.array is not None:
        return g.array
    if g.kind == "box":
        if g.consts is None:
            return exp.Array(expressions=_box_corners_sql(*g.parts))
        return exp.Array(expressions=[num(v) for v in box_corners(*g.consts)])
    return exp.Array(expressions=list(g.parts))


def _box_corners_sql(lon: exp.Expr, lat: exp.Expr, w: exp.Expr, h: exp.Expr) -> list[exp.Expr]:
    """:func:`box_corners` as SQL, for boxes whose arguments come from the data."""

    def product(*factors: exp.Expr) -> exp.Expr:
        out = factors[0]
        for f in factors[1:]:
            out = exp.Mul(this=out, expression=f)
        return out

    def square(e: exp.Expr) -> exp.Expr:
        return exp.Pow(this=paren(e), expression=num(2))

    sa, ca = call("SIN", rad(lon)), call("COS", rad(lon))
    sd, cd = call("SIN", rad(lat)), call("COS", rad(lat))
    tx = call("TAN", exp.Div(this=rad(w), expression=num(2.0)))
    ty = call("TAN", exp.Div(this=rad(h), expression=num(2.0)))
    centre = (product(cd, ca), product(cd, sa), sd)
    east = (exp.Neg(this=sa), ca, num(0.0))
    north = (exp.Neg(this=product(sd, ca)), exp.Neg(this=product(sd, sa)), cd)
    out: list[exp.Expr] = []
    for sx, sy in ((1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0)):
        x, y, z = (
            exp.Add(
                this=exp.Add(this=c, expression=product(num(sx), tx, e)),
                expression=product(num(sy), ty, n),
            )
            for c, e, n in zip(centre, east, north, strict=True)
        )
        horizontal = call("SQRT", exp.Add(this=square(x), expression=square(y)))
        out += [call("DEGREES", call("ATAN2", y, x)), call("DEGREES", call("ATAN2", z, horizontal))]
    return out


def polygon_problem(values: tuple[float, ...]) -> str | None:
    """Why the engine cannot use a polygon ``lon1, lat1, lon2, ...`` (deg), else None.

    The one statement of the rule: the compiler checks constant polygons with it, and the
    engine's :class:`gateway.engine.sphere.Polygon` checks polygons from the data when the query
    runs. The interior must be the side of the vertex centroid, so every vertex must lie in
    the open hemisphere around it.
    """
    radians = [math.radians(v) for v in values]
    vectors = [
        (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
        for lon, lat in zip(radians[0::2], radians[1::2], strict=True)
    ]
    total = [sum(axis) for axis in zip(*vectors, strict=True)]
    norm = math.hypot(*total)
    if not math.isfinite(norm) or norm < 1e-12:
        return "degenerate polygon (its vertices have no centroid)"
    if any(sum(a * b for a, b in zip(v, total, strict=True)) <= 1e-12 * norm for v in vectors):
        return "polygon does not fit in the hemisphere around its vertex centroid"
    return None


def point_in_polygon(p: Geo, poly: Geo) -> exp.Expr:
    """Boolean: the point lies in the polygon (engine function, vectorised)."""
    return call("adql_polygon_contains", *p.parts[:2], polygon_array(poly))


def contains(a: Geo, b: Geo, span: Span) -> exp.Expr:
    """Boolean SQL for CONTAINS(a, b): ``a`` lies in the closed region ``b``."""
    if b.kind == "point":  # as a region, a point is the circle of radius 0 around it
        b = Geo("circle", (*b.parts[:2], num(0.0)))
    if a.kind == "point":
        if b.kind == "circle":
            return point_in_circle(a, b)
        if b.kind == "box":
            return point_in_box(a, b)
        if b.kind == "polygon":
            return point_in_polygon(a, b)
    elif a.kind == "circle":
        if b.kind == "circle":
            lon, lat, r = a.parts
            d = distance_deg(Geo("point", (lon, lat)), Geo("point", b.parts[:2]))
            return exp.LTE(this=exp.Add(this=d, expression=paren(r)), expression=b.parts[2])
        if b.kind in {"box", "polygon"}:
            return call("adql_circle_in_polygon", *a.parts, polygon_array(b))
    elif b.kind == "circle":
        return call("adql_polygon_in_circle", *b.parts, polygon_array(a))
    elif b.kind in {"box", "polygon"}:
        return call("adql_polygon_in_polygon", polygon_array(a), polygon_array(b))
    raise UnsupportedError(f"CONTAINS({a.kind.upper()}, {b.kind.upper()})", location=span)


def intersects(a: Geo, b: Geo, span: Span) -> exp.Expr:
    """Boolean SQL for INTERSECTS(a, b): the closed regions share a point."""
    if a.kind == "point":
        return contains(a, b, span)
    if b.kind == "point":
        return contains(b, a, span)
    if a.kind == "circle" and b.kind == "circle":
        d = distance_deg(Geo("point", a.parts[:2]), Geo("point", b.parts[:2]))
        radii = exp.Add(this=paren(a.parts[2]), expression=paren(b.parts[2]))
        return exp.LTE(this=d, expression=radii)
    if a.kind == "circle" or b.kind == "circle":
        circle, region = (a, b) if a.kind == "circle" else (b, a)
        return call("adql_circle_intersects_polygon", *circle.parts, polygon_array(region))
    return call("adql_polygons_intersect", polygon_array(a), polygon_array(b))


def null_if_any_null(parts: tuple[exp.Expr, ...], value: exp.Expr) -> exp.Expr:
    """``value``, or NULL when one of ``parts`` is (for values that ignore some parts)."""
    if not parts or all(constant(p) is not None for p in parts):
        return value
    any_null = exp.or_(*(exp.Is(this=p, expression=exp.Null()) for p in parts))
    return exp.Case(ifs=[exp.If(this=any_null, true=exp.Null())], default=value)


def area_sq_deg(g: Geo, span: Span) -> exp.Expr:
    """AREA in square degrees: exact spherical areas (cap, spherical polygon)."""
    sq_deg = (180.0 / math.pi) ** 2
    if g.kind == "point":
        return null_if_any_null(g.parts, num(0.0))
    if g.kind == "circle":
        # Spherical cap: 2π(1 - cos r) steradians; a circle with a NULL centre is NULL.
        cap = exp.Mul(
            this=num(2 * math.pi * sq_deg),
            expression=paren(exp.Sub(this=num(1.0), expression=call("COS", rad(g.parts[2])))),
        )
        return null_if_any_null(g.parts[:2], cap)
    if g.kind in {"polygon", "box"}:
        return call("adql_polygon_area", polygon_array(g))
    raise UnsupportedError(f"AREA({g.kind.upper()})", location=span)


def centroid(g: Geo, span: Span) -> Geo:
    """CENTROID as a point geometry."""
    if g.kind == "point":
        return g
    if g.kind in {"circle", "box"}:  # the centre; NULL if the size is
        size = g.parts[2:]
        return Geo("point", tuple(null_if_any_null(size, p) for p in g.parts[:2]))
    if g.kind == "polygon":
        arr = call("adql_polygon_centroid", polygon_array(g))
        return from_array("point", arr)
    raise UnsupportedError(f"CENTROID({g.kind.upper()})", location=span)


def element(arr: exp.Expr, index: int) -> exp.Expr:
    """The 1-based ``index``-th element of an SQL array."""
    return exp.Bracket(this=arr, expressions=[exp.Literal.number(index - 1)])


def from_array(kind: GeoKind, arr: exp.Expr) -> Geo:
    """A geometry read from a DALI array value (a column or an engine function result)."""
    if kind == "point":
        return Geo("point", (element(arr, 1), element(arr, 2)))
    if kind == "circle":
        return Geo("circle", (element(arr, 1), element(arr, 2), element(arr, 3)))
    return Geo("polygon", (), array=arr)


def to_array(g: Geo) -> exp.Expr:
    """The DALI array of a geometry value (what a SELECT list returns); NULL if a part is."""
    if g.kind in {"point", "circle"}:
        array: exp.Expr = exp.Array(
            expressions=[exp.Cast(this=p, to=exp.DataType.build("DOUBLE")) for p in g.parts]
        )
    elif g.array is None:
        # Constant corners are SQL literals that DuckDB reads as DECIMAL: DALI wants doubles.
        array = exp.Cast(this=polygon_array(g), to=exp.DataType.build("DOUBLE[]", dialect="duckdb"))
    else:
        array = polygon_array(g)
    return array if g.array is not None else null_if_any_null(g.parts, array)


def box_corners(lon: float, lat: float, width: float, height: float) -> list[float]:
    """The four corners of an ADQL box, counter-clockwise from south-east, as lon/lat pairs."""
    ra0, de0 = math.radians(lon), math.radians(lat)
    tx, ty = math.tan(math.radians(width) / 2), math.tan(math.radians(height) / 2)
    centre = (math.cos(de0) * math.cos(ra0), math.cos(de0) * math.sin(ra0), math.sin(de0))
    east = (-math.sin(ra0), math.cos(ra0), 0.0)
    north = (-math.sin(de0) * math.cos(ra0), -math.sin(de0) * math.sin(ra0), math.cos(de0))
    out: list[float] = []
    for sx, sy in ((1, -1), (1, 1), (-1, 1), (-1, -1)):
        v = [c + sx * tx * e + sy * ty * n for c, e, n in zip(centre, east, north, strict=True)]
        out += [
            math.degrees(math.atan2(v[1], v[0])) % 360.0,
            math.degrees(math.atan2(v[2], math.hypot(v[0], v[1]))),
        ]
    return out
