"""Spherical geometry of the SIA stand-in: whether a POS shape meets an ``s_region`` polygon.

Polygons have great-circle edges (ADQL/DALI semantics). Point-in-polygon works on the
gnomonic projection about the polygon's centre, where great circles are straight lines, so
the test is exact for any simple polygon smaller than a hemisphere, in either winding.
``RANGE`` edges are small circles of constant latitude, so range tests sample the polygon's
boundary every :data:`RANGE_STEP_DEG` instead: a range narrower than that which crosses a
polygon without containing any sample of its boundary can be missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RANGE_STEP_DEG = 0.002
"""Boundary sampling step of RANGE tests (deg)."""

TOLERANCE_DEG = 1e-9
"""Shapes closer than this count as touching: regions are closed (a shared vertex or edge
intersects), and whether a point lies exactly on a great-circle edge is not decidable in
floating point."""


class GeometryError(ValueError):
    """A shape the service cannot use (degenerate or larger than a hemisphere)."""


def unit(ra: np.ndarray | float, dec: np.ndarray | float) -> np.ndarray:
    """Unit vectors (last axis x, y, z) of positions in degrees."""
    a, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)


def _to_radec(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ra = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[..., 2], -1.0, 1.0)))
    return ra, dec


@dataclass(frozen=True, slots=True)
class Circle:
    """``CIRCLE ra dec radius`` (deg)."""

    ra: float
    dec: float
    radius: float


@dataclass(frozen=True, slots=True)
class Range:
    """``RANGE lon1 lon2 lat1 lat2`` (deg); infinite bounds already clamped; lon may wrap."""

    lon1: float
    lon2: float
    lat1: float
    lat2: float

    def contains(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Which positions lie inside the range (edges inclusive)."""
        in_lat = (dec >= self.lat1) & (dec <= self.lat2)
        if self.lon2 - self.lon1 >= 360.0:
            return in_lat
        lo, hi = self.lon1 % 360.0, self.lon2 % 360.0
        if self.lon2 == 360.0:
            hi = 360.0
        in_lon = (ra >= lo) & (ra <= hi) if lo <= hi else (ra >= lo) | (ra <= hi)
        return in_lat & in_lon

    def probe_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre and corners: if the range lies inside a polygon, these are inside too."""
        span = (self.lon2 - self.lon1) % 360.0 if self.lon2 - self.lon1 < 360.0 else 360.0
        lons = self.lon1 + np.array([0.5, 0.0, 1.0, 0.0, 1.0]) * span
        lats = np.array([0.5, 0.0, 0.0, 1.0, 1.0]) * (self.lat2 - self.lat1) + self.lat1
        return lons % 360.0, lats


class SphericalPolygon:
    """A simple polygon with great-circle edges, smaller than a hemisphere."""

    def __init__(self, ra: np.ndarray, dec: np.ndarray) -> None:
        if ra.size < 3:
            raise GeometryError("a polygon needs at least 3 vertices")
        self.vertices = unit(ra, dec)
        total = self.vertices.sum(axis=0)
        norm = float(np.linalg.norm(total))
        if norm < 1e-12:
            raise GeometryError("degenerate polygon")
        self.centre = total / norm
        if np.any(self.vertices @ self.centre <= 1e-9):
            raise GeometryError("polygon larger than a hemisphere")
        # Orthonormal basis of the tangent plane at the centre, for the gnomonic projection.
        helper = np.array([0.0, 0.0, 1.0]) if abs(self.centre[2]) < 0.9 else np.array([1.0, 0, 0])
        self._e1 = np.cross(helper, self.centre)
        self._e1 /= np.linalg.norm(self._e1)
        self._e2 = np.cross(self.centre, self._e1)
        self._plane = self._project(self.vertices)

    @classmethod
    def from_flat(cls, values: list[float] | np.ndarray) -> SphericalPolygon:
        """From DALI polygon values ``ra1 dec1 ra2 dec2 ...``."""
        arr = np.asarray(values, dtype=float)
        if arr.size % 2:
            raise GeometryError("polygon coordinates must come in pairs")
        return cls(arr[0::2], arr[1::2])

    def _project(self, v: np.ndarray) -> np.ndarray:
        depth = v @ self.centre
        return np.stack([(v @ self._e1) / depth, (v @ self._e2) / depth], axis=-1)

    def contains(self, v: np.ndarray) -> np.ndarray:
        """Which unit vectors (shape ``(n, 3)``) lie inside (ray casting on the plane)."""
        v = np.atleast_2d(v)
        front = v @ self.centre > 1e-9
        p = self._project(np.where(front[:, None], v, self.centre))
        x, y = p[:, 0:1], p[:, 1:2]
        x1, y1 = self._plane[:, 0], self._plane[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside = (np.sum(crosses & (x < x_cross), axis=1) % 2) == 1
        return np.asarray(inside & front, dtype=bool)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end vectors of every edge."""
        return self.vertices, np.roll(self.vertices, -1, axis=0)

    def boundary_samples(self, step_deg: float) -> np.ndarray:
        """Points along every edge, at most ``step_deg`` apart (unit vectors)."""
        out = []
        for a, b in zip(*self.edges(), strict=True):
            angle = math.degrees(math.acos(float(np.clip(a @ b, -1.0, 1.0))))
            k = min(max(int(angle / step_deg) + 1, 2), 20000)
            t = np.linspace(0.0, 1.0, k)[:, None]
            points = a * (1 - t) + b * t  # normalised chord points lie on the great circle
            out.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        return np.concatenate(out)


