"""Closed spherical regions for the engine's geometry functions (numpy, vectorised over points).

ADQL 2.1 regions are closed: a point on an edge or a vertex of a polygon, or on a circle, is
inside. Deciding that from floating point alone is not deterministic: numpy's matrix-vector
product sums in another order for a single row than for several, so a point's projection
differs in the last bit depending on how many rows of the batch share its polygon, and a
vertex used as a query point was inside with one WHERE clause and outside with another that
left one row per polygon.
Every test here therefore decides "on the boundary" with the same small angular tolerance
:data:`TOLERANCE_DEG`, far below any astrometric precision and far above rounding error:

* a point is in a polygon if it is strictly inside (crossing test on the gnomonic projection
  about the vertex centroid, where great circles are straight lines) or within the tolerance
  of an edge;
* the distance from a point to a polygon is 0 inside and the distance to the nearest edge
  (a minor great-circle arc) outside, so circle tests compare it with the radius plus the
  tolerance;
* two polygons intersect if a vertex of one is in the other or two edges cross; one is inside
  the other if all its vertices are and no edges cross transversally. (A degenerate case is
  not detected: an edge leaving the other polygon exactly through two of its vertices.)

Areas and centroids sum the signed spherical excess of a triangle fan (Van Oosterom &
Strackee's formula for each triangle), weighting each triangle's centroid direction by it.

Polygons must fit in the hemisphere around their vertex centroid (the interior is the side
not containing its antipode, whatever the winding); others raise :class:`ValueError`. The rule
is :func:`planners.sql_geometry.polygon_problem`, which the compiler applies to constant
polygons, so a polygon is refused or used the same way whether it is written in the query or
read from the data.

This is the one point-in-polygon of the gateway and the planners (the planners emit calls of
the engine functions built on it). The SIA stand-in keeps its own
(:mod:`standins.sia_geometry`): it plays a remote service whose answers test this code, so it
must not share it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from planners.sql_geometry import polygon_problem

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

TOLERANCE_DEG = 1e-9
"""Points this close to a region's boundary (3.6 micro-arcseconds) are on it, so inside."""

TOLERANCE = math.radians(TOLERANCE_DEG)
_SIN_TOLERANCE = math.sin(TOLERANCE)


