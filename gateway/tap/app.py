"""The FastAPI application factory: TAP 1.1 routes under the configured base path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.jobs.execute import JobExecutor
from gateway.jobs.queue import ArqQueue, InProcessQueue, JobQueue
from gateway.jobs.reaper import reap_expired, reap_stale
from gateway.jobs.store import SqlJobStore
from gateway.jobs.work import make_job_work
from gateway.jobs.worker import job_database_url, result_store_for
from gateway.query.service import QueryService
from gateway.settings import GatewaySettings
from gateway.tap.fault_barrier import FaultBarrier
from gateway.tap.handlers import datalink, sync, translate, uws, vosi
from gateway.tap.handlers.common import GatewayState
from gateway.tap.handlers.web import mount_web
from gateway.tap.identity import identity_provider
from gateway.tap.vosi import ServiceLimits

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 60.0
"""Seconds between sweeps that destroy jobs past their destruction time."""


def service_limits(settings: GatewaySettings) -> ServiceLimits:
    """The limits advertised in /capabilities, straight from the settings."""
    return ServiceLimits(
        max_rec_default=settings.maxrec_default,
        max_rec_hard=settings.maxrec_hard,
        upload_rows=settings.upload_max_rows,
        upload_bytes=settings.upload_max_bytes,
        execution_duration_default=settings.execution_duration_default,
        execution_duration_hard=settings.execution_duration_hard,
        retention_default=settings.retention_default,
        retention_hard=settings.retention_hard,
        max_concurrent_jobs=settings.max_concurrent_jobs,
    )


async def _reap(state: GatewayState) -> None:
    """Retry or fail jobs whose executor died; destroy expired jobs.

    Errors (a database that is down for a while) are logged; the sweep goes on next turn.
    """
    stale_after = timedelta(seconds=state.settings.job_stale_after)
    interval = max(0.5, min(10.0, state.settings.job_stale_after / 3))
    last_expiry = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        now = datetime.now(UTC)
        try:
            await reap_stale(state.jobs, state.queue, now, stale_after)
            if loop.time() - last_expiry >= EXPIRY_INTERVAL:
                last_expiry = loop.time()
                await reap_expired(state.jobs, state.results, now)
        except ConnectionError as exc:
            log.warning("job housekeeping skipped: %s", exc)


def create_app(
    settings: GatewaySettings, service_factory: Callable[[GatewaySettings], QueryService]
) -> FastAPI:
    """Build the TAP service; ``service_factory`` builds the query service at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Building reads every backend's metadata (blocking: not on the loop); the service's
        # HTTP client then joins this loop, which runs every query of the process.
        service = await anyio.to_thread.run_sync(service_factory, settings)
        await service.start()
        store = await SqlJobStore.open(job_database_url(settings))
        results = result_store_for(settings)
        queue: JobQueue
        if settings.redis_url:
            queue = ArqQueue(settings.redis_url, settings.queue_name)
        else:
            if not settings.job_database_url:
                # Embedded default: this process ran every job the database says is running.
                recovered = await store.recover_after_restart()
                if recovered:
                    log.warning(
                        "%d job(s) were running at the last shutdown; now ERROR", len(recovered)
                    )
            body = make_job_work(settings, service, results)
            queue = InProcessQueue(JobExecutor(store, body), settings.max_concurrent_jobs)
        http = httpx.AsyncClient(timeout=10)
        identity = identity_provider(
            settings.identity,
            tokens=settings.identity_tokens,
            introspection_url=settings.identity_introspection_url,
            header=settings.identity_header,
            client=http,
        )
        state = GatewayState(
            settings=settings,
            service=service,
            jobs=store,
            results=results,
            queue=queue,
            identity=identity,
            limits=service_limits(settings),
            started=datetime.now(UTC),
        )
        app.state.gateway = state
        reaper = asyncio.create_task(_reap(state))
        try:
            yield
        finally:
            reaper.cancel()
            await queue.close()
            await store.close()
            await http.aclose()
            await service.aclose()

    app = FastAPI(title=settings.service_title, lifespan=lifespan, docs_url=None, redoc_url=None)
    prefix = settings.base_path
    app.include_router(sync.router, prefix=prefix)
    app.include_router(uws.router, prefix=prefix)
    app.include_router(vosi.router, prefix=prefix)
    app.include_router(translate.router, prefix=prefix)
    app.include_router(datalink.router, prefix=prefix)

    async def _fault(request: Request, exc: Exception) -> Response:
        del request
        return uws.fault_response(exc)

    # Expected failures become DALI error documents.
    for error_class in (ValueError, LookupError, RuntimeError, OSError):
        app.add_exception_handler(error_class, _fault)
    # Anything else (a DuckDB fault, a bug) too, without closing the kept-alive connection.
    app.add_middleware(FaultBarrier)

    # The query page at the base path (and redirects to it from "/" and the bare base path).
    mount_web(app, prefix)

    return app
