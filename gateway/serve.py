"""Running the TAP service under uvicorn (``adql-gateway serve``)."""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.local_service import LocalQueryService
from gateway.settings import GatewaySettings, load_settings


def build_app(settings: GatewaySettings) -> FastAPI:
    """The app serving the configured backends.

    All-local configurations are served by :class:`LocalQueryService`; as soon as one backend
    is remote, the federated service answers (it serves local tables too).
    """
    if all(b.kind == "local" for b in settings.backends):
        return create_app(settings, LocalQueryService)
    from gateway.federated_service import FederatedQueryService  # noqa: PLC0415

    return create_app(settings, FederatedQueryService)


def serve(config: Path | None, host: str, port: int) -> None:
    """Load the settings and serve until interrupted."""
    overrides: dict[str, str] = {}
    settings = load_settings(config)
    if settings.base_url == "http://127.0.0.1:8000/tap" and (host, port) != ("127.0.0.1", 8000):
        overrides["base_url"] = f"http://{host}:{port}/tap"
    if overrides:
        settings = settings.model_copy(update=overrides)
    uvicorn.run(build_app(settings), host=host, port=port, log_level="warning")
