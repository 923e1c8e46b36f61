"""``adql-gateway demo``: the stand-ins, the ``rsp`` TAP service and the federating gateway.

Every service runs as a child process on 127.0.0.1, each started in its own session (so its
own process group): the three stand-ins (``python -m standins hsc|sia|spectral``), the ``rsp``
gateway and the main gateway, both exactly as ``adql-gateway serve --config FILE`` would run
them. The demo process only supervises: it waits (bounded) until each service answers, prints
the URLs and example queries, and watches the children. On Ctrl-C, SIGTERM or SIGHUP, when a
child dies, and at interpreter exit, every child's process group gets SIGTERM and, after a
bounded wait, SIGKILL. On Linux each child also asks the kernel for SIGTERM when the demo
process itself dies, so not even ``kill -9`` of the demo leaves services behind.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TextIO

import httpx

from gateway.demo_config import (
    EXAMPLES,
    RSP_TABLES,
    DemoPorts,
    federation_config,
    rsp_config,
    write_config,
)
from standins.data import DemoData, ensure_demo_data

STARTUP_TIMEOUT = 90.0
"""Seconds a service may take to answer after it was started."""

STOP_TIMEOUT = 10.0
"""Seconds the children get to exit after SIGTERM before SIGKILL."""

_CLI = "import sys; from gateway.cli import main; raise SystemExit(main(sys.argv[1:]))"
"""``python -c`` program equivalent to the ``adql-gateway`` console script."""

_LAUNCHER = """\
import ctypes, os, signal, sys
if sys.platform == "linux":
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with the demo
if os.getppid() != int(sys.argv[1]):  # the demo died before prctl took effect
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""
"""``python -c`` program that arms the parent-death signal, then becomes the service.

Doing this after ``fork`` in a ``preexec_fn`` is unsafe in a process with threads (pyarrow's
pools); a short-lived interpreter that ``exec``s the real command keeps the same pid and the
signal setting, which survives ``execve``.
"""


class DemoError(RuntimeError):
    """A demo service could not be started or died."""


class _Stop(Exception):
    """Raised by the signal handlers to unwind into the shutdown path."""


