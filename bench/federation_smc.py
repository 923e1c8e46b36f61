"""Benchmark: the HSC notebook's SMC query through the federating gateway vs the HSC stand-in.

Starts ``python -m standins hsc`` and ``adql-gateway serve`` (a federation whose only backend
is that stand-in, kind ``hsc``) as separate processes. Per format the client streams the answer
and only counts bytes (and CSV lines):

* gateway: POST ``/sync`` with the notebook's query in ADQL against ``hscv3.summary``,
  MAXREC=2,000,000, RESPONSEFORMAT ``csv`` or ``votable`` (BINARY2);
* anchor (same run, same process pair): the notebook's own request sent directly to the
  stand-in (GET ``/v3/summary/magaper2.csv`` or ``.votable``, ``pagesize=2000000``) — the
  stand-in's VOTable is TABLEDATA, its only VOTable serialisation.

Each process's VmHWM is reset through ``/proc/PID/clear_refs`` before each request and read
after it, so "peak RSS" is the peak during that request. ``--profile`` runs the gateway's
query service in this process under cProfile instead (CSV output, same stand-in) and prints
the top functions by cumulative and by own time. ``--tap-read`` then reads the gateway's own
answer the way a second gateway federating it as a ``tap`` backend would: fetched once per
output format, decoded by ``gateway.formats.decode.decode`` (and the BINARY2 one by astropy too).

Usage: python bench/federation_smc.py [--quick] [--repeat 2] [--profile] [--tap-read]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.processes import free_port, load_average, reset_peak, status_kib, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = "MatchID,MatchRA,MatchDec,CI,A_F555W,A_F555W_N,A_F555W_MAD,A_F814W,A_F814W_N,A_F814W_MAD"
FULL_BOX = (-74.3, -71.3, 11.68659, 14.68659)
QUICK_BOX = (-73.3, -72.3, 12.68659, 13.68659)  # 1x1 deg around the same centre


def notebook_params(box: tuple[float, float, float, float]) -> dict[str, str | float]:
    dec_lo, dec_hi, ra_lo, ra_hi = box
    return {
        "MatchDec.gt": dec_lo, "MatchDec.lt": dec_hi, "MatchRA.gt": ra_lo, "MatchRA.lt": ra_hi,
        "A_F555W_N.gte": 1, "A_F814W_N.gte": 1, "CI.gt": 0.9, "CI.lt": 1.6,
        "columns": f"[{COLUMNS}]", "pagesize": 2000000,
    }  # fmt: skip


def notebook_adql(box: tuple[float, float, float, float]) -> str:
    dec_lo, dec_hi, ra_lo, ra_hi = box
    return (
        f"SELECT {', '.join(COLUMNS.split(','))} FROM hscv3.summary "
        f"WHERE MatchDec > {dec_lo} AND MatchDec < {dec_hi} "
        f"AND MatchRA > {ra_lo} AND MatchRA < {ra_hi} "
        "AND A_F555W_N >= 1 AND A_F814W_N >= 1 AND CI > 0.9 AND CI < 1.6"
    )


def stream(method: str, url: str, **kwargs: object) -> tuple[float, int, int, bytes]:
    """Seconds to the last byte, bytes, newlines, and the first 400 bytes."""
    t0 = time.perf_counter()
    size = lines = 0
    head = b""
    with httpx.stream(method, url, timeout=600, **kwargs) as response:  # type: ignore[arg-type]
        if response.status_code != 200:
            response.read()
            msg = f"{url}: HTTP {response.status_code}: {response.text[:500]}"
            raise RuntimeError(msg)
        for chunk in response.iter_bytes():
            if len(head) < 400:
                head += chunk[:400]
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - t0, size, lines, head


def profile(hsc_url: str, box: tuple[float, float, float, float], tmp: Path) -> None:
    """Where the gateway's time goes, in this process (same stand-in process).

    Backend requests (``Executor._send``) and answer decoding (``gateway.federation.executor.decode``) are
    wrapped with timers; the result writers run under cProfile. Then the same with the HSC
    planner's pagesize raised to 2,000,000 (a bench-side patch of the planner factory, to show
    what one request instead of pages would cost; the gateway code is unchanged).
    """
    import functools  # noqa: PLC0415

    import gateway.federation.builtin_catalog as builtin  # noqa: PLC0415
    import gateway.federation.executor as executor_module  # noqa: PLC0415
    from bench.in_process import started  # noqa: PLC0415
    from gateway.federation.service import FederatedQueryService  # noqa: PLC0415
    from gateway.query.options import RunOptions  # noqa: PLC0415
    from gateway.settings import BackendConfig, GatewaySettings  # noqa: PLC0415
    from gateway.tap.responses import render_result  # noqa: PLC0415
    from planners.hsc import HscPlanner  # noqa: PLC0415

    sends: list[float] = []
    decodes: list[float] = []
    original_send = executor_module.Executor._send  # noqa: SLF001
    original_decode = vars(executor_module)["decode"]

    async def timed_send(self: Any, config: Any, prepared: Any, *rest: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original_send(self, config, prepared, *rest)
        finally:
            sends.append(time.perf_counter() - t0)

    def timed_decode(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original_decode(*args, **kwargs)
        finally:
            decodes.append(time.perf_counter() - t0)

    executor_module.Executor._send = timed_send  # type: ignore[method-assign,assignment]  # noqa: SLF001
    setattr(executor_module, "decode", timed_decode)  # noqa: B010
    settings = GatewaySettings(
        data_dir=tmp / "jobs",
        backends=[BackendConfig(name="hsc", kind="hsc", url=hsc_url, timeout_seconds=600)],
    )
    for label, pagesize in (("as shipped (pagesize 50,000)", None),
                            ("what-if: HSC planner pagesize 2,000,000", 2_000_000)):  # fmt: skip
        if pagesize is not None:
            setattr(builtin, "HscPlanner", functools.partial(HscPlanner, pagesize=pagesize))  # noqa: B010
        svc = FederatedQueryService(settings)
        try:
            with started(svc) as run:
                for fmt in ("csv", "votable"):
                    sends.clear()
                    decodes.clear()
                    t0 = time.perf_counter()
                    result = run(notebook_adql(box), {}, 2_000_000, RunOptions())
                    t1 = time.perf_counter()
                    profiler = cProfile.Profile()
                    profiler.enable()
                    _, chunks = render_result(result, fmt)
                    size = sum(len(c) for c in chunks)
                    profiler.disable()
                    t2 = time.perf_counter()
                    print(f"\n== {label}, {fmt}: run() {t1 - t0:.2f} s (requests: {len(sends)}, "
                          f"each {min(sends):.2f}-{max(sends):.2f} s, sum {sum(sends):.2f} s; "
                          f"decode sum {sum(decodes):.2f} s); write {t2 - t1:.2f} s, "
                          f"{size / 1e6:.1f} MB")  # fmt: skip
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
                    text = out.getvalue()
                    print(text[text.find("   ncalls") :].rstrip())
        finally:
            setattr(builtin, "HscPlanner", HscPlanner)  # noqa: B010


def tap_read(gurl: str, adql: str) -> None:
    """Fetch and decode times of the gateway's SMC answer per format, as a TAP backend's."""
    from gateway.federation.catalog_sources import read_tap_service  # noqa: PLC0415
    from gateway.formats.decode import decode  # noqa: PLC0415
    from gateway.tap.upload_reader import parse_votable, votable_table_to_arrow  # noqa: PLC0415

    with httpx.Client(timeout=600) as client:
        service = read_tap_service(client, gurl, "")
    wanted = {c.lower() for c in COLUMNS.split(",")}
    expected = [c for c in service.tables["hscv3.summary"] if c.name.lower() in wanted]
    print(f"\nTAP read path; negotiated RESPONSEFORMAT: {service.features.response_format}")
    print(f"{'format':<20} {'MB':>7} {'fetch':>7} {'decode':>7} {'rows':>8}")
    bodies = {}
    for label, fmt, key in (("Parquet", "parquet", "parquet"),
                            ("VOTable BINARY2", "votable", "votable"),
                            ("CSV", "csv", "csv"),
                            ("VOTable TABLEDATA", "votable/td", "votable")):  # fmt: skip
        t0 = time.perf_counter()
        response = httpx.post(f"{gurl}/sync", timeout=600, data={
            "LANG": "ADQL", "QUERY": adql, "MAXREC": "2000000", "RESPONSEFORMAT": fmt})  # fmt: skip
        response.raise_for_status()
        t1 = time.perf_counter()
        decoded = decode(response.content, key, expected)
        t2 = time.perf_counter()
        bodies[label] = response.content
        print(f"{label:<20} {len(response.content) / 1e6:>7.1f} {t1 - t0:>6.2f}s {t2 - t1:>6.2f}s "
              f"{decoded.table.num_rows:>8}")  # fmt: skip
    t0 = time.perf_counter()
    rows = votable_table_to_arrow(parse_votable(bodies["VOTable BINARY2"]).get_first_table())[1]
    print(f"{'BINARY2 by astropy':<20} {'':>7} {'':>7} {time.perf_counter() - t0:>6.2f}s "
          f"{rows.num_rows:>8}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1x1 deg box, one repeat")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--tap-read", action="store_true", help="also time the TAP read path")
    args = parser.parse_args()
    box = QUICK_BOX if args.quick else FULL_BOX
    repeat = 1 if args.quick else max(1, min(args.repeat, 5))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hport, gport = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            hsc = subprocess.Popen(
                [sys.executable, "-m", "standins", "hsc", "--host", "127.0.0.1", "--port",
                 str(hport)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(hsc)
            hsc_url = f"http://127.0.0.1:{hport}/api/v0.1/hsc"
            wait_until(f"{hsc_url}/v3/summary/magaper2/metadata", timeout=120, interval=0.2)
            if args.profile:
                profile(hsc_url, box, tmp)
                return
            config = tmp / "smc.toml"
            config.write_text(
                f'[service]\nbase_url = "http://127.0.0.1:{gport}/tap"\n'
                f'data_dir = "{tmp / "jobs"}"\nmaxrec_hard = 5000000\n'
                f'[[backends]]\nname = "hsc"\nkind = "hsc"\nurl = "{hsc_url}"\n'
                "timeout_seconds = 600\n"
            )
            gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                 "--port", str(gport)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(gateway)
            gurl = f"http://127.0.0.1:{gport}/tap"
            wait_until(f"{gurl}/availability", timeout=120, interval=0.2)
            adql = notebook_adql(box)
            plan = httpx.post(f"{gurl}/translate", data={"QUERY": adql}, timeout=60).json()
            for fragment in plan.get("fragments", []):
                for request in fragment.get("requests", []):
                    params = dict(request["params"])
                    print(f"gateway sends: {request['method']} {request['url']} pagesize="
                          f"{params.get('pagesize')} page={params.get('page')}")  # fmt: skip
            # Warm-up: DuckDB file caches of the stand-in, imports of the gateway.
            stream("GET", f"{hsc_url}/v3/summary/magaper2.csv", params=notebook_params(QUICK_BOX))
            stream("POST", f"{gurl}/sync", data={"LANG": "ADQL", "QUERY": notebook_adql(QUICK_BOX),
                                                  "MAXREC": "2000000", "RESPONSEFORMAT": "csv"})  # fmt: skip
            idle = {p.pid: status_kib(p.pid, "VmRSS") / 1024 for p in procs}
            print(f"load average {load_average()}; idle RSS: stand-in {idle[hsc.pid]:.0f} MiB, "
                  f"gateway {idle[gateway.pid]:.0f} MiB; box {box}; {repeat} repeat(s)")  # fmt: skip
            header = (f"{'path':<36} {'time':>7} {'MB':>7} {'rows':>8} "
                      f"{'gw peak':>8} {'hsc peak':>8}")  # fmt: skip
            print(header)
            results: dict[str, list[float]] = {}
            for _ in range(repeat):
                for fmt, direct_ext in (("csv", "csv"), ("votable", "votable")):
                    runs = (
                        (f"direct stand-in .{direct_ext}", "GET",
                         f"{hsc_url}/v3/summary/magaper2.{direct_ext}",
                         {"params": notebook_params(box)}),
                        (f"gateway /sync {fmt if fmt == 'csv' else 'BINARY2'}", "POST",
                         f"{gurl}/sync",
                         {"data": {"LANG": "ADQL", "QUERY": adql, "MAXREC": "2000000",
                                   "RESPONSEFORMAT": fmt}}),
                    )  # fmt: skip
                    for label, method, url, kwargs in runs:
                        for proc in procs:
                            reset_peak(proc.pid)
                        seconds, size, lines, head = stream(method, url, **kwargs)
                        gpeak = status_kib(gateway.pid, "VmHWM") / 1024
                        hpeak = status_kib(hsc.pid, "VmHWM") / 1024
                        rows = str(lines - 1) if label.endswith(("csv", "CSV")) else "-"
                        if b"OVERFLOW" in head:
                            rows += " OVERFLOW"
                        results.setdefault(label, []).append(seconds)
                        results.setdefault(label + " gwpeak", []).append(gpeak)
                        print(f"{label:<36} {seconds:>6.2f}s {size / 1e6:>7.1f} {rows:>8} "
                              f"{gpeak:>7.0f}M {hpeak:>7.0f}M")  # fmt: skip
            print(f"load average {load_average()}")
            print("\nmedian times and ratios (gateway / direct, same run):")
            pairs = (("gateway /sync csv", "direct stand-in .csv"),
                     ("gateway /sync BINARY2", "direct stand-in .votable"),
                     ("gateway /sync BINARY2", "direct stand-in .csv"))  # fmt: skip
            for gw, anchor in pairs:
                g, a = statistics.median(results[gw]), statistics.median(results[anchor])
                peak = max(results[gw + " gwpeak"])
                print(f"  {gw:<24} {g:6.2f} s vs {anchor:<26} {a:6.2f} s: ratio {g / a:5.2f}; "
                      f"gateway peak RSS {peak:.0f} MiB")  # fmt: skip
            if args.tap_read:
                tap_read(gurl, adql)
        finally:
            stop(procs)


if __name__ == "__main__":
    main()
