"""Helpers the benchmarks share to start, watch and stop their server processes.

Linux only: memory figures come from ``/proc/PID/status`` and the load from ``/proc/loadavg``.
Import as ``from bench.processes import ...`` with the repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free at the time of the call.

    Returns
    -------
    int
        The port number the operating system handed out for a throw-away socket.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_kib(pid: int, key: str) -> int:
    """One memory figure of a process, from ``/proc/PID/status``.

    Parameters
    ----------
    pid
        The process id.
    key
        The field name without its colon, e.g. ``"VmRSS"`` (resident set) or ``"VmHWM"``
        (its high-water mark).

    Returns
    -------
    int
        The figure in KiB, or 0 when the field is absent.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    """Reset a process's peak RSS (``VmHWM``) to its current RSS.

    Parameters
    ----------
    pid
        The process id; it must belong to this user (writes ``5`` to ``/proc/PID/clear_refs``).
    """
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def load_average(fields: int = 3) -> str:
    """The system load average, as ``/proc/loadavg`` prints it.

    Parameters
    ----------
    fields
        How many of the 1, 5 and 15 minute figures to give, from the first.

    Returns
    -------
    str
        The figures joined by single spaces, e.g. ``"0.52 0.61 0.70"``.
    """
    return " ".join(Path("/proc/loadavg").read_text().split()[:fields])


def wait_until(url: str, timeout: float = 60.0, interval: float = 0.1) -> None:
    """Wait until a GET of ``url`` answers HTTP 200.

    Parameters
    ----------
    url
        The address to poll (each attempt may take up to 2 s).
    timeout
        Seconds to keep trying.
    interval
        Seconds to sleep between attempts.

    Raises
    ------
    RuntimeError
        If no attempt got a 200 within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    msg = f"{url} did not answer in {timeout:.0f} s"
    raise RuntimeError(msg)


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """Stop child processes: SIGTERM to all (last started first), then wait, then kill.

    Parameters
    ----------
    procs
        The processes, in the order they were started.
    timeout
        Seconds to wait for each process after SIGTERM before it is killed.
    """
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
