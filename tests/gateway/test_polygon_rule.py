"""One polygon rule: the compiler (constants) and the engine (data) refuse the same polygons."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gateway.engine.sphere import Polygon
from planners.sql_geometry import polygon_problem


def engine_problem(values: tuple[float, ...]) -> str | None:
    try:
        Polygon(np.array(values, dtype=np.float64))
    except ValueError as err:
        return str(err)
    return None


def astropy_usable(values: tuple[float, ...]) -> bool:
    """Every vertex less than 90° from the vertex centroid (astropy's own vector sum)."""
    points = SkyCoord(list(values[0::2]), list(values[1::2]), unit="deg")
    total = points.cartesian.sum()
    if total.norm().value < 1e-9:
        return False
    centre = SkyCoord(total, representation_type="cartesian").spherical
    centre_coord = SkyCoord(centre.lon, centre.lat)
    return bool(np.all(points.separation(centre_coord) < 90 * u.deg))


FIXED = [
    (10.0, 10.0, 11.0, 10.0, 10.5, 11.0),
    (0.0, 0.0, 120.0, 0.0, 240.0, 0.0),  # a great circle: no centroid
    (0.0, 0.0, 1.0, 0.0, 180.0, 0.0),  # not within a hemisphere
    (0.0, 89.0, 120.0, 89.0, 240.0, 89.0),  # around the pole
    (359.5, -1.0, 0.5, -1.0, 0.5, 1.0, 359.5, 1.0),  # across RA 0
]


@pytest.mark.parametrize("values", FIXED)
def test_fixed_polygons(values: tuple[float, ...]) -> None:
    assert engine_problem(values) == polygon_problem(values)
    assert (polygon_problem(values) is None) == astropy_usable(values)


def test_random_polygons_agree_with_astropy() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        k = int(rng.integers(3, 7))
        lon = rng.uniform(0, 360, k)
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, k)))
        values = tuple(float(x) for pair in zip(lon, lat, strict=True) for x in pair)
        assert engine_problem(values) == polygon_problem(values)
        assert (polygon_problem(values) is None) == astropy_usable(values), values
