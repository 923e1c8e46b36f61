"""Polygon geometry of the local engine against independent oracles.

Oracles: STScI's ``spherical_geometry`` (point in polygon, polygon overlap) and boundary
distances from densely sampled great-circle edges measured with astropy ``SkyCoord``. Points
exactly on vertices and edges are built by construction (they are inside: ADQL regions are
closed), and the answer must not depend on the other predicates of the query.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from spherical_geometry.polygon import SphericalPolygon

import grammar
from gateway.engine.local import LocalEngine
from grammar.errors import AdqlSemanticError
from planners.sql_catalog import ColumnInfo

Floats = np.ndarray[Any, np.dtype[np.float64]]

REGION = ColumnInfo("s_region", "double", "*", "polygon", "deg")


def _to_sky(centre: tuple[float, float], xi: Floats, eta: Floats) -> tuple[Floats, Floats]:
    """Inverse gnomonic projection about ``centre``; tangent offsets in degrees."""
    a0, d0 = np.radians(centre)
    x, y = np.radians(xi), np.radians(eta)
    denom = np.cos(d0) - y * np.sin(d0)
    ra = np.degrees(a0 + np.arctan2(x, denom)) % 360.0
    dec = np.degrees(np.arctan2(np.sin(d0) + y * np.cos(d0), np.hypot(x, denom)))
    return ra, dec


def _vec(ra: Floats, dec: Floats) -> Floats:
    a, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)


def _radec(v: Floats) -> tuple[Floats, Floats]:
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0, np.degrees(np.arcsin(v[..., 2]))


def _random_polygon(gen: np.random.Generator, centre: tuple[float, float]) -> list[float]:
    """A polygon of 3-7 vertices, 0.3-4 degrees across, star-shaped about ``centre`` (inside)."""
    k = int(gen.integers(3, 8))
    angles = (np.arange(k) + gen.uniform(-0.3, 0.3, k)) * 2 * np.pi / k
    radii = gen.uniform(0.15, 2.0, k)
    ra, dec = _to_sky(centre, radii * np.cos(angles), radii * np.sin(angles))
    return [float(x) for pair in zip(ra, dec, strict=True) for x in pair]


def _edge_samples(flat: list[float], per_edge: int = 4000) -> Floats:
    """Points along every great-circle edge (unit vectors)."""
    v = _vec(np.array(flat[0::2]), np.array(flat[1::2]))
    t = np.linspace(0.0, 1.0, per_edge)[:, None]
    return np.concatenate([a * (1 - t) + b * t for a, b in zip(v, np.roll(v, -1, 0), strict=True)])


CENTRES: dict[bytes, tuple[float, float]] = {}
"""A point inside each generated polygon (keyed by its vertices), which the oracle needs."""


def _oracle_polygon(flat: list[float]) -> SphericalPolygon:
    ra, dec = np.array(flat[0::2]), np.array(flat[1::2])
    return SphericalPolygon.from_radec(ra, dec, center=CENTRES[np.array(flat).tobytes()])


def _rows(engine: LocalEngine, adql: str) -> list[dict[str, Any]]:
    result = engine.execute(grammar.parse(adql))
    return [row for batch in result.batches for row in batch.to_pylist()]


@pytest.fixture(scope="module")
def polygons() -> list[list[float]]:
    gen = np.random.default_rng(11)
    centres = [(53.2, -28.1), (0.3, 1.0), (359.5, -2.0), (150.0, 60.0), (20.0, 85.0)]
    out = []
    for i in range(60):
        ra0, dec0 = centres[i % len(centres)]
        centre = (float(ra0 + gen.normal(0, 0.5)) % 360, float(dec0 + gen.normal(0, 0.3)))
        out.append(_random_polygon(gen, centre))
        CENTRES[np.array(out[-1]).tobytes()] = centre
    return out


@pytest.fixture(scope="module")
def engine(polygons: list[list[float]]) -> LocalEngine:
    eng = LocalEngine()
    # Every footprint six times, once per band, as in an ObsCore table of coadds.
    bands = ["u", "g", "r", "i", "z", "y"]
    table = pa.table(
        {
            "pid": pa.array([i for i in range(len(polygons)) for _ in bands], pa.int64()),
            "band": pa.array([b for _ in polygons for b in bands]),
            "s_region": pa.array([p for p in polygons for _ in bands], pa.list_(pa.float64())),
        }
    )
    eng.add_table("img.obs", table, [REGION])
    return eng


@pytest.mark.slow
def test_points_match_spherical_geometry(engine: LocalEngine, polygons: list[list[float]]) -> None:
    gen = np.random.default_rng(5)
    for pid in range(0, len(polygons), 6):
        flat = polygons[pid]
        centre = _radec(_vec(np.array(flat[0::2]), np.array(flat[1::2])).sum(axis=0))
        ras, decs = _to_sky(
            (float(centre[0]), float(centre[1])), gen.uniform(-2, 2, 25), gen.uniform(-2, 2, 25)
        )
        oracle = _oracle_polygon(flat)
        for ra, dec in zip(ras, decs, strict=True):
            adql = (
                f"SELECT CONTAINS(POINT({float(ra)!r}, {float(dec)!r}), s_region) AS c FROM img.obs "
                f"WHERE pid = {pid} AND band = 'r'"
            )
            assert _rows(engine, adql) == [{"c": int(oracle.contains_radec(ra, dec))}], (ra, dec)


@pytest.mark.slow
def test_vertices_and_edges_are_inside_whatever_else_is_filtered(
    engine: LocalEngine, polygons: list[list[float]]
) -> None:
    for pid in range(0, len(polygons), 3):
        flat = polygons[pid]
        v = _vec(np.array(flat[0::2]), np.array(flat[1::2]))
        ends = np.roll(v, -1, axis=0)
        on_edges = np.concatenate([v, v + ends, 0.3 * v + 0.7 * ends])  # great-circle points
        centroid = v.sum(axis=0)
        normals = np.cross(v, ends)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        inward = normals * np.sign(normals @ centroid)[:, None]
        mid = (v + ends) / np.linalg.norm(v + ends, axis=1, keepdims=True)
        step = np.radians(1e-6)  # 3.6 mas: far beyond the boundary tolerance
        outside_ra, outside_dec = _radec(mid - step * inward)
        just_in_ra, just_in_dec = _radec(mid + step * inward)
        ra, dec = _radec(on_edges)
        for x, y in zip(ra, dec, strict=True):
            point = f"POINT({float(x)!r}, {float(y)!r})"
            base = f"SELECT band FROM img.obs WHERE CONTAINS({point}, s_region) = 1"
            # Alone, with one more conjunct, with two: always this footprint in every band.
            alone = {r["band"] for r in _rows(engine, f"{base} AND pid = {pid}")}
            assert alone == set("ugrizy"), (pid, x, y)
            assert _rows(engine, f"{base} AND pid = {pid} AND band = 'r'") == [{"band": "r"}]
            assert _rows(engine, f"{base} AND band = 'r' AND pid = {pid} AND pid >= 0") == [
                {"band": "r"}
            ]
        for x, y, inside in [
            *zip(outside_ra, outside_dec, [0] * len(mid), strict=True),
            *zip(just_in_ra, just_in_dec, [1] * len(mid), strict=True),
        ]:
            adql = (
                f"SELECT CONTAINS(POINT({float(x)!r}, {float(y)!r}), s_region) AS c FROM img.obs "
                f"WHERE pid = {pid} AND band = 'g'"
            )
            assert _rows(engine, adql) == [{"c": inside}], (pid, x, y, inside)


def _circle_oracle(flat: list[float], ra: float, dec: float) -> tuple[bool, float, float]:
    """Centre inside, distance to the boundary, and the farthest boundary point (deg)."""
    samples = SkyCoord(*(_radec(_edge_samples(flat))), unit=u.deg)
    sep = samples.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    return bool(_oracle_polygon(flat).contains_radec(ra, dec)), float(sep.min()), float(sep.max())


def test_circles_and_polygons_match_sampled_boundaries(
    engine: LocalEngine, polygons: list[list[float]]
) -> None:
    gen = np.random.default_rng(8)
    checked = {"intersects": [0, 0], "circle_in": [0, 0], "polygon_in": [0, 0]}
    for pid in range(len(polygons)):
        flat = polygons[pid]
        centre = _radec(_vec(np.array(flat[0::2]), np.array(flat[1::2])).sum(axis=0))
        ra, dec = _to_sky((float(centre[0]), float(centre[1])), *gen.uniform(-2.5, 2.5, (2, 1)))
        r = float(gen.uniform(0.02, 3.0))
        inside, nearest, farthest = _circle_oracle(flat, float(ra[0]), float(dec[0]))
        if min(abs(nearest - r), abs(farthest - r)) < 0.01:
            continue  # too close to call with a sampled boundary
        circle = f"CIRCLE({float(ra[0])!r}, {float(dec[0])!r}, {r!r})"
        adql = (
            f"SELECT INTERSECTS(s_region, {circle}) AS a, INTERSECTS({circle}, s_region) AS b, "
            f"CONTAINS({circle}, s_region) AS c, CONTAINS(s_region, {circle}) AS d "
            f"FROM img.obs WHERE pid = {pid} AND band = 'i'"
        )
        want_meet = inside or nearest <= r
        want_circle_in = inside and nearest >= r
        want_polygon_in = farthest <= r
        assert _rows(engine, adql) == [
            {"a": want_meet, "b": want_meet, "c": want_circle_in, "d": want_polygon_in}
        ], (pid, circle)
        for key, want in (
            ("intersects", want_meet),
            ("circle_in", want_circle_in),
            ("polygon_in", want_polygon_in),
        ):
            checked[key][want] += 1
    # Both answers of every predicate were exercised.
    assert all(no and yes for no, yes in checked.values()), checked


@pytest.mark.slow
def test_polygon_pairs_match_spherical_geometry(
    engine: LocalEngine, polygons: list[list[float]]
) -> None:
    counts = {"meet": 0, "apart": 0, "inside": 0}
    for i in range(len(polygons)):
        for j in (i + 5, i + 10):
            p, q = polygons[i], polygons[j % len(polygons)]
            literal = "POLYGON(" + ", ".join(repr(x) for x in q) + ")"
            adql = (
                f"SELECT INTERSECTS(s_region, {literal}) AS m, CONTAINS(s_region, {literal}) AS c, "
                f"CONTAINS({literal}, s_region) AS r FROM img.obs WHERE pid = {i} AND band = 'z'"
            )
            row = _rows(engine, adql)[0]
            op, oq = _oracle_polygon(p), _oracle_polygon(q)
            meet = bool(op.intersects_poly(oq))
            assert row["m"] == meet, (i, j)
            p_in_q = bool(np.all([oq.contains_radec(*_radec(s)) for s in _edge_samples(p, 20)]))
            q_in_p = bool(np.all([op.contains_radec(*_radec(s)) for s in _edge_samples(q, 20)]))
            assert (row["c"], row["r"]) == (p_in_q, q_in_p), (i, j)
            counts["meet" if meet else "apart"] += 1
            counts["inside"] += p_in_q or q_in_p
    assert all(counts.values()), counts


def test_polygon_touching_at_a_vertex_or_an_edge_intersects(engine: LocalEngine) -> None:
    square = [10.0, 0.0, 11.0, 0.0, 11.0, 1.0, 10.0, 1.0]
    eng = LocalEngine()
    eng.add_table(
        "t.s", pa.table({"s_region": pa.array([square], pa.list_(pa.float64()))}), [REGION]
    )
    queries = {
        # Sharing only the corner (11, 1).
        "POLYGON(11.0, 1.0, 12.0, 1.0, 12.0, 2.0)": (True, False),
        # Sharing the meridian edge lon = 11.
        "POLYGON(11.0, 0.0, 12.0, 0.0, 12.0, 1.0, 11.0, 1.0)": (True, False),
        # The square itself: closed regions contain each other.
        "POLYGON(10.0, 0.0, 11.0, 0.0, 11.0, 1.0, 10.0, 1.0)": (True, True),
        "POLYGON(11.5, 0.0, 12.0, 0.0, 12.0, 1.0)": (False, False),
    }
    for literal, (meet, inside) in queries.items():
        row = _rows(eng, f"SELECT INTERSECTS(s_region, {literal}) AS m, "
                         f"CONTAINS(s_region, {literal}) AS c FROM t.s")  # fmt: skip
        assert row == [{"m": meet, "c": inside}], literal
    # A circle touching the edge lon = 11 from outside, at the equator (1 deg = 1 deg there).
    touch = _rows(eng, "SELECT INTERSECTS(s_region, CIRCLE(12.0, 0.5, 1.0)) AS m FROM t.s")
    assert touch == [{"m": 1}]
    miss = _rows(eng, "SELECT INTERSECTS(s_region, CIRCLE(12.0, 0.5, 0.99)) AS m FROM t.s")
    assert miss == [{"m": 0}]


def test_boxes_are_polygons_of_their_corners(engine: LocalEngine) -> None:
    rows = _rows(
        engine,
        "SELECT INTERSECTS(BOX(10, 0, 2, 2), CIRCLE(11.5, 0, 0.6)) AS a, "
        "CONTAINS(CIRCLE(10, 0, 0.5), BOX(10, 0, 2, 2)) AS b, "
        "CONTAINS(BOX(10, 0, 0.5, 0.5), CIRCLE(10, 0, 0.5)) AS c, "
        "INTERSECTS(BOX(10, 0, 2, 2), BOX(11.9, 0, 2, 2)) AS d, "
        "CONTAINS(BOX(10, 0, 1, 1), POLYGON(9, -1, 11, -1, 11, 1, 9, 1)) AS e "
        "FROM img.obs WHERE pid = 0 AND band = 'u'",
    )
    assert rows == [{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}]


# ---------------------------------------------------------------- NULL in, NULL out


@pytest.fixture(scope="module")
def nulls() -> LocalEngine:
    eng = LocalEngine()
    square = [10.0, 0.0, 11.0, 0.0, 11.0, 1.0, 10.0, 1.0]
    table = pa.table(
        {
            "id": pa.array([0, 1, 2], pa.int64()),
            "ra": pa.array([10.0, None, 10.0]),
            "dec": pa.array([0.0, 0.0, None]),
            "r": pa.array([1.0, 1.0, None]),
            "s_region": pa.array(
                [square, None, [10.0, 0.0, None, 0.0, 11.0, 1.0]], pa.list_(pa.float64())
            ),
        }
    )
    eng.add_table("t.n", table, [REGION])
    return eng


def _column(eng: LocalEngine, expression: str) -> list[Any]:
    return [r["v"] for r in _rows(eng, f"SELECT {expression} AS v FROM t.n ORDER BY id")]


def test_null_coordinates_give_null_distances(nulls: LocalEngine) -> None:
    half = SkyCoord(10 * u.deg, 0 * u.deg).separation(SkyCoord(10.5 * u.deg, 0 * u.deg)).deg
    for expression in (
        "DISTANCE(POINT(ra, dec), POINT(10.5, 0))",
        "DISTANCE(ra, dec, 10.5, 0)",
        "DISTANCE(POINT(10.5, 0), POINT(ra, dec))",
    ):
        got = _column(nulls, expression)
        assert got[0] == pytest.approx(half, abs=1e-12)
        assert got[1:] == [None, None], expression  # not 180
    assert _column(nulls, "COORD1(POINT(ra, dec))") == [10.0, None, 10.0]
    assert _column(nulls, "COORD2(POINT(ra, dec))") == [0.0, 0.0, None]


def test_null_radius_or_centre_gives_null_predicates(nulls: LocalEngine) -> None:
    assert _column(nulls, "CONTAINS(POINT(10.5, 0.5), CIRCLE(10, 0, r))") == [1, 1, None]
    assert _column(nulls, "CONTAINS(POINT(10.5, 0.5), CIRCLE(ra, dec, 1))") == [1, None, None]
    assert _column(nulls, "CONTAINS(POINT(ra, dec), CIRCLE(10, 0, 2))") == [1, None, None]
    # A NULL radius is not the whole sky: the row is not selected, and NOT does not select it.
    assert [r["id"] for r in _rows(nulls, "SELECT id FROM t.n WHERE "
            "CONTAINS(POINT(100, 50), CIRCLE(10, 0, r)) = 0 ORDER BY id")] == [0, 1]  # fmt: skip
    assert _column(nulls, "INTERSECTS(CIRCLE(ra, dec, r), CIRCLE(10, 0, 1))") == [1, None, None]
    assert _column(nulls, "CONTAINS(CIRCLE(ra, dec, 0.1), CIRCLE(10, 0, r))") == [1, None, None]


def test_null_polygons_and_vertices_give_null(nulls: LocalEngine) -> None:
    assert _column(nulls, "CONTAINS(POINT(10.5, 0.5), s_region)") == [1, None, None]
    assert _column(nulls, "INTERSECTS(s_region, CIRCLE(10.5, 0.5, 0.1))") == [1, None, None]
    assert _column(nulls, "INTERSECTS(CIRCLE(ra, dec, r), s_region)") == [1, None, None]
    assert _column(nulls, "CONTAINS(s_region, POLYGON(9, -1, 12, -1, 12, 2, 9, 2))") == [
        1,
        None,
        None,
    ]
    assert _column(nulls, "CONTAINS(POINT(10.9, 0.1), POLYGON(ra, dec, 11, 0, 11, 1))") == [
        1,
        None,
        None,
    ]
    area = _column(nulls, "AREA(s_region)")
    assert area[0] == pytest.approx(1.0, rel=1e-3)
    assert area[1:] == [None, None]
    assert _column(nulls, "CENTROID(s_region)")[1:] == [None, None]


def test_null_arguments_give_null_geometry_values(nulls: LocalEngine) -> None:
    assert _column(nulls, "POINT(ra, dec)") == [[10.0, 0.0], None, None]
    assert _column(nulls, "CIRCLE(ra, 0, r)") == [[10.0, 0.0, 1.0], None, None]
    assert _column(nulls, "POLYGON(ra, dec, 11, 0, 11, 1)") == [
        [10.0, 0.0, 11.0, 0.0, 11.0, 1.0],
        None,
        None,
    ]
    assert _column(nulls, "AREA(CIRCLE(ra, dec, 1))")[1:] == [None, None]
    assert _column(nulls, "AREA(POINT(ra, dec))") == [0.0, None, None]
    assert _column(nulls, "CENTROID(CIRCLE(10, 0, r))") == [[10.0, 0.0], [10.0, 0.0], None]
    assert _column(nulls, "CENTROID(BOX(10, 0, r, 1))") == [[10.0, 0.0], [10.0, 0.0], None]


def test_unmatched_left_join_rows_have_null_distance(nulls: LocalEngine) -> None:
    rows = _rows(
        nulls,
        "SELECT a.id, DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) * 3600 AS sep "
        "FROM t.n AS a LEFT JOIN t.n AS b "
        "ON CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra + 0.5, b.dec, 1.0 / 3600)) = 1 "
        "ORDER BY a.id",
    )
    assert rows == [{"id": 0, "sep": None}, {"id": 1, "sep": None}, {"id": 2, "sep": None}]


# ---------------------------------------------------------------- boxes from data, points as regions


def test_boxes_from_columns_are_their_tangent_plane_corners() -> None:
    boxes = [(0.0, 0.0, 2.0, 1.0), (359.5, -10.0, 5.0, 8.0), (80.0, 88.0, 10.0, 6.0)]
    eng = LocalEngine()
    eng.add_table("t.b", pa.table(dict(zip(("lon", "lat", "w", "h"), zip(*boxes, strict=True),
                                           strict=True))))  # fmt: skip
    got = [r["v"] for r in _rows(eng, "SELECT BOX(lon, lat, w, h) AS v FROM t.b")]
    for (lon, lat, w, h), corners in zip(boxes, got, strict=True):
        # Independent: astropy's TAN projection, corners at (±tan(w/2), ±tan(h/2)).
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [lon, lat]
        wcs.wcs.crpix = [1, 1]
        wcs.wcs.cdelt = [1, 1]
        tx, ty = (np.degrees(np.tan(np.radians(s) / 2)) for s in (w, h))
        # Corners from south-east, counter-clockwise (with cdelt > 0, x grows eastwards).
        ra, dec = wcs.wcs_pix2world([tx, tx, -tx, -tx], [-ty, ty, ty, -ty], 0)
        want = SkyCoord(ra, dec, unit="deg")
        mine = SkyCoord(corners[0::2], corners[1::2], unit="deg")
        assert want.separation(mine).deg.max() < 1e-9, (lon, lat, w, h)
    # The same boxes from columns and as literals answer region tests alike.
    for lon, lat, w, h in boxes:
        circle = f"CIRCLE({lon + w / 3}, {lat}, {min(w, h) / 2})"
        row = _rows(
            eng,
            f"SELECT INTERSECTS(BOX(lon, lat, w, h), {circle}) AS a, "
            f"INTERSECTS(BOX({lon}, {lat}, {w}, {h}), {circle}) AS b, "
            f"CONTAINS({circle}, BOX(lon, lat, w, h)) AS c, "
            f"CONTAINS({circle}, BOX({lon}, {lat}, {w}, {h})) AS d, "
            f"AREA(BOX(lon, lat, w, h)) - AREA(BOX({lon}, {lat}, {w}, {h})) AS e "
            f"FROM t.b WHERE lon = {lon}",
        )[0]
        assert (row["a"], row["c"]) == (row["b"], row["d"]) == (1, 0)
        assert row["e"] == pytest.approx(0.0, abs=1e-9)


def test_points_as_regions_are_circles_of_radius_zero(nulls: LocalEngine) -> None:
    row = _rows(
        nulls,
        "SELECT CONTAINS(POINT(1, 2), POINT(1, 2)) AS a, INTERSECTS(POINT(1, 2), POINT(1, 2.1)) AS b, "
        "CONTAINS(CIRCLE(1, 2, 0), POINT(1, 2)) AS c, CONTAINS(CIRCLE(1, 2, 0.1), POINT(1, 2)) AS d, "
        "CONTAINS(s_region, POINT(10.5, 0.5)) AS e, CONTAINS(POINT(ra, dec), POINT(10, 0)) AS f "
        "FROM t.n WHERE id = 0",
    )
    assert row == [{"a": 1, "b": 0, "c": 1, "d": 0, "e": 0, "f": 1}]


NESTED = {
    "point": "POINT(10, 0)",
    "circle": "CIRCLE(10, 0, 1)",
    "box": "BOX(10, 0, 4, 4)",
    "polygon": "POLYGON(7, -3, 13, -3, 13, 3, 7, 3)",
}
"""Shapes nested by construction: each lies inside the next (the box's corners are 2 deg from
its centre along each axis, inside the 6-degree polygon)."""


@pytest.mark.parametrize("inner", list(NESTED))
@pytest.mark.parametrize("outer", list(NESTED))
def test_every_pairing_of_region_kinds(nulls: LocalEngine, inner: str, outer: str) -> None:
    rank = list(NESTED)
    far = NESTED[outer].replace("(10, 0", "(50, 0").replace("(7, -3, 13, -3, 13, 3, 7, 3)",
                                                           "(47, -3, 53, -3, 53, 3, 47, 3)")  # fmt: skip
    row = _rows(
        nulls,
        f"SELECT CONTAINS({NESTED[inner]}, {NESTED[outer]}) AS c, "
        f"INTERSECTS({NESTED[inner]}, {NESTED[outer]}) AS i, "
        f"INTERSECTS({NESTED[outer]}, {NESTED[inner]}) AS j, "
        f"CONTAINS({NESTED[inner]}, {far}) AS fc, INTERSECTS({NESTED[inner]}, {far}) AS fi "
        "FROM t.n WHERE id = 0",
    )
    inside = int(rank.index(inner) <= rank.index(outer))
    assert row == [{"c": inside, "i": 1, "j": 1, "fc": 0, "fi": 0}]


def test_unusable_polygons_are_reported_with_their_position(nulls: LocalEngine) -> None:
    for literal, reason in (
        ("POLYGON(0, 0, 120, 0, 240, 0)", "no centroid"),  # a great circle: no inside
        ("POLYGON(0, 0, 1, 0, 180, 0)", "hemisphere"),
    ):
        with pytest.raises(AdqlSemanticError, match=rf"{reason}.* line 1, column 30"):
            _rows(nulls, f"SELECT CONTAINS(POINT(1, 1), {literal}) FROM t.n")
    # The same rule for polygons that come from the data, when the query runs.
    eng = LocalEngine()
    bad = pa.array([[0.0, 0.0, 120.0, 0.0, 240.0, 0.0]], pa.list_(pa.float64()))
    eng.add_table("t.bad", pa.table({"s_region": bad}), [REGION])
    with pytest.raises(duckdb.Error, match="POLYGON: degenerate polygon"):
        _rows(eng, "SELECT CONTAINS(POINT(1, 1), s_region) FROM t.bad")
