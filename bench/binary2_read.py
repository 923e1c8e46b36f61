"""Benchmark: reading BINARY2 answers, the vectorised reader vs astropy, on the same bytes.

Two deterministic tables are written with the gateway's BINARY2 writer: "fixed" (an int64 id,
six doubles, three int32: every cell fixed-width, like the SMC answer) and "with text" (the
same plus a variable-length ``char`` column, so rows must be scanned for their starts). Each
document is decoded by ``gateway.formats.decode_votable.decode_votable`` (best of 3) and, unless
``--skip-astropy``, parsed by astropy and converted with ``votable_table_to_arrow`` (once).

Usage: PYTHONPATH=. python bench/binary2_read.py [--rows 764000] [--skip-astropy]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.formats.decode_votable import decode_votable
from gateway.formats.votable import write_votable
from gateway.tap.upload_reader import parse_votable, votable_table_to_arrow


def tables(rows: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(1)
    columns: dict[str, object] = {"id": rng.integers(0, 2**40, rows)}
    for k in range(6):
        columns[f"f{k}"] = rng.normal(size=rows)
    for k in range(3):
        columns[f"i{k}"] = rng.integers(0, 100, rows).astype(np.int32)
    fixed = pa.table(columns)
    names = pa.array([f"obj-{i}" if i % 10 else None for i in range(rows)])
    return {"fixed": fixed, "with text": fixed.append_column("name", names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=764_000)
    parser.add_argument("--skip-astropy", action="store_true")
    args = parser.parse_args()
    print(f"{'table':<10} {'MB':>6} {'ours':>7} {'astropy':>8} {'ratio':>6}")
    for label, table in tables(args.rows).items():
        columns = [column_meta_from_arrow(f) for f in table.schema]
        data = b"".join(write_votable(columns, table.to_batches()))
        ours = []
        for _ in range(3):
            t0 = time.perf_counter()
            decoded = decode_votable(data)
            ours.append(time.perf_counter() - t0)
        assert decoded.table.num_rows == args.rows
        theirs = float("nan")
        if not args.skip_astropy:
            t0 = time.perf_counter()
            votable_table_to_arrow(parse_votable(data).get_first_table())
            theirs = time.perf_counter() - t0
        best = min(ours)
        print(f"{label:<10} {len(data) / 1e6:>6.1f} {best:>6.2f}s {theirs:>7.2f}s "
              f"{theirs / best:>5.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
