"""Benchmark: our streamed BINARY2 writer vs astropy's VOTable writer on a 1M-row table.

Run from the repository root:

    /work/venv/bin/python bench/votable_write.py [--rows 1000000] [--skip-astropy]

Reports seconds, MB/s of VOTable output, the speed ratio, and the peak Python-heap memory
(tracemalloc) of streaming the whole result through our writer without keeping it.
"""

from __future__ import annotations

import argparse
import io
import time
import tracemalloc
import warnings

import numpy as np
import pyarrow as pa
from astropy.io.votable import from_table
from astropy.table import MaskedColumn, Table

from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.votable import write_votable

BATCH_ROWS = 65536


def make_table(rows: int) -> pa.Table:
    rng = np.random.default_rng(42)
    ids = np.arange(rows, dtype=np.int64)
    names = pa.array([f"obj-{i:07d}" for i in range(rows)])
    mag = rng.normal(20, 2, rows)
    mag_mask = rng.random(rows) < 0.1  # 10 % nulls in the nullable column
    return pa.table(
        {
            "objid": ids,
            "ra": rng.uniform(0, 360, rows),
            "dec": rng.uniform(-90, 90, rows),
            "flags": rng.integers(0, 1 << 20, rows, dtype=np.int32),
            "name": names,
            "mag": pa.array(mag, mask=mag_mask),
        }
    )


def run_ours(table: pa.Table) -> tuple[float, int]:
    columns = [column_meta_from_arrow(f) for f in table.schema]
    start = time.perf_counter()
    size = 0
    for chunk in write_votable(columns, table.to_batches(max_chunksize=BATCH_ROWS)):
        size += len(chunk)
    return time.perf_counter() - start, size


def peak_memory_ours(table: pa.Table) -> int:
    columns = [column_meta_from_arrow(f) for f in table.schema]
    tracemalloc.start()
    for _chunk in write_votable(columns, table.to_batches(max_chunksize=BATCH_ROWS)):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def run_astropy(table: pa.Table) -> tuple[float, int]:
    astropy_table = _to_astropy(table)  # conversion not timed: astropy gets its native input
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        votable = from_table(astropy_table)
        out = io.BytesIO()
        votable.to_xml(out, tabledata_format="binary2")
    return time.perf_counter() - start, len(out.getvalue())


def _to_astropy(table: pa.Table) -> Table:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if col.null_count:
            data = col.to_numpy(zero_copy_only=False)
            cols[name] = MaskedColumn(np.nan_to_num(data), mask=np.isnan(data))
        else:
            cols[name] = col.to_numpy(zero_copy_only=False)
    return Table(cols)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-astropy", action="store_true")
    args = parser.parse_args()
    table = make_table(args.rows)
    print(f"rows={args.rows} input Arrow bytes={table.nbytes / 1e6:.1f} MB")
    ours_s, ours_size = run_ours(table)
    print(
        f"ours    BINARY2: {ours_s:7.2f} s  {ours_size / 1e6:7.1f} MB  {ours_size / 1e6 / ours_s:7.1f} MB/s"
    )
    peak = peak_memory_ours(table)
    print(f"ours    peak traced memory while streaming: {peak / 1e6:.1f} MB")
    if not args.skip_astropy:
        theirs_s, theirs_size = run_astropy(table)
        print(
            f"astropy BINARY2: {theirs_s:7.2f} s  {theirs_size / 1e6:7.1f} MB  {theirs_size / 1e6 / theirs_s:7.1f} MB/s"
        )
        print(f"speed ratio astropy/ours: {theirs_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
