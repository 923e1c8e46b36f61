"""Region functions of the local engine: Arrow columns in, :mod:`gateway.engine.sphere` inside.

DuckDB hands each function a batch of rows. Polygons are usually constants or repeat across
rows (one footprint per band, one row per pair in a join), so each distinct polygon (or
polygon pair) is built once and tested against all the points or circles of its rows at
once. NULL in, NULL out: a NULL coordinate, radius, polygon or polygon vertex gives NULL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gateway.engine import sphere as engine_sphere
from gateway.engine.sphere import Polygon

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _nulls(a: pa.Array) -> Bools:
    if a.null_count == 0:
        return np.zeros(len(a), dtype=np.bool_)
    return np.asarray(a.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _groups(polys: pa.Array | pa.ChunkedArray) -> tuple[Ints, list[bytes]]:
    """Each row's polygon as an index into distinct vertex lists (-1: NULL or NULL vertex)."""
    polys = _flat(polys)
    offsets = polys.offsets.to_numpy().astype(np.int64, copy=False)
    values = polys.values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    null = _nulls(polys)
    if polys.values.null_count:
        before = np.concatenate([[0], np.cumsum(_nulls(polys.values))])  # NULL vertices so far
        null |= before[offsets[1:]] > before[offsets[:-1]]
    lengths = np.diff(offsets)
    ids = np.full(len(polys), -1, dtype=np.int64)
    keys: list[bytes] = []
    for length in np.unique(lengths[~null]):
        rows = np.flatnonzero((lengths == length) & ~null)
        if rows.size == len(polys):  # no NULLs, one length: the rows are a contiguous block
            matrix = values[offsets[0] : offsets[-1]].reshape(-1, length)
        else:
            matrix = values[offsets[rows][:, None] + np.arange(length)]
        if (matrix == matrix[0]).all():  # the common case: one polygon for the whole batch
            ids[rows] = len(keys)
            keys.append(matrix[0].tobytes())
            continue
        distinct, inverse = np.unique(matrix, axis=0, return_inverse=True)
        ids[rows] = len(keys) + inverse.reshape(-1)
        keys += [row.tobytes() for row in distinct]
    return ids, keys


def _each_group(ids: Ints, null: Bools, fn: Callable[[int, Ints], Bools]) -> pa.Array:
    """``fn(group, rows)`` for every group of non-NULL rows; NULL where ``null`` or no group."""
    null = null | (ids < 0)
    result = np.zeros(len(ids), dtype=np.bool_)
    valid = np.flatnonzero(~null)
    order = valid[np.argsort(ids[valid], kind="stable")]
    for rows in np.split(order, np.flatnonzero(np.diff(ids[order])) + 1):
        if rows.size:
            result[rows] = fn(int(ids[rows[0]]), rows)
    return pa.array(result, mask=null)


@functools.lru_cache(maxsize=4096)
def _polygon(key: bytes) -> Polygon:
    try:
        return Polygon(np.frombuffer(key))
    except ValueError as err:
        raise ValueError(f"POLYGON: {err}") from err


def _numbers(*arrays: pa.Array | pa.ChunkedArray) -> tuple[list[Floats], Bools]:
    """Arrays as float64 numpy, and the rows where any is NULL or NaN."""
    out: list[Floats] = []
    null = np.zeros(len(arrays[0]), dtype=np.bool_)
    for a in map(_flat, arrays):
        values = a.to_numpy(zero_copy_only=False).astype(np.float64)
        null |= _nulls(a) | np.isnan(values)
        out.append(values)
    return out, null


def point_in_polygon(lon: pa.Array, lat: pa.Array, polys: pa.Array) -> pa.Array:
    """``adql_polygon_contains(lon, lat, polygon)``: closed point-in-polygon."""
    (lon_np, lat_np), null = _numbers(lon, lat)
    ids, keys = _groups(polys)

    def run(group: int, rows: Ints) -> Bools:
        points = engine_sphere.unit(lon_np[rows], lat_np[rows])
        return _polygon(keys[group]).contains_points(points)

    return _each_group(ids, null, run)


CircleTest = Callable[[Polygon, Floats, Floats], Bools]
PairTest = Callable[[Polygon, Polygon], bool]


def _circle_function(test: CircleTest) -> Callable[..., pa.Array]:
    """A function ``(lon, lat, radius, polygon)`` applying ``test`` to circles in degrees."""

    def function(lon: pa.Array, lat: pa.Array, radius: pa.Array, polys: pa.Array) -> pa.Array:
        (lon_np, lat_np, r_np), null = _numbers(lon, lat, radius)
        ids, keys = _groups(polys)

        def run(group: int, rows: Ints) -> Bools:
            centres = engine_sphere.unit(lon_np[rows], lat_np[rows])
            radii = np.radians(np.minimum(r_np[rows], 180.0))
            return test(_polygon(keys[group]), centres, radii)

        return _each_group(ids, null, run)

    return function


def _pair_function(test: PairTest) -> Callable[..., pa.Array]:
    """A function ``(polygon, polygon)`` applying ``test`` once per distinct pair."""

    def function(first: pa.Array, second: pa.Array) -> pa.Array:
        (ids1, keys1), (ids2, keys2) = _groups(first), _groups(second)
        pairs = np.where((ids1 < 0) | (ids2 < 0), -1, ids1 * len(keys2) + ids2)

        def run(pair: int, rows: Ints) -> Bools:
            p, q = _polygon(keys1[pair // len(keys2)]), _polygon(keys2[pair % len(keys2)])
            return np.full(rows.size, test(p, q))

        return _each_group(pairs, np.zeros(len(pairs), dtype=np.bool_), run)

    return function


CIRCLE_POLYGON_FUNCTIONS: dict[str, Callable[..., pa.Array]] = {
    "adql_circle_intersects_polygon": _circle_function(engine_sphere.circle_intersects),
    "adql_circle_in_polygon": _circle_function(engine_sphere.circle_within),
    "adql_polygon_in_circle": _circle_function(engine_sphere.within_circle),
}
"""Engine functions ``f(lon, lat, radius, polygon)`` relating a circle and a polygon."""

POLYGON_PAIR_FUNCTIONS: dict[str, Callable[..., pa.Array]] = {
    "adql_polygons_intersect": _pair_function(Polygon.intersects),
    "adql_polygon_in_polygon": _pair_function(Polygon.within),
}
"""Engine functions ``f(p, q)`` relating two polygons (``in``: p inside q)."""


def _per_polygon(polys: pa.Array, fn: Callable[[Floats], Any]) -> list[Any]:
    ids, keys = _groups(polys)
    values = [fn(np.frombuffer(key)) for key in keys]
    return [None if i < 0 else values[i] for i in ids.tolist()]


def polygon_area(polys: pa.Array) -> pa.Array:
    """``adql_polygon_area(polygon)`` in square degrees."""
    return pa.array(_per_polygon(polys, engine_sphere.polygon_area), type=pa.float64())


def polygon_centroid(polys: pa.Array) -> pa.Array:
    """``adql_polygon_centroid(polygon)`` as ``[lon, lat]``."""
    return pa.array(
        _per_polygon(polys, engine_sphere.polygon_centroid), type=pa.list_(pa.float64())
    )