def _arc_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Angular distance (deg) from ``p`` to the minor great-circle arc ``a``-``b``."""
    normal = np.cross(a, b)
    length = float(np.linalg.norm(normal))
    # The chord form: acos of a dot product near 1 loses half the digits (1e-8 rad at best).
    chord = min(float(np.linalg.norm(p - a)), float(np.linalg.norm(p - b)))
    end_dist = math.degrees(2.0 * math.asin(min(chord / 2.0, 1.0)))
    if length < 1e-15:
        return end_dist
    normal /= length
    foot = p - (p @ normal) * normal
    if np.linalg.norm(foot) < 1e-15:
        return end_dist
    foot /= np.linalg.norm(foot)
    if np.cross(a, foot) @ normal >= 0 and np.cross(foot, b) @ normal >= 0:
        return math.degrees(math.asin(min(abs(float(p @ normal)), 1.0)))
    return end_dist


def _contains_closed(polygon: SphericalPolygon, points: np.ndarray) -> bool:
    """Whether any of ``points`` is inside ``polygon`` or on its boundary."""
    if polygon.contains(points).any():
        return True
    return any(
        _arc_distance(p, a, b) <= TOLERANCE_DEG
        for p in points
        for a, b in zip(*polygon.edges(), strict=True)
    )


def _arcs_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether minor arcs ``a``-``b`` and ``c``-``d`` share a point."""
    n1, n2 = np.cross(a, b), np.cross(c, d)
    line = np.cross(n1, n2)
    if np.linalg.norm(line) < 1e-15:
        return False  # same great circle: overlap shows up as vertices inside the other
    line /= np.linalg.norm(line)
    for x in (line, -line):
        on_ab = np.cross(a, x) @ n1 >= 0 and np.cross(x, b) @ n1 >= 0
        on_cd = np.cross(c, x) @ n2 >= 0 and np.cross(x, d) @ n2 >= 0
        if on_ab and on_cd:
            return True
    return False


Shape = Circle | Range | SphericalPolygon


def intersects(shape: Shape, region: SphericalPolygon) -> bool:
    """Whether ``shape`` and the polygon ``region`` share at least one point."""
    if isinstance(shape, Circle):
        centre = unit(shape.ra, shape.dec)
        if region.contains(centre)[0]:
            return True
        return any(
            _arc_distance(centre, a, b) <= shape.radius + TOLERANCE_DEG
            for a, b in zip(*region.edges(), strict=True)
        )
    if isinstance(shape, Range):
        ra, dec = _to_radec(region.boundary_samples(RANGE_STEP_DEG))
        if shape.contains(ra, dec).any():
            return True
        lons, lats = shape.probe_points()
        return bool(region.contains(unit(lons, lats)).any())
    if _contains_closed(shape, region.vertices) or _contains_closed(region, shape.vertices):
        return True
    return any(
        _arcs_cross(a, b, c, d)
        for a, b in zip(*shape.edges(), strict=True)
        for c, d in zip(*region.edges(), strict=True)
    )
