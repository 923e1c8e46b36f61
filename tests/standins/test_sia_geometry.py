"""The SIA stand-in's shape tests: closed regions, like ADQL's (touching shapes intersect)."""

from __future__ import annotations

import numpy as np
from astropy.coordinates import SkyCoord

from standins.sia_geometry import Circle, SphericalPolygon, intersects

SQUARE = SphericalPolygon.from_flat([10.0, 0.0, 11.0, 0.0, 11.0, 1.0, 10.0, 1.0])


def test_polygons_touching_at_a_vertex_or_along_an_edge_intersect() -> None:
    corner = SphericalPolygon.from_flat([11.0, 1.0, 12.0, 1.0, 12.0, 2.0])
    edge = SphericalPolygon.from_flat([11.0, 0.0, 12.0, 0.0, 12.0, 1.0, 11.0, 1.0])
    apart = SphericalPolygon.from_flat([11.001, 0.0, 12.0, 0.0, 12.0, 1.0])
    assert intersects(corner, SQUARE)
    assert intersects(edge, SQUARE)
    assert not intersects(apart, SQUARE)


def test_circle_reaching_exactly_to_a_vertex_intersects() -> None:
    # The separation to the corner (11, 1), computed independently by astropy.
    reach = SkyCoord(12.0, 2.0, unit="deg").separation(SkyCoord(11.0, 1.0, unit="deg")).deg
    assert intersects(Circle(12.0, 2.0, float(reach)), SQUARE)
    assert not intersects(Circle(12.0, 2.0, float(np.nextafter(reach, 0) - 1e-7)), SQUARE)
    assert intersects(Circle(11.0, 1.0, 0.0), SQUARE)  # a zero-radius circle on the corner


def test_zero_radius_circle_on_any_vertex_intersects() -> None:
    # Vertices as degrees round-trip through unit vectors with rounding: about a third of
    # these were missed when the boundary was decided by floating point alone.
    gen = np.random.default_rng(0)
    for _ in range(300):
        ra0, dec0 = gen.uniform(0, 360), gen.uniform(-80, 80)
        angles, radii = np.sort(gen.uniform(0, 2 * np.pi, 4)), gen.uniform(0.1, 1, 4)
        ra = (ra0 + radii * np.cos(angles) / np.cos(np.radians(dec0))) % 360
        dec = dec0 + radii * np.sin(angles)
        polygon = SphericalPolygon(ra, dec)
        for vertex_ra, vertex_dec in zip(ra, dec, strict=True):
            assert intersects(Circle(float(vertex_ra), float(vertex_dec), 0.0), polygon)
