"""Vectorised functions the local DuckDB engine registers (Arrow in, Arrow out, numpy inside).

* ``ivo_healpix_index(order, ra, dec)``: HEALPix NESTED pixel index (astropy-healpix), so
  pixel boundaries fall where every HEALPix library puts them.
* the region functions of :mod:`gateway.engine.regions` (point, circle and polygon tests,
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
from astropy import units as u  # type: ignore[import-untyped]
from astropy_healpix import lonlat_to_healpix

from gateway.engine import regions as engine_regions

Floats = npt.NDArray[np.float64]


def healpix_nest(
    order: npt.NDArray[np.int64], ra_deg: Floats, dec_deg: Floats
) -> npt.NDArray[np.int64]:
    """HEALPix NESTED index of positions (degrees) at ``order`` (0..29), by astropy-healpix.

    One call per distinct order (a query almost always has one). Non-finite positions get
    index -1 (their rows are NULL anyway).
    """
    order = np.broadcast_to(np.asarray(order, dtype=np.int64), np.shape(ra_deg))
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    finite = np.isfinite(ra) & np.isfinite(dec)
    out = np.full(ra.shape, -1, dtype=np.int64)
    for level in np.unique(order[finite]):
        rows = finite & (order == level)
        out[rows] = lonlat_to_healpix(
            ra[rows] * u.deg, dec[rows] * u.deg, 1 << int(level), order="nested"
        )
    return out


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
