"""POLYGON over point-valued expressions in the local engine, against spherical_geometry.

ADQL 2.1 writes a polygon's vertices as coordinate pairs or as ``<coord_value>``s: POINT(...)
(the standard's own example, ``POLYGON('ICRS', POINT(...), POINT(...), POINT(...))``), point
columns, or CENTROID(...). Every form must give the answer of STScI's ``spherical_geometry``
(an oracle outside the project) and of the ADQL 2.0 coordinate form.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from spherical_geometry.polygon import SphericalPolygon

import grammar
from gateway.engine.local import LocalEngine
from planners.sql_catalog import ColumnInfo

N = 400
POINT = pa.list_(pa.float64(), 2)


def _triangles(gen: np.random.Generator) -> np.ndarray:
    """N triangles (N x 3 x [ra, dec]) of about a degree, spread in RA and declination."""
    centre = np.stack([gen.uniform(0, 360, N), gen.uniform(-70, 70, N)], axis=1)
    angles = np.sort(gen.uniform(0, 2 * np.pi, (N, 3)), axis=1)
    size = gen.uniform(0.3, 1.0, (N, 1))
    ra = centre[:, :1] + size * np.cos(angles) / np.cos(np.radians(centre[:, 1:]))
    dec = centre[:, 1:] + size * np.sin(angles)
    return np.stack([ra % 360.0, dec], axis=2)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(2026)
    tri = _triangles(gen)
    centroid = tri.mean(axis=1)
    # Test points near each triangle: about half fall inside.
    pos = centroid + gen.normal(0, 0.35, (N, 2))
    pos[:, 1] = np.clip(pos[:, 1], -89, 89)
    pos[:, 0] %= 360.0
    return tri, pos


@pytest.fixture(scope="module")
def engine(data: tuple[np.ndarray, np.ndarray]) -> LocalEngine:
    tri, pos = data
    columns = {f"p{i + 1}": pa.array(tri[:, i, :].tolist(), POINT) for i in range(3)}
    table = pa.table(
        {"id": np.arange(N, dtype=np.int64), "ra": pos[:, 0], "dec": pos[:, 1], **columns}
    )
    metas = [ColumnInfo(f"p{i}", "double", "2", "point", "deg") for i in (1, 2, 3)]
    eng = LocalEngine()
    eng.add_table("t.tri", table, metas)
    return eng


def _ids(engine: LocalEngine, adql: str) -> set[int]:
    result = engine.execute(grammar.parse(adql))
    return {row["id"] for batch in result.batches for row in batch.to_pylist()}


def _expected(tri: np.ndarray, pos: np.ndarray) -> set[int]:
    out = set()
    for i in range(N):
        polygon = SphericalPolygon.from_radec(tri[i, :, 0], tri[i, :, 1])
        if polygon.contains_radec(pos[i, 0], pos[i, 1]):
            out.add(i)
    return out


def test_polygon_of_point_columns_matches_spherical_geometry(
    engine: LocalEngine, data: tuple[np.ndarray, np.ndarray]
) -> None:
    expected = _expected(*data)
    assert 0.2 * N < len(expected) < 0.8 * N  # the oracle separates the two cases
    where = "1 = CONTAINS(POINT('ICRS', ra, dec), POLYGON({}))"
    for vertices in ("p1, p2, p3", "'ICRS', p1, p2, p3", "p1, POINT(COORD1(p2), COORD2(p2)), p3"):
        got = _ids(engine, "SELECT id FROM t.tri WHERE " + where.format(vertices))
        assert got == expected, vertices
    pairs = "COORD1(p1), COORD2(p1), COORD1(p2), COORD2(p2), COORD1(p3), COORD2(p3)"
    assert _ids(engine, "SELECT id FROM t.tri WHERE " + where.format(pairs)) == expected


def test_the_standards_example_form_with_constant_points(engine: LocalEngine) -> None:
    triangle = [(10.0, -10.5), (20.0, 10.5), (30.0, -5.0)]
    points = ", ".join(f"POINT('ICRS', {ra}, {dec})" for ra, dec in triangle)
    polygon = SphericalPolygon.from_radec([p[0] for p in triangle], [p[1] for p in triangle])
    probes = [(20.0, 0.0), (12.0, 5.0), (28.0, 5.0), (20.0, -9.0), (35.0, 0.0)]
    for ra, dec in probes:
        adql = (
            f"SELECT COUNT(*) AS n FROM t.tri WHERE id = 0 AND "
            f"1 = CONTAINS(POINT('ICRS', {ra}, {dec}), POLYGON('ICRS', {points}))"
        )
        result = engine.execute(grammar.parse(adql))
        (count,) = [row["n"] for batch in result.batches for row in batch.to_pylist()]
        assert count == int(polygon.contains_radec(ra, dec)), (ra, dec)


def test_polygon_value_of_point_columns_is_its_vertices(
    engine: LocalEngine, data: tuple[np.ndarray, np.ndarray]
) -> None:
    tri, _ = data
    result = engine.execute(grammar.parse("SELECT id, POLYGON(p1, p2, p3) AS s FROM t.tri"))
    rows = {row["id"]: row["s"] for batch in result.batches for row in batch.to_pylist()}
    assert len(rows) == N
    for i in (0, 17, N - 1):
        assert rows[i] == pytest.approx(tri[i].ravel().tolist())
