"""Running the TAP service under uvicorn (``adql-gateway serve``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
import uvicorn
from fastapi import FastAPI

from gateway.engine.service import LocalQueryService
from gateway.federation.service import FederatedQueryService
from gateway.jobs.execute import JobBody
from gateway.jobs.results import ResultStore
from gateway.jobs.work import make_job_work
from gateway.jobs.worker import run_worker
from gateway.kinds.registry import kind_for
from gateway.log_setup import DEFAULT_LEVEL, configure_logging, uvicorn_log_level
from gateway.query.service import QueryService
from gateway.settings import GatewaySettings, load_settings
from gateway.tap.app import create_app


def query_service_factory(settings: GatewaySettings) -> Callable[[GatewaySettings], QueryService]:
    """What answers queries for the configured backends.

    All-local configurations are served by :class:`LocalQueryService`; as soon as one backend
    is remote, the federated service answers (it serves local tables too).
    """
    if not any(kind_for(b.kind).remote for b in settings.backends):
        return LocalQueryService
    return FederatedQueryService


def build_app(settings: GatewaySettings) -> FastAPI:
    """The app serving the configured backends."""
    return create_app(settings, query_service_factory(settings))


def run_worker_for(config: Path | None, log_level: str = DEFAULT_LEVEL) -> None:
    """Load the settings and run an arq worker for their queue until stopped."""
    configure_logging(log_level)
    settings = load_settings(config)
    factory = query_service_factory(settings)

    async def make_body(
        s: GatewaySettings, results: ResultStore
    ) -> tuple[JobBody, Callable[[], Awaitable[None]]]:
        # Building reads every backend's metadata (blocking); the executor joins this loop.
        service = await anyio.to_thread.run_sync(factory, s)
        await service.start()
        return make_job_work(s, service, results), service.aclose

    run_worker(settings, make_body)


def serve(config: Path | None, host: str, port: int, log_level: str = DEFAULT_LEVEL) -> None:
    """Load the settings and serve until interrupted, logging at ``log_level``."""
    configure_logging(log_level)
    overrides: dict[str, str] = {}
    settings = load_settings(config)
    if settings.base_url == "http://127.0.0.1:8000/tap" and (host, port) != ("127.0.0.1", 8000):
        overrides["base_url"] = f"http://{host}:{port}/tap"
    if overrides:
        settings = settings.model_copy(update=overrides)
    uvicorn.run(
        build_app(settings),
        host=host,
        port=port,
        log_level=uvicorn_log_level(log_level),
        # Longer than clients keep idle connections (httpx: 5 s), so a client never sends on a
        # connection the server is closing at that very moment (seen as dropped requests).
        timeout_keep_alive=30,
    )
