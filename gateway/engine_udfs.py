"""Vectorised functions the local DuckDB engine registers (Arrow in, Arrow out, numpy inside).

* ``ivo_healpix_index(order, ra, dec)``: HEALPix NESTED pixel index (Górski et al. 2005,
  ApJ 622, 759: equatorial/polar zones, face number, bit interleaving), written from the
  paper's formulae.
* the region functions of :mod:`gateway.engine_regions` (point, circle and polygon tests,
  polygon area and centroid).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import duckdb.func
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gateway import engine_regions

Floats = npt.NDArray[np.float64]


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


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


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

    boolean = duckdb.sqltype("BOOLEAN")
    functions: list[tuple[str, Callable[..., pa.Array], list[Any], Any]] = [
        ("ivo_healpix_index", _healpix_udf, [big, dbl, dbl], big),
        ("adql_polygon_contains", engine_regions.point_in_polygon, [dbl, dbl, dlist], boolean),
        *(
            (name, fn, [dbl, dbl, dbl, dlist], boolean)
            for name, fn in engine_regions.CIRCLE_POLYGON_FUNCTIONS.items()
        ),
        *(
            (name, fn, [dlist, dlist], boolean)
            for name, fn in engine_regions.POLYGON_PAIR_FUNCTIONS.items()
        ),
        ("adql_polygon_area", engine_regions.polygon_area, [dlist], dbl),
        ("adql_polygon_centroid", engine_regions.polygon_centroid, [dlist], dlist),
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
