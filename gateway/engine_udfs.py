"""Vectorised functions the local DuckDB engine registers (Arrow in, Arrow out, numpy inside).

* ``ivo_healpix_index(order, ra, dec)``: HEALPix NESTED pixel index (Górski et al. 2005,
  ApJ 622, 759: equatorial/polar zones, face number, bit interleaving), written from the
  paper's formulae.
* ``adql_polygon_contains(lon, lat, polygon)``, the circle-polygon functions
  (:data:`CIRCLE_POLYGON_FUNCTIONS`) and the polygon-polygon ones
  (:data:`POLYGON_PAIR_FUNCTIONS`): closed regions with great-circle edges, decided by
  :mod:`gateway.engine_sphere` with one boundary tolerance. A NULL argument, or a NULL
  vertex, gives NULL.
* ``adql_polygon_area(polygon)`` and ``adql_polygon_centroid(polygon)``: spherical excess of a
  triangle fan (Van Oosterom & Strackee's formula) and its area-weighted centroid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import duckdb
import duckdb.func
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gateway import engine_sphere

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


def _unit(lon_deg: Floats, lat_deg: Floats) -> Floats:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _spread_bits(v: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Interleave zeros between the bits of ``v`` (bit i moves to bit 2i)."""
    v = v & 0x00000000FFFFFFFF
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        v = (v | (v << shift)) & mask
    return v


def healpix_nest(
    order: npt.NDArray[np.int64], ra_deg: Floats, dec_deg: Floats
) -> npt.NDArray[np.int64]:
    """HEALPix NESTED index of positions (degrees) at ``order`` (0..29)."""
    order = np.asarray(order, dtype=np.int64)
    nside = np.left_shift(np.int64(1), order)
    z = np.sin(np.radians(dec_deg))
    za = np.abs(z)
    tt = np.mod(np.radians(ra_deg), 2 * np.pi) / (np.pi / 2)  # in [0, 4)
    tt = np.where(tt >= 4.0, 0.0, tt)
    # Equatorial zone: two families of lines (ascending jp, descending jm).
    t1 = nside * (0.5 + tt)
    t2 = nside * z * 0.75
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp, ifm = jp >> order, jm >> order
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1
    # Polar caps.
    ntt = np.minimum(tt.astype(np.int64), 3)
    tp = tt - ntt
    tmp = nside * np.sqrt(3.0 * (1.0 - za))
    jp2 = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm2 = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_pol = np.where(north, ntt, ntt + 8)
    ix_pol = np.where(north, nside - jm2 - 1, jp2)
    iy_pol = np.where(north, nside - jp2 - 1, jm2)
    equatorial = za <= 2.0 / 3.0
    face = np.where(equatorial, face_eq, face_pol)
    ix = np.where(equatorial, ix_eq, ix_pol)
    iy = np.where(equatorial, iy_eq, iy_pol)
    return face * nside * nside + _spread_bits(ix) + (_spread_bits(iy) << 1)


def polygon_contains(lon: Floats, lat: Floats, vertices: Floats) -> npt.NDArray[np.bool_]:
    """Points (degrees) in one closed polygon given as ``[lon1, lat1, lon2, lat2, ...]``."""
    return engine_sphere.Polygon(vertices).contains_points(engine_sphere.unit(lon, lat))


def _fan(vertices: Floats) -> tuple[Floats, Floats]:
    """Signed spherical excess and centroid direction of each fan triangle."""
    v = _unit(vertices[0::2], vertices[1::2])
    a, b, c = v[0], v[1:-1], v[2:]
    num = np.einsum("j,ij->i", a, np.cross(b, c))
    den = 1.0 + b @ a + np.einsum("ij,ij->i", b, c) + c @ a
    return 2.0 * np.arctan2(num, den), a + b + c


