"""Child processes of ``adql-gateway demo``: started, watched, restarted, stopped together.

Each service runs as a child in its own session (so its own process group): stopping sends
SIGTERM to the whole group, then SIGKILL after a bounded wait. On Linux each child also asks
the kernel for SIGTERM when the demo process dies, so not even ``kill -9`` of the demo leaves
services behind.

A child that exits is marked down and restarted on the same port after a back-off that
doubles from :attr:`RestartPolicy.first_delay`; after :attr:`RestartPolicy.max_restarts`
failed attempts it stays down (the other services keep running, and the federating gateway
answers ``PARTIAL=true`` queries without it). A child that stays healthy for
:attr:`RestartPolicy.reset_after` seconds gets its whole restart budget back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

import httpx

STARTUP_TIMEOUT = 90.0
"""Seconds a service may take to answer after it was started."""

STOP_TIMEOUT = 10.0
"""Seconds the children get to exit after SIGTERM before SIGKILL."""

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


DEFAULT_MAX_RESTARTS = 5
DEFAULT_RESTART_DELAY = 1.0
"""Seconds before the first restart of a dead service (doubling per attempt)."""


class DemoError(RuntimeError):
    """A demo service could not be started."""


class State(Enum):
    """Where a child is in its life."""

    STARTING = "starting"
    UP = "up"
    DOWN = "down"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When and how often a dead child is started again."""

    max_restarts: int = DEFAULT_MAX_RESTARTS
    first_delay: float = DEFAULT_RESTART_DELAY
    max_delay: float = 30.0
    reset_after: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based)."""
        return float(min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay))


@dataclass(slots=True)
class Child:
    """One supervised service process and how to start it again."""

    name: str
    argv: tuple[str, ...]
    health_url: str
    log: Path | None
    process: subprocess.Popen[bytes]
    state: State = State.STARTING
    started: float = field(default_factory=time.monotonic)
    since: float = field(default_factory=time.monotonic)
    attempts: int = 0
    restart_at: float | None = None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log, or an empty string."""
        if self.log is None or not self.log.is_file():
            return ""
        text = self.log.read_text("utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass(slots=True)
class Supervisor:
    """Starts child processes in their own process groups, restarts them, stops all of them."""

    env: dict[str, str]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    children: list[Child] = field(default_factory=list)

    def start(
        self, name: str, argv: Sequence[str], health_url: str, log: Path | None = None
    ) -> Child:
        """Start ``argv`` as a child; its output goes to ``log`` (or is inherited)."""
        child = Child(name, tuple(argv), health_url, log, self._spawn(argv, log))
        self.children.append(child)
        return child

    def _spawn(self, argv: Sequence[str], log: Path | None) -> subprocess.Popen[bytes]:
        output: IO[bytes] | None = log.open("ab") if log is not None else None
        try:
            return subprocess.Popen(  # noqa: S603 - argv is built by the demo, not user text
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
                        raise DemoError(failure(child, f"exited with {child.process.returncode}"))
                    if _healthy(client, child):
                        child.state, child.since = State.UP, time.monotonic()
                        pending.remove(child)
                if pending and time.monotonic() > deadline:
                    raise DemoError(failure(pending[0], f"did not answer in {timeout:.0f} s"))
                if pending:
                    time.sleep(0.2)

    def watch(self, client: httpx.Client) -> list[str]:
        """One supervision round: notice deaths, restart when due, see restarted ones up.

        Returns
        -------
        list of str
            What happened, one line per event, for the user.
        """
        now = time.monotonic()
        events: list[str] = []
        for child in self.children:
            if child.state in {State.UP, State.STARTING} and child.process.poll() is not None:
                events.append(self._died(child, f"exited with {child.process.returncode}", now))
            elif child.state is State.STARTING and now - child.started > STARTUP_TIMEOUT:
                stop_group(child)
                events.append(self._died(child, f"did not answer in {STARTUP_TIMEOUT:.0f} s", now))
            elif child.state is State.STARTING and _healthy(client, child):
                child.state, child.since = State.UP, now
                events.append(f"{child.name} is up again (pid {child.process.pid})")
            elif (
                child.state is State.UP
                and child.attempts
                and now - child.since > (self.policy.reset_after)
            ):
                child.attempts = 0
            elif child.state is State.DOWN and now >= (child.restart_at or now):
                child.process = self._spawn(child.argv, child.log)
                child.state, child.started, child.restart_at = State.STARTING, now, None
                events.append(
                    f"{child.name}: restarting (attempt {child.attempts} of "
                    f"{self.policy.max_restarts})"
                )
        return events

    def _died(self, child: Child, what: str, now: float) -> str:
        child.since = now
        if child.attempts >= self.policy.max_restarts:
            child.state = State.FAILED
            return failure(child, f"{what}; gave up after {child.attempts} restarts, it stays down")
        child.attempts += 1
        delay = self.policy.delay(child.attempts)
        child.state, child.restart_at = State.DOWN, now + delay
        return failure(child, f"{what}; marked down, restarting in {delay:g} s")

    def states(self) -> dict[str, str]:
        """Child name to its state."""
        return {child.name: child.state.value for child in self.children}

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


def stop_group(child: Child) -> None:
    """SIGKILL one child's process group and reap it."""
    if child.process.poll() is None:
        _signal_group(child.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(5.0)


def _healthy(client: httpx.Client, child: Child) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return client.get(child.health_url).status_code == 200
    return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def failure(child: Child, what: str) -> str:
    """``<name> <what> (log: ...)`` and the end of the child's log."""
    tail = child.log_tail()
    where = f" (log: {child.log})" if child.log is not None else ""
    return f"{child.name} {what}{where}" + (f"\n{tail}" if tail else "")
