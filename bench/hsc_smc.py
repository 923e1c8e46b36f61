"""Benchmark: the HSC SMC notebook query against the HSC stand-in, as CSV and as VOTable.

Starts ``python -m standins hsc`` as a separate process, then for each format runs a fresh
client process that sends the notebook's request (GET, 3x3 deg box, pagesize 2,000,000),
streams the answer and parses it the way a notebook would (astropy ``ascii.read`` for CSV,
``astropy.io.votable`` for VOTable). Reports wall time to the last byte, parse time, bytes,
rows, the client's peak RSS and the server's peak RSS during that request (the server's
high-water mark is reset before each request through /proc/PID/clear_refs).

Usage: python bench/hsc_smc.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx
from astropy.io import ascii as astropy_ascii
from astropy.io.votable import parse_single_table

from bench.processes import free_port, reset_peak, status_kib, stop, wait_until

COLUMNS = "MatchID,MatchRA,MatchDec,CI,A_F555W,A_F555W_N,A_F555W_MAD,A_F814W,A_F814W_N,A_F814W_MAD"
PARAMS: dict[str, str | float] = {
    "MatchDec.gt": -74.3, "MatchDec.lt": -71.3, "MatchRA.gt": 11.68659, "MatchRA.lt": 14.68659,
    "A_F555W_N.gte": 1, "A_F814W_N.gte": 1, "CI.gt": 0.9, "CI.lt": 1.6,
    "columns": f"[{COLUMNS}]", "pagesize": 2000000,
}  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent


def client(url: str, fmt: str) -> None:
    """One request in this process; prints a JSON line of measurements."""
    t0 = time.perf_counter()
    buf = io.BytesIO()
    with httpx.stream("GET", f"{url}/v3/summary/magaper2.{fmt}", params=PARAMS, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            buf.write(chunk)
    t1 = time.perf_counter()
    if fmt == "csv":
        rows = len(astropy_ascii.read(buf.getvalue().decode(), format="csv"))
    else:
        buf.seek(0)
        rows = len(parse_single_table(buf).array)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "fmt": fmt,
                "transfer_s": t1 - t0,
                "parse_s": t2 - t1,
                "bytes": buf.tell() if fmt == "votable" else len(buf.getvalue()),
                "rows": rows,
                "client_peak_mib": peak / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--client", nargs=2, metavar=("URL", "FMT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(*args.client)
        return
    port = free_port()
    cmd = [sys.executable, "-m", "standins", "hsc", "--port", str(port)]
    if args.data:
        cmd += ["--data", args.data]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/api/v0.1/hsc"
    try:
        wait_until(f"{url}/v3/detailed/metadata")
        idle = status_kib(server.pid, "VmRSS") / 1024
        print(f"server idle RSS {idle:.0f} MiB")
        for fmt in ["csv", "votable"] * args.repeat:
            reset_peak(server.pid)
            out = subprocess.run(
                [sys.executable, __file__, "--client", url, fmt],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            result = json.loads(out.stdout)
            result["server_peak_mib"] = status_kib(server.pid, "VmHWM") / 1024
            print(
                json.dumps(
                    {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
                )
            )
    finally:
        stop([server], timeout=10)


if __name__ == "__main__":
    main()
