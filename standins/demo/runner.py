"""``adql-gateway demo``: the stand-ins, the ``rsp`` TAP service and the federating gateway.

Every service runs as a child process on 127.0.0.1 (:mod:`standins.demo.supervisor`): the three
stand-ins (``python -m standins hsc|sia|spectral``), the ``rsp`` gateway and the main gateway,
both exactly as ``adql-gateway serve --config FILE`` would run them. The demo process waits
(bounded) until each service answers, prints the URLs and example queries, then supervises: a
service that dies is marked down and restarted with back-off while the others keep serving,
so ``PARTIAL=true`` can be tried by killing one.

Configuration files, logs, job data and ``demo.json`` (URLs, process ids, service states) are
kept in a run directory that outlives the demo (default: a new directory under
``demo-runs`` beside the demo data cache; the newest :data:`KEEP_RUNS` are kept).

SIGINT, SIGTERM and SIGHUP all stop the demo and every child. SIGINT gets an explicit handler:
a program started in the background by a non-interactive shell (``adql-gateway demo &`` in a
script, a test suite run with ``&``) inherits SIGINT *ignored*, and Python then installs no
KeyboardInterrupt handler, so ``kill -INT`` would do nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

import httpx

from gateway.log_setup import DEFAULT_LEVEL
from standins.data import DemoData, default_data_dir, ensure_demo_data
from standins.demo.config import (
    EXAMPLES,
    RSP_TABLES,
    DemoPorts,
    federation_config,
    rsp_config,
    write_config,
)
from standins.demo.supervisor import DemoError, RestartPolicy, Supervisor

KEEP_RUNS = 10
"""Run directories kept under ``demo-runs`` (older ones are removed at start)."""

_CLI = "import sys; from gateway.cli import main; raise SystemExit(main(sys.argv[1:]))"
"""``python -c`` program equivalent to the ``adql-gateway`` console script."""

__all__ = ["DemoError", "DemoOptions", "run_demo"]


class _Stop(Exception):
    """Raised by the signal handlers to unwind into the shutdown path."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def child_environment() -> dict[str, str]:
    """The environment of the children: ours, with this package importable.

    Settings a user may have exported for another gateway (base URL, data directory) would
    override the generated files, so they are removed.
    """
    env = dict(os.environ)
    for name in ("ADQL_GATEWAY_BASE_URL", "ADQL_GATEWAY_DATA_DIR"):
        env.pop(name, None)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def serve_command(config: Path, port: int, log_level: str = DEFAULT_LEVEL) -> list[str]:
    """``adql-gateway serve --config CONFIG --port PORT --log-level L`` with this interpreter."""
    address = ["--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]
    return [sys.executable, "-c", _CLI, "serve", "--config", str(config), *address]


def standin_command(service: str, port: int, data_root: Path) -> list[str]:
    """``python -m standins SERVICE`` on a loopback port over the demo data."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "standins", service, *address, "--data", str(data_root)]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`_Stop`, whatever their inherited setting."""

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise _Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _shutdown(supervisor: Supervisor) -> None:
    """Stop every child, ignoring further Ctrl-C and SIGTERM while doing so."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
    try:
        supervisor.stop()
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``adql-gateway demo`` was asked for."""

    port: int = 8000
    data_dir: Path | None = None
    run_dir: Path | None = None
    gateway: bool = True
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    log_level: str = DEFAULT_LEVEL
    """Of the demo and of its gateway processes (their logs are under the run directory)."""


def default_run_dir(data_dir: Path | None) -> Path:
    """A new directory under ``demo-runs`` beside the data cache.

    Older runs beyond :data:`KEEP_RUNS` are removed, so the directory does not grow forever.
    """
    root = (data_dir or default_data_dir()).expanduser().resolve().parent / "demo-runs"
    root.mkdir(parents=True, exist_ok=True)
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    for old in runs[: max(0, len(runs) - (KEEP_RUNS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return root / f"{stamp}-{os.getpid()}"


def run_demo(options: DemoOptions, out: TextIO, err: TextIO) -> int:
    """Run the demo federation until interrupted.

    Parameters
    ----------
    options
        Port of the main gateway, demo data directory, run directory (a new one under
        ``demo-runs`` when None; kept after the end), whether to start the main gateway at
        all, and the restart policy of the services.
    out, err
        Where the banner, service events and errors go.

    Returns
    -------
    int
        0 after an interruption, 1 when a service failed to start.
    """
    if options.gateway and not port_is_free(options.port):
        print(f"error: port {options.port} on 127.0.0.1 is in use (try --port)", file=err)
        return 1
    data = _demo_data(options.data_dir, out)
    missing = [name for name in data.missing() if name in RSP_TABLES]
    if missing:
        print(f"error: demo data lacks {', '.join(missing)}", file=err)
        return 1
    run_dir = (options.run_dir or default_run_dir(options.data_dir)).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run directory (configuration, logs, jobs; kept): {run_dir}", file=out, flush=True)
    supervisor = Supervisor(child_environment(), options.restart)
    atexit.register(supervisor.stop)
    try:
        with _stop_on_signals():
            return _run(options, data, run_dir, supervisor, out)
    except (KeyboardInterrupt, _Stop):
        print("\nstopping the demo services ...", file=out, flush=True)
        return 0
    except DemoError as exc:
        print(f"error: {exc}", file=err, flush=True)
        return 1
    finally:
        _shutdown(supervisor)
        atexit.unregister(supervisor.stop)
        print(f"logs and configuration stay in {run_dir}", file=out, flush=True)


def _demo_data(data_dir: Path | None, out: TextIO) -> DemoData:
    """The demo data; a notice is printed only when it takes long (the first run generates it)."""
    notice = threading.Timer(
        1.0,
        lambda: print("generating the demo data (first run: 10-30 s) ...", file=out, flush=True),
    )
    notice.start()
    try:
        return ensure_demo_data(data_dir)
    finally:
        notice.cancel()


def _run(
    options: DemoOptions, data: DemoData, run_dir: Path, supervisor: Supervisor, out: TextIO
) -> int:
    hsc, sia, spectral, rsp = free_ports(4)
    ports = DemoPorts(main=options.port, hsc=hsc, sia=sia, spectral=spectral, rsp=rsp)
    urls = ports.backend_urls()
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    data_root = data.root
    rsp_toml = write_config(
        run_dir / "rsp.toml", rsp_config(data, ports.rsp, run_dir, ports.sia_links_url)
    )
    print(f"starting the stand-ins and the rsp TAP service (logs in {logs}) ...", file=out)
    backends = [
        supervisor.start(
            "hsc",
            standin_command("hsc", ports.hsc, data_root),
            f"{urls['hsc']}/v3/summary/magaper2/metadata",
            logs / "hsc.log",
        ),
        supervisor.start(
            "rsp_sia",
            standin_command("sia", ports.sia, data_root),
            f"http://127.0.0.1:{ports.sia}/availability",
            logs / "sia.log",
        ),
        supervisor.start(
            "spec",
            standin_command("spectral", ports.spectral, data_root),
            f"{urls['spec']}/ping",
            logs / "spectral.log",
        ),
        supervisor.start(
            "rsp",
            serve_command(rsp_toml, ports.rsp, options.log_level),
            f"{urls['rsp']}/availability",
            logs / "rsp.log",
        ),
    ]
    supervisor.wait_healthy(backends)
    federation = write_config(run_dir / "federation.toml", federation_config(ports, run_dir))
    if options.gateway:
        main = supervisor.start(
            "gateway",
            serve_command(federation, ports.main, options.log_level),
            f"{ports.tap_url}/availability",
            logs / "gateway.log",
        )
        supervisor.wait_healthy([main])
    state = _write_state(run_dir, ports, federation, supervisor)
    _banner(out, ports, federation, state, gateway=options.gateway)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            time.sleep(0.5)
            events = supervisor.watch(client)
            if events:  # the state file first: whoever reads the message finds it current
                _write_state(run_dir, ports, federation, supervisor)
                print("\n".join(events), file=out, flush=True)


def _write_state(run_dir: Path, ports: DemoPorts, federation: Path, sup: Supervisor) -> Path:
    """``demo.json``: URLs, configuration files, process ids and states of this run."""
    state = {
        "tap_url": ports.tap_url,
        "run_dir": str(run_dir),
        "federation_config": str(federation),
        "rsp_config": str(run_dir / "rsp.toml"),
        "logs": str(run_dir / "logs"),
        "backends": ports.backend_urls(),
        "pids": {child.name: child.process.pid for child in sup.children},
        "states": sup.states(),
        "supervisor_pid": os.getpid(),
    }
    path = run_dir / "demo.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)  # readers never see half a file
    return path


def _banner(out: TextIO, ports: DemoPorts, federation: Path, state: Path, *, gateway: bool) -> None:
    urls = ports.backend_urls()
    what = {
        "hsc": "HSC REST stand-in: hscv3.*, hscv2.*",
        "rsp": "TAP service (second gateway): dp1.Object, ivoa.ObsCore",
        "rsp_sia": "SIAv2 stand-in: rsp_sia.obscore",
        "spec": "spectral-ID stand-in: sdss_dr16.specobj, sdss_dr16.specobjall",
    }
    lines = [""]
    if gateway:
        lines += [
            f"adql-gateway demo: TAP service at {ports.tap_url}",
            f"  query page (editor, tables, plan, results, sky plot, jobs): {ports.tap_url}/",
        ]
    else:
        lines += [
            "adql-gateway demo: backends running (no gateway)",
            f"  run the gateway: adql-gateway serve --config {federation} --port {ports.main}",
        ]
    lines.append("backends (a backend that dies is restarted; meanwhile try PARTIAL=true):")
    lines += [f"  {name:<8} {urls[name]:<45} {what[name]}" for name in urls]
    lines += [f"federation config: {federation}", f"run state: {state}", ""]
    if gateway:
        lines.append("example queries (any TAP client: pyvo, TOPCAT, astroquery, curl):")
        for example in EXAMPLES:
            lines += [f"  -- {example.title}", f"  {example.adql}"]
        first = EXAMPLES[0].adql
        lines += [
            "",
            "for instance:",
            f"  curl -s {ports.tap_url}/sync -d LANG=ADQL -d FORMAT=csv \\",
            f'       --data-urlencode "QUERY={first}"',
            f'  adql-gateway query --url {ports.tap_url} --format csv "{first}"',
            "",
        ]
    lines.append("press Ctrl-C to stop (SIGTERM works too)")
    print("\n".join(lines), file=out, flush=True)