def polygon_area(vertices: Floats) -> float:
    """Area in square degrees of the smaller region the polygon bounds."""
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


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _polygon_keys(polys: pa.Array | pa.ChunkedArray) -> list[bytes | None]:
    """Each row's vertices as float64 bytes (a hashable key), None for NULL or a NULL vertex."""
    polys = _flat(polys)
    offsets = polys.offsets.to_numpy()
    values = polys.values.to_numpy(zero_copy_only=False).astype(np.float64)
    null_values = np.asarray(polys.values.is_null())
    null_rows = np.asarray(polys.is_null())
    out: list[bytes | None] = []
    for i in range(len(polys)):
        lo, hi = offsets[i], offsets[i + 1]
        out.append(None if null_rows[i] or null_values[lo:hi].any() else values[lo:hi].tobytes())
    return out


def _per_polygon(polys: pa.Array, fn: Callable[[Floats], Any]) -> list[Any]:
    cache: dict[bytes, Any] = {}
    out: list[Any] = []
    for key in _polygon_keys(polys):
        if key is None:
            out.append(None)
            continue
        if key not in cache:
            cache[key] = fn(np.frombuffer(key))
        out.append(cache[key])
    return out


def _numbers(*arrays: pa.Array | pa.ChunkedArray) -> tuple[list[Floats], Bools]:
    """Arrays as float64 numpy, and the rows where any is NULL or NaN."""
    out: list[Floats] = []
    null = np.zeros(len(arrays[0]), dtype=np.bool_)
    for a in map(_flat, arrays):
        values = a.to_numpy(zero_copy_only=False).astype(np.float64)
        null |= np.asarray(a.is_null()) | np.isnan(values)
        out.append(values)
    return out, null


def _grouped(
    keys: Sequence[Hashable | None], null: Bools, fn: Callable[[Any, IntArray], Bools]
) -> pa.Array:
    """Evaluate ``fn(key, rows)`` once per distinct geometry key.

    Polygons are usually constants or repeat across rows (one footprint per band), so the work
    is vectorised over the rows sharing one.
    """
    result = np.zeros(len(keys), dtype=np.bool_)
    null = null | np.array([k is None for k in keys], dtype=np.bool_)
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        if not null[i]:
            groups.setdefault(key, []).append(i)
    for key, rows in groups.items():
        idx = np.asarray(rows, dtype=np.intp)
        result[idx] = fn(key, idx)
    return pa.array(result, mask=null)


@functools.lru_cache(maxsize=4096)
def _polygon(key: bytes) -> engine_sphere.Polygon:
    try:
        return engine_sphere.Polygon(np.frombuffer(key))
    except ValueError as err:
        raise ValueError(f"POLYGON: {err}") from err


def _contains_udf(lon: pa.Array, lat: pa.Array, polys: pa.Array) -> pa.Array:
    (lon_np, lat_np), null = _numbers(lon, lat)
    return _grouped(
        _polygon_keys(polys),
        null,
        lambda key, i: _polygon(key).contains_points(engine_sphere.unit(lon_np[i], lat_np[i])),
    )


CircleTest = Callable[[engine_sphere.Polygon, Floats, Floats], Bools]
PairTest = Callable[[engine_sphere.Polygon, engine_sphere.Polygon], bool]


def _circle_udf(test: CircleTest) -> Callable[..., pa.Array]:
    """A UDF ``(lon, lat, radius, polygon)`` applying ``test`` to circles (degrees)."""

    def udf(lon: pa.Array, lat: pa.Array, radius: pa.Array, polys: pa.Array) -> pa.Array:
        (lon_np, lat_np, r_np), null = _numbers(lon, lat, radius)

        def run(key: bytes, i: IntArray) -> Bools:
            centres = engine_sphere.unit(lon_np[i], lat_np[i])
            return test(_polygon(key), centres, np.radians(np.minimum(r_np[i], 180.0)))

        return _grouped(_polygon_keys(polys), null, run)

    return udf


