"""The demo federation on 127.0.0.1 for the federation tests: stand-ins plus a second gateway.

``rsp`` is a second gateway instance whose only backend is ``local`` (demo ``dp1.Object`` and
``ivoa.ObsCore``); it speaks TAP with TAP_UPLOAD, so it is the federation's TAP backend.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.engine.local import LocalEngine
from gateway.settings import BackendConfig, GatewaySettings, LocalTable, load_settings
from gateway.tap.serve import build_app
from standins.data import DemoData
from standins.demo.config import DemoPorts, federation_config, rsp_config, write_config
from standins.hsc import BASE_PATH, create_hsc_app
from standins.sia import create_sia_app
from standins.spectral import create_spectral_app
from tests.gateway.fault_server import FaultServer
from tests.live_server import reserve_port, serve_app

ECDFS = (53.2, -28.1, 0.3)
"""The field where HSC sources, DP1 objects, images and spectra overlap (ra, dec, radius)."""


@dataclass(frozen=True)
class Federation:
    """URLs of the running services."""

    hsc: str
    sia: str
    spec: str
    rsp: str

    def backends(
        self,
        *,
        sia_profile: Literal["standard", "rubin"] = "standard",
        timeout: float = 30,
        **overrides: str,
    ) -> list[BackendConfig]:
        """The demo federation's backends (``name=url`` overrides a URL).

        ``sia_profile="rubin"`` gives ``rsp_sia`` the Rubin ObsCore columns, as the demo does;
        ``timeout`` is every backend's ``timeout_seconds``.
        """
        urls = {"hsc": self.hsc, "rsp": self.rsp, "rsp_sia": self.sia, "spec": self.spec}
        urls.update(overrides)
        return [
            BackendConfig(name="hsc", kind="hsc", url=urls["hsc"], timeout_seconds=timeout),
            BackendConfig(name="rsp", kind="tap", url=urls["rsp"], timeout_seconds=timeout),
            BackendConfig(
                name="rsp_sia", kind="sia", url=urls["rsp_sia"], sia_profile=sia_profile,
                timeout_seconds=timeout,
            ),
            BackendConfig(
                name="spec", kind="spectral", url=urls["spec"], context="sdss_dr16",
                timeout_seconds=timeout,
            ),
        ]  # fmt: skip


def rsp_settings(demo: DemoData, data_dir: Path, base_url: str) -> GatewaySettings:
    """Settings of the second gateway: one local backend over the DP1 demo tables."""
    tables = demo.tables()
    return GatewaySettings(
        base_url=base_url,
        data_dir=data_dir,
        backends=[
            BackendConfig(
                name="rsp",
                kind="local",
                tables=[
                    LocalTable(name="dp1.Object", path=tables["dp1.Object"]),
                    LocalTable(name="ivoa.ObsCore", path=tables["ivoa.ObsCore"]),
                ],
            )
        ],
    )


@contextlib.contextmanager
def serve_rsp(demo: DemoData, data_dir: Path, sock: object | None = None) -> Iterator[str]:
    """Run the second gateway; yields its TAP base URL."""
    sock = sock or reserve_port()
    port = sock.getsockname()[1]  # type: ignore[attr-defined]
    settings = rsp_settings(demo, data_dir, f"http://127.0.0.1:{port}/tap")
    with serve_app(build_app(settings), sock=sock, lifespan="on") as url:  # type: ignore[arg-type]
        yield url + "/tap"


@contextlib.contextmanager
def run_federation(demo: DemoData, data_dir: Path) -> Iterator[Federation]:
    """Every demo backend on loopback ports."""
    with (
        serve_app(create_hsc_app(demo)) as hsc,
        serve_app(create_sia_app(demo)) as sia,
        serve_app(create_spectral_app(demo)) as spec,
        serve_rsp(demo, data_dir) as rsp,
    ):
        yield Federation(hsc + BASE_PATH, sia + "/query", spec + "/spec", rsp)


def dead_url() -> str:
    """A loopback URL where nothing listens (connections are refused at once)."""
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


FEDERATED_FILES = {"rsp_sia.obscore": "ivoa.ObsCore"}
"""Federated tables whose rows come from a demo file of another name (SIA serves ObsCore)."""


def reference_engine(demo: DemoData) -> LocalEngine:
    """One local engine over every demo Parquet file, under the federated names.

    The answer key of the differential tests: the same ADQL run here, without any backend.
    """
    engine = LocalEngine()
    files = demo.tables()
    for name, path in files.items():
        engine.add_file(name, path)
    for name, source in FEDERATED_FILES.items():
        engine.add_file(name, files[source])
    return engine


_METADATA_SUFFIXES = ("/tables", "/capabilities", "/availability", "/metadata")


class SwitchableBackend:
    """An ASGI app: a healthy backend until :attr:`fault` names a fault server route.

    While a fault is set, every request except metadata (VOSI ``/tables``, ``/capabilities``,
    ``/availability``, HSC ``/metadata``) is answered by
    :class:`tests.gateway.fault_server.FaultServer` at route ``fault`` with ``params``, whatever
    path the gateway asked for. Lifespan events go to the healthy app.
    """

    def __init__(self, healthy: Any) -> None:
        self.healthy = healthy
        self.faults = FaultServer()
        self.fault: str | None = None
        self.params: dict[str, str] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Dispatch to the healthy app or the fault route."""
        fault = self.fault
        if scope["type"] != "http" or fault is None or scope["path"].endswith(_METADATA_SUFFIXES):
            await self.healthy(scope, receive, send)
            return
        query = urllib.parse.urlencode(self.params).encode()
        path = "/" + fault
        scope = {**scope, "path": path, "raw_path": path.encode(), "query_string": query}
        await self.faults(scope, receive, send)


