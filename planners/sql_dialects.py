"""Geometry lowering per SQL dialect: spherical arithmetic (DuckDB, SQLite) or pgSphere.

The compiler asks :func:`geometry_ops` for the dialect's :class:`GeometryOps` and routes
every geometric construct through it, so the rest of the SQL generator is dialect-neutral.

* ``duckdb`` — the local engine's own lowering (:mod:`planners.sql_geometry`), unchanged:
  haversine arithmetic, and engine functions for polygons.
* ``sqlite`` — the same arithmetic (SQLite >= 3.35 has the math functions; ``LEAST`` is
  written as the two-argument scalar ``MIN``). Polygons (and boxes outside
  ``CONTAINS(POINT, BOX)``) and HEALPix need engine functions SQLite does not have:
  :class:`~grammar.errors.UnsupportedError`.
* ``postgres`` — PostgreSQL with pgSphere (tap-server.md §10): ``POINT`` ->
  ``spoint(radians(lon), radians(lat))``, ``CIRCLE`` -> ``scircle(spoint, radians(r))``,
  constant ``POLYGON`` -> an ``spoly`` literal in radians; ``CONTAINS(a, b)`` -> ``a <@ b``
  (pgSphere's current spelling of the legacy ``a @ b``: same operator class, not
  deprecated), ``INTERSECTS`` -> ``a && b`` (with a point it is CONTAINS, as ADQL says),
  ``DISTANCE`` -> ``degrees(p <-> q)``, ``AREA`` -> ``degrees(degrees(area(g)))``,
  ``CENTROID(circle)`` -> ``center(g)``, ``COORD1/2`` -> ``degrees(long/lat(p))``.
  A geometry *column* is taken to hold the native pgSphere type (as in a pgSphere-backed
  TAP service); in pass-through translation, a column of unknown type in a geometry
  position is read the same way.

BOX: ADQL 2.1 defines a box by great-circle sides through the ends of two arms along the
axes at its centre; with constant arguments that is exactly the spherical polygon of its
four corners, which is what both DuckDB and PostgreSQL get (so they agree). With
non-constant arguments PostgreSQL gets pgSphere's ``sbox(spoint(lon - w/2, lat - h/2),
spoint(lon + w/2, lat + h/2))``, a longitude/latitude rectangle: its sides of constant
latitude are small circles, so it is larger than the ADQL box away from the equator.
"""

from __future__ import annotations

import math
from typing import Protocol

from sqlglot import exp
from typing_extensions import override

from grammar.errors import UnsupportedError
from grammar.nodes import NO_SPAN, Span
from planners import sql_geometry as sg
from planners.sql_geometry import Geo, GeoKind, call, num, rad

__all__ = ["GeometryOps", "PgSphere", "SphericalArithmetic", "SqliteArithmetic", "geometry_ops"]