def _pair_udf(test: PairTest) -> Callable[..., pa.Array]:
    """A UDF ``(polygon, polygon)`` applying ``test`` once per distinct pair."""

    def udf(first: pa.Array, second: pa.Array) -> pa.Array:
        keys = list(zip(_polygon_keys(first), _polygon_keys(second), strict=True))
        pairs: list[tuple[bytes, bytes] | None] = [
            None if a is None or b is None else (a, b) for a, b in keys
        ]

        def run(key: tuple[bytes, bytes], i: IntArray) -> Bools:
            return np.full(len(i), test(_polygon(key[0]), _polygon(key[1])))

        return _grouped(pairs, np.zeros(len(pairs), dtype=np.bool_), run)

    return udf


def _healpix_udf(order: pa.Array, ra: pa.Array, dec: pa.Array) -> pa.Array:
    order, ra, dec = _flat(order), _flat(ra), _flat(dec)
    o = order.to_numpy(zero_copy_only=False).astype(np.int64)
    if np.any((o < 0) | (o > 29)):
        msg = "ivo_healpix_index: order must be between 0 and 29"
        raise ValueError(msg)
    idx = healpix_nest(
        o,
        ra.to_numpy(zero_copy_only=False).astype(np.float64),
        dec.to_numpy(zero_copy_only=False).astype(np.float64),
    )
    mask = np.asarray(ra.is_null()) | np.asarray(dec.is_null()) | np.asarray(order.is_null())
    return pa.array(idx, type=pa.int64(), mask=mask)


CIRCLE_POLYGON_FUNCTIONS: dict[str, CircleTest] = {
    "adql_circle_intersects_polygon": engine_sphere.circle_intersects,
    "adql_circle_in_polygon": engine_sphere.circle_within,
    "adql_polygon_in_circle": engine_sphere.within_circle,
}
"""Engine functions ``f(lon, lat, radius, polygon)`` relating a circle and a polygon."""

POLYGON_PAIR_FUNCTIONS: dict[
    str, Callable[[engine_sphere.Polygon, engine_sphere.Polygon], bool]
] = {
    "adql_polygons_intersect": engine_sphere.Polygon.intersects,
    "adql_polygon_in_polygon": engine_sphere.Polygon.within,
}
"""Engine functions ``f(p, q)`` relating two polygons (``in``: p inside q)."""


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Register every function on ``con`` (before configuration is locked)."""
    dbl, big = duckdb.sqltype("DOUBLE"), duckdb.sqltype("BIGINT")
    dlist = duckdb.list_type(dbl)

    def area(p: pa.Array) -> pa.Array:
        return pa.array(_per_polygon(p, polygon_area), type=pa.float64())

    def centroid(p: pa.Array) -> pa.Array:
        return pa.array(_per_polygon(p, polygon_centroid), type=pa.list_(pa.float64()))

    boolean = duckdb.sqltype("BOOLEAN")
    functions: list[tuple[str, Callable[..., pa.Array], list[Any], Any]] = [
        ("adql_polygon_contains", _contains_udf, [dbl, dbl, dlist], boolean),
        *(
            (name, _circle_udf(test), [dbl, dbl, dbl, dlist], boolean)
            for name, test in CIRCLE_POLYGON_FUNCTIONS.items()
        ),
        *(
            (name, _pair_udf(test), [dlist, dlist], boolean)
            for name, test in POLYGON_PAIR_FUNCTIONS.items()
        ),
        ("ivo_healpix_index", _healpix_udf, [big, dbl, dbl], big),
        ("adql_polygon_area", area, [dlist], dbl),
        ("adql_polygon_centroid", centroid, [dlist], dlist),
    ]
    for name, fn, params, returns in functions:
        # SPECIAL null handling: the functions see NULLs and return NULL for them themselves.
        con.create_function(
            name,
            fn,
            params,
            returns,
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
            side_effects=False,
        )