@dataclass(slots=True)
class Child:
    """One supervised service process."""

    name: str
    process: subprocess.Popen[bytes]
    health_url: str
    log: Path | None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log, or an empty string."""
        if self.log is None or not self.log.is_file():
            return ""
        text = self.log.read_text("utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass(slots=True)
class Supervisor:
    """Starts child processes in their own process groups and stops all of them."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)

    def start(
        self, name: str, argv: Sequence[str], health_url: str, log: Path | None = None
    ) -> Child:
        """Start ``argv`` as a child; its output goes to ``log`` (or is inherited)."""
        output: IO[bytes] | None = log.open("ab") if log is not None else None
        try:
            process = subprocess.Popen(  # noqa: S603 - argv is built by the demo, not user text
                [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *argv],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                env=self.env,
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
        child = Child(name, process, health_url, log)
        self.children.append(child)
        return child

    def wait_healthy(self, children: Sequence[Child], timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll each child's health URL until it answers 200, it exits, or time runs out.

        Raises
        ------
        DemoError
            Naming the child and quoting the end of its log.
        """
        deadline = time.monotonic() + timeout
        pending = list(children)
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while pending:
                for child in list(pending):
                    if child.process.poll() is not None:
                        raise DemoError(_failure(child, f"exited with {child.process.returncode}"))
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(child.health_url).status_code == 200:
                            pending.remove(child)
                if pending and time.monotonic() > deadline:
                    raise DemoError(_failure(pending[0], f"did not answer in {timeout:.0f} s"))
                if pending:
                    time.sleep(0.2)

    def first_exited(self) -> Child | None:
        """A child that has exited, if any."""
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every child's process group, wait up to ``timeout``, then SIGKILL."""
        alive = [c for c in self.children if c.process.poll() is None]
        for child in reversed(alive):  # the main gateway first, the stand-ins last
            _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(max(0.0, deadline - time.monotonic()))
        for child in alive:
            if child.process.poll() is None:  # a reaped leader's group id may be reused
                _signal_group(child.process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(5.0)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _failure(child: Child, what: str) -> str:
    tail = child.log_tail()
    where = f" (log: {child.log})" if child.log is not None else ""
    return f"{child.name} {what}{where}" + (f"\n{tail}" if tail else "")


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
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def serve_command(config: Path, port: int) -> list[str]:
    """``adql-gateway serve --config CONFIG --port PORT`` with this interpreter."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-c", _CLI, "serve", "--config", str(config), *address]


def standin_command(service: str, port: int, data_root: Path) -> list[str]:
    """``python -m standins SERVICE`` on a loopback port over the demo data."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "standins", service, *address, "--data", str(data_root)]


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`_Stop` (SIGINT already raises KeyboardInterrupt)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise _Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _shutdown(supervisor: Supervisor) -> None:
    """Stop every child, ignoring further Ctrl-C and SIGTERM while doing so."""
    ignored = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in ignored}
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


def run_demo(options: DemoOptions, out: TextIO, err: TextIO) -> int:
    """Run the demo federation until interrupted.

    Parameters
    ----------
    options
        Port of the main gateway, demo data directory, run directory (a fresh temporary one,
        removed at the end, when None) and whether to start the main gateway at all.
    out, err
        Where the banner and the errors go.

    Returns
    -------
    int
        0 after an interruption, 1 when a service failed to start or died.
    """
    if options.gateway and not port_is_free(options.port):
        print(f"error: port {options.port} on 127.0.0.1 is in use (try --port)", file=err)
        return 1
    print("preparing the demo data (the first run generates it: 10-30 s) ...", file=out, flush=True)
    data = ensure_demo_data(options.data_dir)
    missing = [name for name in data.missing() if name in RSP_TABLES]
    if missing:
        print(f"error: demo data lacks {', '.join(missing)}", file=err)
        return 1
    run_dir = options.run_dir or Path(tempfile.mkdtemp(prefix="adql-gateway-demo-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(child_environment())
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
        if options.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(
    options: DemoOptions, data: DemoData, run_dir: Path, supervisor: Supervisor, out: TextIO
) -> int:
    hsc, sia, spectral, rsp = free_ports(4)
    ports = DemoPorts(main=options.port, hsc=hsc, sia=sia, spectral=spectral, rsp=rsp)
    urls = ports.backend_urls()
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    data_root = data.root
    rsp_toml = write_config(run_dir / "rsp.toml", rsp_config(data, ports.rsp, run_dir))
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
            serve_command(rsp_toml, ports.rsp),
            f"{urls['rsp']}/availability",
            logs / "rsp.log",
        ),
    ]
    supervisor.wait_healthy(backends)
    federation = write_config(run_dir / "federation.toml", federation_config(ports, run_dir))
    if options.gateway:
        main = supervisor.start(
            "gateway", serve_command(federation, ports.main), f"{ports.tap_url}/availability"
        )
        supervisor.wait_healthy([main])
    state = _write_state(run_dir, ports, federation, supervisor)
    _banner(out, ports, federation, state, gateway=options.gateway)
    while (dead := supervisor.first_exited()) is None:
        time.sleep(0.5)
    raise DemoError(_failure(dead, f"exited with {dead.process.returncode}"))


def _write_state(run_dir: Path, ports: DemoPorts, federation: Path, sup: Supervisor) -> Path:
    """``demo.json``: URLs, configuration files and process ids of this run."""
    state = {
        "tap_url": ports.tap_url,
        "federation_config": str(federation),
        "rsp_config": str(run_dir / "rsp.toml"),
        "backends": ports.backend_urls(),
        "pids": {child.name: child.process.pid for child in sup.children},
        "supervisor_pid": os.getpid(),
    }
    path = run_dir / "demo.json"
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
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
        lines.append(f"adql-gateway demo: TAP service at {ports.tap_url}")
    else:
        lines += [
            "adql-gateway demo: backends running (no gateway)",
            f"  run the gateway: adql-gateway serve --config {federation} --port {ports.main}",
        ]
    lines.append("backends:")
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
            "",
        ]
    lines.append("press Ctrl-C to stop")
    print("\n".join(lines), file=out, flush=True)