@contextlib.contextmanager
def serve_switchable(kind: str, demo: DemoData, data_dir: Path) -> Iterator[tuple[str, Any]]:
    """Serve one backend of ``kind`` behind a :class:`SwitchableBackend`; (URL, the switch).

    The URL is the backend URL the gateway configuration takes.
    """
    sock = reserve_port()
    port = sock.getsockname()[1]
    healthy: Any
    if kind == "hsc":
        healthy, suffix = create_hsc_app(demo), BASE_PATH
    elif kind == "tap":
        healthy = build_app(rsp_settings(demo, data_dir, f"http://127.0.0.1:{port}/tap"))
        suffix = "/tap"
    elif kind == "sia":
        healthy, suffix = create_sia_app(demo), "/query"
    elif kind == "spectral":
        healthy, suffix = create_spectral_app(demo), "/spec"
    else:
        raise ValueError(kind)
    switch = SwitchableBackend(healthy)
    with serve_app(switch, sock=sock, lifespan="on") as url:
        yield url + suffix, switch


@contextlib.contextmanager
def serve_demo_gateway(demo: DemoData, work: Path) -> Iterator[DemoPorts]:
    """The demo federation in this process, configured by the demo's own configuration files.

    The same stand-ins, ``rsp`` instance (with the shipped column metadata) and federating
    gateway as ``adql-gateway demo`` starts, each under uvicorn on its loopback port; yields
    the ports (``tap_url`` is the federating gateway).
    """
    socks = {name: reserve_port() for name in ("main", "hsc", "sia", "spectral", "rsp")}
    ports = DemoPorts(**{name: sock.getsockname()[1] for name, sock in socks.items()})
    rsp = load_settings(write_config(work / "rsp.toml", rsp_config(demo, ports.rsp, work)))
    main = load_settings(write_config(work / "federation.toml", federation_config(ports, work)))
    with (
        serve_app(create_hsc_app(demo), sock=socks["hsc"]),
        serve_app(create_sia_app(demo), sock=socks["sia"]),
        serve_app(create_spectral_app(demo), sock=socks["spectral"]),
        serve_app(build_app(rsp), sock=socks["rsp"], lifespan="on"),
        serve_app(build_app(main), sock=socks["main"], lifespan="on"),
    ):
        yield ports
