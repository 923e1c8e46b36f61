"""Benchmark: 2 gateway replicas + 2 workers (PostgreSQL, Redis) vs one process, 200 clients.

Starts the demo backends (``adql-gateway demo --no-gateway``: HSC REST, SIAv2 and spectral
stand-ins and the ``rsp`` TAP service, each its own process), then two set-ups over the same
backends plus a local table ``bench.objects`` (the demo's dp1.Object Parquet file), one after
the other, each driven by the same client mix (:mod:`bench.load_mix`) for the same time:

* ``scale-out``: two replicas (``adql-gateway serve --config F --port P``) and two workers
  (``adql-gateway worker --config F``) sharing one configuration: a fresh PostgreSQL database
  on 127.0.0.1:5432 (made for the run, dropped at the end), a Redis queue of its own name on
  127.0.0.1:6379 and one data directory (the result store); clients alternate replicas;
* ``single``: one ``adql-gateway serve`` with the embedded defaults (SQLite job store in its
  data directory, jobs run inside the process).

Each set-up gets one warm-up request of every kind per replica, then N clients for the
duration; requests under way at the deadline are finished. After that every job a replica
accepted is asked for its phase (through a replica other than the one that took it in the
scale-out) until all are terminal or a grace time ends: "lost" = never terminal. RSS per
process from ``/proc/PID/status``: idle after the warm-up, peak during the load (VmHWM,
reset before it), and at the end. Every child runs on 127.0.0.1 and is stopped at the end,
also on Ctrl-C or SIGTERM.

Usage: PYTHONPATH=. python bench/load_scaleout.py [--quick] [--duration 60] [--clients 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg

from bench.federation_joins import start_backends
from bench.load_mix import (
    TERMINAL,
    WEIGHTS,
    Stats,
    drive,
    each_kind,
    final_phases,
    percentiles,
)
from bench.processes import free_port, load_average, reset_peak, status_kib, stop, wait_until
from standins.data import ensure_demo_data
from standins.demo.config import write_config

CLI = Path(sys.executable).parent / "adql-gateway"
PG_ADMIN = os.environ.get("ADQLGW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ADQLGW_BENCH_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Setup:
    """The processes of one set-up and the TAP base URLs clients use."""

    name: str
    procs: dict[str, subprocess.Popen[bytes]]
    bases: list[str]


@dataclass
class Outcome:
    """What one set-up measured."""

    stats: Stats
    seconds: float
    phases: dict[str, str]
    rss: dict[str, tuple[int, int, int]]
    """Process name -> (idle, peak, end) RSS in KiB."""
    cpu: dict[str, float]
    """Process name (ours and the demo backends') -> CPU seconds used during the load."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from ``/proc/PID/stat``."""
    # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def configs(tmp: Path, federation: Path, database_url: str, queue: str) -> tuple[Path, Path]:
    """The scale-out and the single-process configuration files over the demo backends."""
    doc: dict[str, Any] = tomllib.loads(federation.read_text())
    objects = ensure_demo_data().tables()["dp1.Object"]
    backends = [
        *doc["backends"],
        {"name": "bench", "kind": "local", "tables": [{"name": "bench.objects", "path": objects}]},
    ]
    # No base_url: `serve --port P` then gives each replica its own (job links point to it).
    shared = {
        "data_dir": tmp / "scaleout-data", "job_database_url": database_url,
        "redis_url": REDIS_URL, "queue_name": queue,
    }  # fmt: skip
    scaleout = write_config(tmp / "scaleout.toml", {"service": shared, "backends": backends})
    single_service = {"data_dir": tmp / "single-data"}
    single = write_config(tmp / "single.toml", {"service": single_service, "backends": backends})
    return scaleout, single


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database for this run (dropped at the end); yields its URL."""
    name = f"adqlgw_bench_{os.getpid()}"
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


class Children:
    """Every process the bench started, with its log file; stopped once, in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[BinaryIO] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        self._files.append(log)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
        chosen = self.procs if procs is None else procs
        stop([p for p in chosen if p.poll() is None])
        self.procs = [p for p in self.procs if p not in chosen]
        if procs is None:
            for handle in self._files:
                handle.close()

    def tail(self, name: str, chars: int = 2000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]

    def tracebacks(self, prefix: str) -> dict[str, int]:
        """Tracebacks logged by each process whose log name starts with ``prefix``."""
        return {
            path.stem: path.read_text(errors="replace").count("Traceback (most recent call last)")
            for path in sorted(self.logs.glob(f"{prefix}-*.log"))
        }


def start_setup(children: Children, name: str, config: Path, replicas: int, workers: int) -> Setup:
    """Start replicas and workers over ``config``; return once each answers or is ready."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    bases = []
    for i in range(replicas):
        port = free_port()
        argv = [str(CLI), "serve", "--config", str(config), "--port", str(port)]
        procs[f"{name} replica {i + 1}"] = children.start(f"{name}-replica-{i + 1}", argv)
        bases.append(f"http://127.0.0.1:{port}/tap")
    for i in range(workers):
        argv = [str(CLI), "worker", "--config", str(config)]
        procs[f"{name} worker {i + 1}"] = children.start(f"{name}-worker-{i + 1}", argv)
    for base in bases:
        wait_until(f"{base}/availability", timeout=120)
    deadline = time.monotonic() + 120
    for i in range(workers):
        while "ready on queue" not in children.tail(f"{name}-worker-{i + 1}"):
            if time.monotonic() > deadline or procs[f"{name} worker {i + 1}"].poll() is not None:
                msg = f"worker {i + 1} did not start:\n{children.tail(f'{name}-worker-{i + 1}')}"
                raise RuntimeError(msg)
            time.sleep(0.2)
    return Setup(name, procs, bases)


def warm_up(bases: list[str]) -> None:
    """One request of every kind per replica, so first-query costs stay out of the figures."""
    stats = asyncio.run(each_kind(bases))
    if stats.failures:
        print("warm-up failures:\n  " + "\n  ".join(stats.failures), flush=True)


def measure(
    setup: Setup, backends: dict[str, int], clients: int, seconds: float, grace: float
) -> Outcome:
    """Drive the set-up and collect its figures; ``backends``: demo service name -> pid."""
    warm_up(setup.bases)
    pids = {name: proc.pid for name, proc in setup.procs.items()}
    idle = {name: status_kib(pid, "VmRSS") for name, pid in pids.items()}
    for pid in pids.values():
        reset_peak(pid)
    others = {f"backend {name}": pid for name, pid in backends.items()}
    watched = {**pids, **others, "bench client": os.getpid()}
    cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
    t0 = time.monotonic()
    stats = asyncio.run(drive(setup.bases, clients, seconds))
    elapsed = time.monotonic() - t0
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in watched.items()}
    # Asked through the last replica: in the scale-out most jobs were taken in by the other.
    phases = asyncio.run(final_phases(setup.bases[-1], stats.jobs, grace))
    rss = {
        name: (idle[name], status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"))
        for name, pid in pids.items()
    }
    return Outcome(stats, elapsed, phases, rss, cpu)


def report(outcomes: dict[str, Outcome], clients: int) -> None:
    """Print the figures of every set-up, side by side per kind."""
    print(f"\n{'setup':<10} {'kind':<11} {'requests':>8} {'ok':>6} {'5xx':>4} {'other':>6} "
          f"{'p50 s':>7} {'p99 s':>7} {'ok/s':>6}")  # fmt: skip
    for name, out in outcomes.items():
        for kind in WEIGHTS:
            counts = out.stats.statuses.get(kind, Counter())
            total, ok = sum(counts.values()), counts.get("200", 0)
            bad = sum(n for s, n in counts.items() if s[0] == "5")
            p50, p99 = percentiles(out.stats.latencies.get(kind, []))
            print(f"{name:<10} {kind:<11} {total:>8} {ok:>6} {bad:>4} {total - ok - bad:>6} "
                  f"{p50:>7.3f} {p99:>7.3f} {ok / out.seconds:>6.1f}")  # fmt: skip
    for name, out in outcomes.items():
        phases = Counter(out.phases.values())
        lost = sum(n for p, n in phases.items() if p not in TERMINAL)
        print(f"\n[{name}] {clients} clients, {out.seconds:.1f} s; 5xx: {out.stats.count_5xx()}; "
              f"jobs accepted {len(out.phases)}, final phases {dict(phases)}, lost {lost}")  # fmt: skip
        lag = out.stats.loop_lag
        if lag:
            p50, p99 = percentiles(lag)
            print(
                f"  client event-loop lag: p50 {p50:.3f} s, p99 {p99:.3f} s, max {max(lag):.3f} s"
            )
        for line in out.stats.failures:
            print(f"  failure: {line}")
        for process, (idle, peak, end) in out.rss.items():
            print(f"  RSS {process:<20} idle {idle / 1024:6.0f} MiB  peak {peak / 1024:6.0f} MiB  "
                  f"end {end / 1024:6.0f} MiB")  # fmt: skip
        used = ", ".join(f"{name} {seconds:.1f}" for name, seconds in out.cpu.items())
        print(f"  CPU seconds during the load: {used}")


def run(args: argparse.Namespace, tmp: Path) -> None:
    logs = tmp / "logs"
    logs.mkdir()
    children = Children(logs)
    demo, _urls = start_backends(tmp / "run")
    children.procs.append(demo)
    try:
        state = json.loads((tmp / "run" / "demo.json").read_text())
        federation, backend_pids = Path(state["federation_config"]), state["pids"]
        wait_until(_urls["rsp"] + "/availability", timeout=120)
        with fresh_database() as database_url:
            scaleout, single = configs(tmp, federation, database_url, f"adqlgw-bench-{os.getpid()}")
            print(f"load average at start {load_average()}; {args.clients} clients, "
                  f"{args.duration:.0f} s per set-up; logs in {logs}", flush=True)  # fmt: skip
            outcomes: dict[str, Outcome] = {}
            for name, config, replicas, workers in (
                ("scale-out", scaleout, 2, 2),
                ("single", single, 1, 0),
            ):
                setup = start_setup(children, name, config, replicas, workers)
                try:
                    outcomes[name] = measure(
                        setup, backend_pids, args.clients, args.duration, args.grace
                    )
                    print(f"[{name}] done; load average {load_average()}", flush=True)
                finally:
                    children.stop(list(setup.procs.values()))
                print(f"[{name}] tracebacks in the logs: {children.tracebacks(name)}", flush=True)
            report(outcomes, args.clients)
            print(f"\nload average at end {load_average()}")
    finally:
        children.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per set-up")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per set-up")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--grace", type=float, default=120.0, help="seconds for jobs to end")
    args = parser.parse_args()
    args.duration = 10.0 if args.quick else min(max(args.duration, 1.0), 600.0)
    args.clients = min(max(args.clients, 1), 1000)
    args.grace = min(max(args.grace, 0.0), 600.0)
    # SIGTERM unwinds like Ctrl-C, through the finally blocks that stop every child.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="adqlgw-load-") as tmp:
        try:
            run(args, Path(tmp))
        except KeyboardInterrupt:
            print("interrupted; every child stopped", file=sys.stderr)
            raise SystemExit(130) from None


if __name__ == "__main__":
    main()
