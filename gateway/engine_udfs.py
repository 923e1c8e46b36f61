"""Vectorised functions the local DuckDB engine registers (Arrow in, Arrow out, numpy inside).

* ``ivo_healpix_index(order, ra, dec)``: HEALPix NESTED pixel index (Górski et al. 2005,
  ApJ 622, 759: equatorial/polar zones, face number, bit interleaving), written from the
  paper's formulae.
* ``adql_polygon_contains(lon, lat, polygon)``: point in a spherical polygon with great-circle
  edges. The gnomonic projection about the vertex centroid maps great circles to straight
  lines, so the planar even-odd test on projected coordinates is exact; the interior is the
  side not containing the centroid's antipode (independent of winding).
* ``adql_polygon_area(polygon)`` and ``adql_polygon_centroid(polygon)``: spherical excess of a
  triangle fan (Van Oosterom & Strackee's formula) and its area-weighted centroid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import duckdb.func
import numpy as np
import numpy.typing as npt
import pyarrow as pa

Floats = npt.NDArray[np.float64]


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
    """Points (degrees) inside one polygon given as ``[lon1, lat1, lon2, lat2, ...]``."""
    v = _unit(vertices[0::2], vertices[1::2])
    c = v.sum(axis=0)
    c /= np.linalg.norm(c)
    east = np.cross([0.0, 0.0, 1.0], c)
    if np.linalg.norm(east) < 1e-12:  # centroid at a pole: any east axis will do
        east = np.array([1.0, 0.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(c, east)

    def project(u: Floats) -> tuple[Floats, Floats, Floats]:
        w = u @ c
        return (u @ east) / np.where(w > 0, w, 1.0), (u @ north) / np.where(w > 0, w, 1.0), w

    vx, vy, vw = project(v)
    if np.any(vw <= 1e-12):
        msg = "polygon does not fit in the hemisphere around its vertex centroid"
        raise ValueError(msg)
    px, py, pw = project(_unit(lon, lat))
    inside = np.zeros(px.shape, dtype=bool)
    for i in range(len(vx)):
        j = (i + 1) % len(vx)
        crosses = (vy[i] > py) != (vy[j] > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = vx[i] + (py - vy[i]) * (vx[j] - vx[i]) / (vy[j] - vy[i])
        inside ^= crosses & (px < x_at)
    return inside & (pw > 0)


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


def _per_polygon(polys: pa.ListArray, fn: Callable[[Floats], Any]) -> list[Any]:
    cache: dict[bytes, Any] = {}
    out: list[Any] = []
    for item in _flat(polys).to_pylist():
        if item is None:
            out.append(None)
            continue
        arr = np.asarray(item, dtype=np.float64)
        key = arr.tobytes()
        if key not in cache:
            cache[key] = fn(arr)
        out.append(cache[key])
    return out


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _contains_udf(lon: pa.Array, lat: pa.Array, polys: pa.Array) -> pa.Array:
    lon, lat, polys = _flat(lon), _flat(lat), _flat(polys)
    lon_np = lon.to_numpy(zero_copy_only=False).astype(np.float64)
    lat_np = lat.to_numpy(zero_copy_only=False).astype(np.float64)
    offsets = polys.offsets.to_numpy()
    result = np.zeros(len(lon_np), dtype=bool)
    valid = ~(np.isnan(lon_np) | np.isnan(lat_np))
    # Constant polygons (the usual case) are evaluated once for the whole chunk.
    groups: dict[bytes, list[int]] = {}
    flat = polys.values.to_numpy(zero_copy_only=False)
    for i in range(len(polys)):
        groups.setdefault(flat[offsets[i] : offsets[i + 1]].tobytes(), []).append(i)
    for key, rows in groups.items():
        idx = np.asarray(rows)
        result[idx] = polygon_contains(lon_np[idx], lat_np[idx], np.frombuffer(key))
    mask = (
        ~valid | np.asarray(polys.is_null()) | np.asarray(lon.is_null()) | np.asarray(lat.is_null())
    )
    return pa.array(result & valid, mask=mask)


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


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Register every function on ``con`` (before configuration is locked)."""
    dbl, big = duckdb.sqltype("DOUBLE"), duckdb.sqltype("BIGINT")
    dlist = duckdb.list_type(dbl)

    def area(p: pa.Array) -> pa.Array:
        return pa.array(_per_polygon(p, polygon_area), type=pa.float64())

    def centroid(p: pa.Array) -> pa.Array:
        return pa.array(_per_polygon(p, polygon_centroid), type=pa.list_(pa.float64()))

    functions: list[tuple[str, Callable[..., pa.Array], list[Any], Any]] = [
        ("adql_polygon_contains", _contains_udf, [dbl, dbl, dlist], duckdb.sqltype("BOOLEAN")),
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
