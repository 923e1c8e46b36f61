"""Benchmark: region predicates in the local DuckDB engine (polygons, circles, polygon pairs).

Over the demo's ``ivoa.ObsCore`` (516 footprints) and ``dp1.Object`` (30,050 objects) plus a
deterministic 1,000,000-point table in the ECDFS field, in one in-process engine:

* 1M points in a constant POLYGON, and in a CIRCLE of similar size (plain SQL arithmetic);
* DP1 objects joined with the r-band coadd footprints that contain them;
* footprints meeting a circle (the SIA ``POS=CIRCLE`` query);
* r-band footprints joined with g-band footprints that intersect them (polygon pairs).

Usage: python bench/engine_regions.py [--data DIR] [--repeat 3]; prints the median seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import grammar
from gateway.engine.local import LocalEngine
from gateway.formats.table_files import read_table_file
from planners.sql_catalog import ColumnInfo
from standins.data import ensure_demo_data

QUERIES = {
    "1M points in a polygon": "SELECT COUNT(*) FROM b.pts WHERE CONTAINS(POINT(ra, dec), "
    "POLYGON(53.0, -28.3, 53.4, -28.3, 53.4, -27.9, 53.0, -27.9)) = 1",
    "1M points in a circle": "SELECT COUNT(*) FROM b.pts "
    "WHERE CONTAINS(POINT(ra, dec), CIRCLE(53.2, -28.1, 0.2)) = 1",
    "objects x coadd footprints": "SELECT o.objectId, i.obs_id FROM dp1.Object AS o "
    "JOIN ivoa.ObsCore AS i ON CONTAINS(POINT(o.coord_ra, o.coord_dec), i.s_region) = 1 "
    "WHERE i.dataproduct_subtype = 'lsst.deep_coadd' AND i.lsst_band = 'r'",
    "footprints meeting a circle": "SELECT obs_id FROM ivoa.ObsCore "
    "WHERE INTERSECTS(s_region, CIRCLE(53.2, -28.1, 0.2)) = 1",
    "footprint pairs (r x g)": "SELECT a.obs_id, b.obs_id FROM ivoa.ObsCore AS a "
    "JOIN ivoa.ObsCore AS b ON INTERSECTS(a.s_region, b.s_region) = 1 "
    "WHERE a.lsst_band = 'r' AND b.lsst_band = 'g'",
}


def main() -> None:
    """Run every query ``--repeat`` times after a warm-up; print rows and median seconds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tables = ensure_demo_data(args.data).tables()
    engine = LocalEngine()
    region = ColumnInfo("s_region", "double", "*", "polygon", "deg")
    engine.add_table("ivoa.ObsCore", read_table_file(tables["ivoa.ObsCore"]), [region])
    engine.add_table("dp1.Object", read_table_file(tables["dp1.Object"]))
    gen = np.random.default_rng(1)
    n = 1_000_000
    points = {"ra": gen.uniform(52.0, 54.5, n), "dec": gen.uniform(-29.2, -27.0, n)}
    engine.add_table("b.pts", pa.table(points))
    for title, adql in QUERIES.items():
        query = grammar.parse(adql)
        times, rows = [], 0
        for _ in range(args.repeat + 1):
            start = time.perf_counter()
            rows = sum(b.num_rows for b in engine.execute(query).batches)
            times.append(time.perf_counter() - start)
        print(f"{title:32s} rows {rows:7d}  median {statistics.median(times[1:]):.3f} s")


if __name__ == "__main__":
    main()
