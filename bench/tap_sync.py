"""Benchmark: the TAP service over a local table — a streamed 1M-row sync query, and req/s.

Writes a deterministic 1,000,000-row Parquet table, starts ``adql-gateway serve`` on it as a
separate process, then measures:

* ``SELECT * FROM bench.big`` through /sync as VOTable BINARY2 (and CSV), streamed by the
  client which only counts bytes: wall time, bytes, and the server's peak RSS during the
  request (VmHWM reset through /proc/PID/clear_refs) against its idle RSS;
* requests per second of small queries (TOP 10; a 10-row cone that scans the table) with
  1 and 4 concurrent clients,
  over a bounded number of requests;
* optionally the same small-query rate against another TAP URL (``--compare URL``, e.g. a
  DaCHS started by ../shared/tools/dachs-up.sh, with ``--compare-query``).

Usage: python bench/tap_sync.py [--rows 1000000] [--requests 300] [--compare URL]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.processes import free_port, reset_peak, status_kib, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
TINY = "SELECT TOP 10 id, ra, dec, mag FROM bench.big"
SMALL = (
    "SELECT TOP 10 id, ra, dec, mag FROM bench.big "
    "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 10, 0.5))"
)


def write_table(path: Path, rows: int) -> None:
    rng = np.random.default_rng(42)
    table = pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "ra": rng.uniform(0, 360, rows),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, rows))),
            "mag": pa.array(rng.normal(20, 2, rows), mask=rng.random(rows) < 0.1),
            "flags": rng.integers(0, 1 << 16, rows).astype(np.int32),
            "name": pa.array([f"src{i:07d}" for i in range(rows)]),
        }
    )
    pq.write_table(table, path, row_group_size=131072)


def stream(url: str, query: str, fmt: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    size = 0
    params = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": fmt, "MAXREC": "2000000"}
    with httpx.stream("POST", f"{url}/sync", data=params, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - t0, size


def rate(url: str, query: str, total: int, concurrency: int) -> float:
    counter = iter(range(total))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                response = http.post(
                    f"{url}/sync", data={"LANG": "ADQL", "QUERY": query, "FORMAT": "votable"}
                )
                if response.status_code != 200:
                    errors.append(response.text[:200])

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[0])
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--compare", help="another TAP base URL for the req/s comparison")
    parser.add_argument("--compare-query", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_table(directory / "big.parquet", args.rows)
        port = free_port()
        config = directory / "bench.toml"
        config.write_text(
            f'[service]\nbase_url = "http://127.0.0.1:{port}/tap"\n'
            f'data_dir = "{directory / "data"}"\nmaxrec_hard = 5000000\n'
            '[[backends]]\nname = "local"\nkind = "local"\n'
            '[[backends.tables]]\nname = "bench.big"\npath = "big.parquet"\n'
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
             "--port", str(port)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/tap"
        try:
            wait_until(f"{url}/availability", interval=0.2)
            stream(url, SMALL, "votable")  # warm up
            idle = status_kib(server.pid, "VmRSS")
            print(f"rows={args.rows} server idle RSS {idle / 1024:.0f} MiB")
            for fmt in ("votable", "csv"):
                reset_peak(server.pid)
                seconds, size = stream(url, "SELECT * FROM bench.big", fmt)
                peak = status_kib(server.pid, "VmHWM")
                print(
                    f"SELECT * as {fmt:8s}: {seconds:6.2f} s, {size / 1e6:7.1f} MB, "
                    f"{size / 1e6 / seconds:6.1f} MB/s, {args.rows / seconds:9.0f} rows/s, "
                    f"server peak RSS {peak / 1024:.0f} MiB (+{(peak - idle) / 1024:.0f})"
                )
            for label, query in (("TOP 10, no filter", TINY), ("TOP 10 cone (full scan)", SMALL)):
                for concurrency in (1, 4):
                    per_second = rate(url, query, args.requests, concurrency)
                    print(f"{label}, {concurrency} client(s): {per_second:7.1f} req/s")
            if args.compare:
                query = args.compare_query or SMALL
                for concurrency in (1, 4):
                    per_second = rate(args.compare, query, args.requests, concurrency)
                    print(
                        f"compare {args.compare}, {concurrency} client(s): {per_second:.1f} req/s"
                    )
        finally:
            stop([server], timeout=30)


if __name__ == "__main__":
    main()