class GeometryOps(Protocol):
    """How one dialect evaluates ADQL geometry."""

    def contains(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Boolean ``CONTAINS(a, b)``."""
        ...

    def intersects(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Boolean ``INTERSECTS(a, b)``."""
        ...

    def distance(self, p: Geo, q: Geo) -> exp.Expr:
        """Great-circle distance in degrees."""
        ...

    def area(self, g: Geo, span: Span) -> exp.Expr:
        """Area in square degrees."""
        ...

    def centroid(self, g: Geo, span: Span) -> Geo:
        """The centroid as a point."""
        ...

    def coord(self, g: Geo, index: int) -> exp.Expr:
        """Longitude (0) or latitude (1) of a point, in degrees."""
        ...

    def value(self, g: Geo) -> exp.Expr:
        """The geometry as a selectable value."""
        ...

    def column(self, kind: GeoKind, sql: exp.Expr) -> Geo:
        """A geometry read from a column of type ``kind``."""
        ...

    def untyped_column(self, sql: exp.Expr) -> Geo | None:
        """A column of unknown type used as a geometry, or None if that is an error."""
        ...


class SphericalArithmetic:
    """The DuckDB engine's lowering (plain arithmetic plus engine polygon functions)."""

    def contains(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Boolean ``CONTAINS(a, b)``."""
        return sg.contains(a, b, span)

    def intersects(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Boolean ``INTERSECTS(a, b)``."""
        return sg.intersects(a, b, span)

    def distance(self, p: Geo, q: Geo) -> exp.Expr:
        """Haversine distance in degrees."""
        return sg.distance_deg(p, q)

    def area(self, g: Geo, span: Span) -> exp.Expr:
        """Exact spherical area in square degrees."""
        return sg.area_sq_deg(g, span)

    def centroid(self, g: Geo, span: Span) -> Geo:
        """Centroid as a point."""
        return sg.centroid(g, span)

    def coord(self, g: Geo, index: int) -> exp.Expr:
        """A coordinate of the point's parts."""
        return g.parts[index]

    def value(self, g: Geo) -> exp.Expr:
        """A DALI array."""
        return sg.to_array(g)

    def column(self, kind: GeoKind, sql: exp.Expr) -> Geo:
        """A DALI array column."""
        return sg.from_array(kind, sql)

    def untyped_column(self, sql: exp.Expr) -> Geo | None:
        """Unknown types are an error here (a DALI array's shape must be known)."""
        del sql
        return None


def _least_as_min(e: exp.Expr) -> exp.Expr:
    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "LEAST":
            return exp.Anonymous(this="MIN", expressions=node.expressions)
        return node

    return e.transform(rename)


class SqliteArithmetic(SphericalArithmetic):
    """Spherical arithmetic with SQLite's function names; no polygons."""

    @staticmethod
    def _no_polygon(*geos: Geo) -> None:
        for g in geos:
            if g.kind == "polygon" or g.array is not None:
                raise UnsupportedError("POLYGON geometry in SQLite output (no polygon functions)")
        kinds = {g.kind for g in geos}
        if "box" in kinds and len(geos) == 2 and "point" not in kinds:
            # Only CONTAINS(POINT, BOX) is arithmetic; other box tests use polygon functions.
            raise UnsupportedError("BOX with a region in SQLite output (no polygon functions)")

    @override
    def contains(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Point in circle/box, circle in circle."""
        self._no_polygon(a, b)
        return _least_as_min(sg.contains(a, b, span))

    @override
    def intersects(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """Point in shape, circle and circle."""
        self._no_polygon(a, b)
        return _least_as_min(sg.intersects(a, b, span))

    @override
    def distance(self, p: Geo, q: Geo) -> exp.Expr:
        """Haversine distance, ``MIN`` for ``LEAST``."""
        return _least_as_min(sg.distance_deg(p, q))

    @override
    def area(self, g: Geo, span: Span) -> exp.Expr:
        """Circle areas only."""
        self._no_polygon(g)
        if g.kind == "box":
            raise UnsupportedError("AREA(BOX) in SQLite output", location=span)
        return sg.area_sq_deg(g, span)

    @override
    def centroid(self, g: Geo, span: Span) -> Geo:
        """Centroid of a point, circle or box."""
        self._no_polygon(g)
        return sg.centroid(g, span)

    @override
    def value(self, g: Geo) -> exp.Expr:
        """SQLite has no arrays: a selected geometry is unsupported."""
        raise UnsupportedError(f"selecting a {g.kind.upper()} value in SQLite output")


class PgSphere:
    """PostgreSQL with the pgSphere extension."""

    def native(self, g: Geo, span: Span = NO_SPAN) -> exp.Expr:
        """The pgSphere value of a geometry."""
        if g.array is not None:
            return g.array
        if g.kind == "point":
            return call("spoint", rad(g.parts[0]), rad(g.parts[1]))
        if g.kind == "circle":
            centre = call("spoint", rad(g.parts[0]), rad(g.parts[1]))
            return call("scircle", centre, rad(g.parts[2]))
        if g.kind == "box" and g.consts is None:
            lon, lat, w, h = (sg.paren(p) for p in g.parts)
            half_w, half_h = exp.Div(this=w, expression=num(2)), exp.Div(this=h, expression=num(2))
            low = call("spoint", rad(exp.Sub(this=lon, expression=half_w)),
                       rad(exp.Sub(this=lat, expression=half_h)))  # fmt: skip
            high = call("spoint", rad(exp.Add(this=lon, expression=half_w)),
                        rad(exp.Add(this=lat, expression=half_h)))  # fmt: skip
            return call("sbox", low, high)
        values = sg.box_corners(*g.consts) if g.kind == "box" and g.consts else g.consts
        if values is None:
            raise UnsupportedError(
                "POLYGON with non-constant vertices in PostgreSQL output", location=span
            )
        pairs = zip(values[0::2], values[1::2], strict=True)
        text = ",".join(f"({math.radians(a)!r},{math.radians(d)!r})" for a, d in pairs)
        return exp.Cast(
            this=exp.Literal.string("{" + text + "}"),
            to=exp.DataType.build("spoly", dialect="postgres", udt=True),
        )

    def contains(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """``a <@ b``."""
        return exp.Paren(
            this=exp.ArrayContainedBy(this=self.native(a, span), expression=self.native(b, span))
        )

    def intersects(self, a: Geo, b: Geo, span: Span) -> exp.Expr:
        """``a && b``; with a point, CONTAINS (pgSphere has no overlap for points)."""
        if a.kind == "point" and a.array is None:
            return self.contains(a, b, span)
        if b.kind == "point" and b.array is None:
            return self.contains(b, a, span)
        return exp.Paren(
            this=exp.ArrayOverlaps(this=self.native(a, span), expression=self.native(b, span))
        )

    def distance(self, p: Geo, q: Geo) -> exp.Expr:
        """``degrees(p <-> q)``."""
        return call("DEGREES", exp.Distance(this=self.native(p), expression=self.native(q)))

    def area(self, g: Geo, span: Span) -> exp.Expr:
        """``degrees(degrees(area(g)))`` (steradians to square degrees)."""
        if g.kind == "point" and g.array is None:
            return num(0.0)
        return call("DEGREES", call("DEGREES", call("area", self.native(g, span))))

    def centroid(self, g: Geo, span: Span) -> Geo:
        """Centres of literal points, circles and boxes; ``center()`` of circle columns."""
        if g.array is None and g.kind in {"point", "circle", "box"}:
            return Geo("point", g.parts[:2])
        if g.kind == "circle":
            return Geo("point", array=call("center", g.array or self.native(g, span)))
        raise UnsupportedError(f"CENTROID({g.kind.upper()}) in PostgreSQL output", location=span)

    def coord(self, g: Geo, index: int) -> exp.Expr:
        """Constructor parts as given; ``degrees(long(p))``/``degrees(lat(p))`` otherwise."""
        if g.array is None:
            return g.parts[index]
        return call("DEGREES", call("long" if index == 0 else "lat", g.array))

    def value(self, g: Geo) -> exp.Expr:
        """The pgSphere value (pgSphere's own text form in results)."""
        return self.native(g)

    def column(self, kind: GeoKind, sql: exp.Expr) -> Geo:
        """A native pgSphere column."""
        return Geo(kind, (), array=sql)

    def untyped_column(self, sql: exp.Expr) -> Geo | None:
        """Taken as a native pgSphere column (pass-through translation)."""
        return Geo("polygon", (), array=sql)


def geometry_ops(dialect: str) -> GeometryOps:
    """The geometry lowering of ``dialect``."""
    if dialect == "postgres":
        return PgSphere()
    if dialect == "sqlite":
        return SqliteArithmetic()
    return SphericalArithmetic()
