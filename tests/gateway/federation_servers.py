"""The demo federation on 127.0.0.1 for the federation tests: stand-ins plus a second gateway.

``rsp`` is a second gateway instance whose only backend is ``local`` (demo ``dp1.Object`` and
``ivoa.ObsCore``); it speaks TAP with TAP_UPLOAD, so it is the federation's TAP backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.serve import build_app
from gateway.settings import BackendConfig, GatewaySettings, LocalTable
from standins.data import DemoData
from standins.hsc import BASE_PATH, create_hsc_app
from standins.sia import create_sia_app
from standins.spectral import create_spectral_app
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

    def backends(self, **overrides: str) -> list[BackendConfig]:
        """The demo federation's backends (``name=url`` overrides a URL)."""
        urls = {"hsc": self.hsc, "rsp": self.rsp, "rsp_sia": self.sia, "spec": self.spec}
        urls.update(overrides)
        return [
            BackendConfig(name="hsc", kind="hsc", url=urls["hsc"], timeout_seconds=30),
            BackendConfig(name="rsp", kind="tap", url=urls["rsp"], timeout_seconds=30),
            BackendConfig(name="rsp_sia", kind="sia", url=urls["rsp_sia"], timeout_seconds=30),
            BackendConfig(
                name="spec", kind="spectral", url=urls["spec"], context="sdss_dr16",
                timeout_seconds=30,
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
