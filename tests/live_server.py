"""Running ASGI apps under a real uvicorn server on 127.0.0.1 for integration tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import httpx
import uvicorn

if TYPE_CHECKING:
    from starlette.types import ASGIApp


def reserve_port() -> socket.socket:
    """A bound loopback socket; its port is ours until the server takes it over.

    Binding first lets a test build URLs (a TAP service's base URL) before the server starts,
    without a race for the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve_app(
    app: ASGIApp,
    timeout: float = 30.0,
    *,
    sock: socket.socket | None = None,
    lifespan: Literal["on", "off", "auto"] = "off",
) -> Iterator[str]:
    """Run ``app`` under uvicorn on a loopback port; yield ``http://127.0.0.1:PORT``."""
    sock = sock or reserve_port()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def wait_until_available(
    process: subprocess.Popen[Any], url: str, output: Callable[[], str], timeout: float = 60.0
) -> None:
    """Poll the TAP service at ``url`` (its ``/availability``) started by ``process``.

    Fails at once, with ``output()`` (what the child wrote), if the child exits first.
    """
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, output()
        try:
            if httpx.get(f"{url}/availability", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the child service did not start"
        time.sleep(0.2)