def unit(lon_deg: Floats, lat_deg: Floats) -> Floats:
    """Unit vectors (last axis x, y, z) of positions in degrees."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def angle(u: Floats, v: Floats) -> Floats:
    """Angle (rad) between unit vectors; the chord form keeps small angles accurate."""
    chord = np.linalg.norm(u - v, axis=-1)
    return np.asarray(2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)), dtype=np.float64)


class Polygon:
    """A spherical polygon with great-circle edges, given as ``[lon1, lat1, lon2, ...]``."""

    def __init__(self, flat: Floats) -> None:
        if flat.size % 2 or flat.size < 6:
            raise ValueError("a polygon needs at least 3 vertices given as lon, lat pairs")
        if not np.all(np.isfinite(flat)):
            raise ValueError("polygon vertices must be finite numbers")
        problem = polygon_problem(tuple(flat.tolist()))
        if problem is not None:
            raise ValueError(problem)
        self.vertices = unit(flat[0::2], flat[1::2])
        total = self.vertices.sum(axis=0)
        self.centre = total / np.linalg.norm(total)
        helper = np.array([0.0, 0.0, 1.0]) if abs(self.centre[2]) < 0.9 else np.array([1.0, 0, 0])
        east = np.cross(helper, self.centre)
        self._east = east / np.linalg.norm(east)
        self._north = np.cross(self.centre, self._east)
        self._plane = self._project(self.vertices)
        ends = np.roll(self.vertices, -1, axis=0)
        normals = np.cross(self.vertices, ends)
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        # Zero-length edges (repeated vertices) keep a zero normal; their ends still count.
        self._normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
        # p is within the lune of edge a-b iff p·(n x a) >= 0 and p·(b x n) >= 0.
        self._after_start = np.cross(self._normals, self.vertices)
        self._before_end = np.cross(ends, self._normals)
        self._ends = ends
        # A cap around the centre holding every vertex holds the polygon (caps under 90° are
        # convex), so far-apart caps prove two polygons disjoint without testing edges.
        self.cap = float(angle(self.vertices, self.centre[None, :]).max())

    def _project(self, v: Floats) -> Floats:
        depth = v @ self.centre
        safe = np.where(depth > 0, depth, 1.0)
        return np.stack([(v @ self._east) / safe, (v @ self._north) / safe], axis=-1)

    def strictly_inside(self, p: Floats) -> Bools:
        """Crossing test; reliable only away from the boundary (callers add the tolerance)."""
        q = self._project(p)
        x, y = q[:, 0], q[:, 1]
        odd = np.zeros(len(p), dtype=np.bool_)
        # One edge at a time keeps memory linear in the number of points.
        for (x1, y1), (x2, y2) in zip(self._plane, np.roll(self._plane, -1, axis=0), strict=True):
            crosses = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            odd ^= crosses & (x < x_at)
        return np.asarray(odd & (p @ self.centre > 0), dtype=np.bool_)

    def boundary_distance(self, p: Floats) -> Floats:
        """Angle (rad) from each point (``(n, 3)``) to the nearest point of any edge."""
        best = np.full(len(p), np.inf)
        edges = zip(
            self.vertices, self._ends, self._normals, self._after_start, self._before_end,
            strict=True,
        )  # fmt: skip
        for start, end, normal, after_start, before_end in edges:
            to_ends = np.minimum(angle(p, start), angle(p, end))
            if np.any(normal != 0):  # a zero-length edge (repeated vertex) has only its ends
                # |p·n| is the sine of the distance to the edge's great circle; that distance
                # is the edge's own where p lies in the lune between the edge's end meridians.
                in_lune = (p @ after_start >= 0) & (p @ before_end >= 0)
                to_circle = np.arcsin(np.clip(np.abs(p @ normal), 0.0, 1.0))
                to_ends = np.where(in_lune, to_circle, to_ends)
            best = np.minimum(best, to_ends)
        return best

    def contains_points(self, p: Floats) -> Bools:
        """Closed point-in-polygon."""
        inside = self.strictly_inside(p)
        # Only points within the tolerance of an edge's great circle can be on an edge.
        near = ~inside & np.any(np.abs(p @ self._normals.T) <= _SIN_TOLERANCE, axis=1)
        if near.any():
            inside[near] = self.boundary_distance(p[near]) <= TOLERANCE
        return inside

    def distance(self, p: Floats) -> Floats:
        """Angle (rad) from each point to the closed region (0 inside)."""
        return np.where(self.strictly_inside(p), 0.0, self.boundary_distance(p))

    def crosses(self, other: Polygon) -> bool:
        """Whether an edge of each crosses transversally at a point inside both edges."""
        n1, n2 = self._normals, other._normals
        x = np.cross(n1[:, None, :], n2[None, :, :])  # the great circles meet at +x and -x
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
        x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-15)

        def inside_arcs(y: Floats) -> Bools:
            return np.asarray(
                (np.einsum("ijk,ik->ij", y, self._after_start) > TOLERANCE)
                & (np.einsum("ijk,ik->ij", y, self._before_end) > TOLERANCE)
                & (np.einsum("ijk,jk->ij", y, other._after_start) > TOLERANCE)
                & (np.einsum("ijk,jk->ij", y, other._before_end) > TOLERANCE),
                dtype=np.bool_,
            )

        return bool(np.any(inside_arcs(x) | inside_arcs(-x)))

    def _apart(self, other: Polygon) -> bool:
        gap = float(angle(self.centre, other.centre)) - self.cap - other.cap
        return self.cap < math.pi / 2 and other.cap < math.pi / 2 and gap > TOLERANCE

    def intersects(self, other: Polygon) -> bool:
        """Whether the closed polygons share a point."""
        if self._apart(other):
            return False
        return bool(
            np.any(other.contains_points(self.vertices))
            or np.any(self.contains_points(other.vertices))
            or self.crosses(other)
        )

    def within(self, other: Polygon) -> bool:
        """Whether this polygon lies inside the closed ``other``."""
        if self._apart(other):
            return False
        return bool(np.all(other.contains_points(self.vertices)) and not self.crosses(other))


def circle_intersects(poly: Polygon, centres: Floats, radii: Floats) -> Bools:
    """Circles (unit-vector centres, radii in rad) sharing a point with the polygon."""
    return np.asarray(poly.distance(centres) <= radii + TOLERANCE, dtype=np.bool_)


def circle_within(poly: Polygon, centres: Floats, radii: Floats) -> Bools:
    """Circles inside the polygon: centre inside, boundary no nearer than the radius."""
    inside = poly.contains_points(centres)
    return np.asarray(inside & (poly.boundary_distance(centres) >= radii - TOLERANCE))


def within_circle(poly: Polygon, centres: Floats, radii: Floats) -> Bools:
    """Whether the polygon lies in each circle: no point of it nearer the antipode than π - r."""
    return np.asarray(poly.distance(-centres) >= math.pi - radii - TOLERANCE, dtype=np.bool_)


def _fan(vertices: Floats) -> tuple[Floats, Floats]:
    """Signed spherical excess and centroid direction of each fan triangle."""
    v = unit(vertices[0::2], vertices[1::2])
    a, b, c = v[0], v[1:-1], v[2:]
    num = np.einsum("j,ij->i", a, np.cross(b, c))
    den = 1.0 + b @ a + np.einsum("ij,ij->i", b, c) + c @ a
    return 2.0 * np.arctan2(num, den), a + b + c


def polygon_area(vertices: Floats) -> float:
    """Area in square degrees of the smaller region the polygon bounds (triangle fan)."""
    excess, _ = _fan(vertices)
    area = abs(float(excess.sum()))
    return float(np.degrees(np.degrees(min(area, 4 * np.pi - area))))


def polygon_centroid(vertices: Floats) -> list[float]:
    """Area-weighted centroid ``[lon, lat]`` in degrees."""
    excess, dirs = _fan(vertices)
    norms = np.linalg.norm(dirs, axis=1, keepdims=True)
    s = ((dirs / norms) * excess[:, None]).sum(axis=0) * np.sign(excess.sum() or 1.0)
    s /= np.linalg.norm(s)
    return [
        float(np.degrees(np.arctan2(s[1], s[0])) % 360.0),
        float(np.degrees(np.arcsin(np.clip(s[2], -1, 1)))),
    ]
