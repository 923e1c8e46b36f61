"""Shared handler plumbing: the per-app state object and small response helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from gateway.federation.backend_health import HealthProbe
from gateway.jobs.queue import JobQueue
from gateway.jobs.results import ResultStore
from gateway.jobs.store import SqlJobStore
from gateway.query.service import QueryService
from gateway.settings import GatewaySettings
from gateway.tap.datalink import DatalinkRoutes
from gateway.tap.identity import IdentityProvider
from gateway.tap.uploads import UploadPolicy
from gateway.tap.vosi import ServiceLimits

XML = "text/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


class ResourceNotFoundError(LookupError):
    """The request names a resource that does not exist (HTTP 404): a job, a table, ..."""


@dataclass(slots=True)
class GatewayState:
    """Everything a request handler may use; created in the app's lifespan."""

    settings: GatewaySettings
    service: QueryService
    jobs: SqlJobStore
    results: ResultStore
    queue: JobQueue
    identity: IdentityProvider
    limits: ServiceLimits
    started: datetime
    health: HealthProbe = field(default_factory=HealthProbe)
    """Which remote backends answer now (``/availability``)."""
    datalink_routes: DatalinkRoutes = field(init=False)
    """Owners of dataset IDs, for DataLink in results and at ``/datalink/links``."""

    def __post_init__(self) -> None:
        # The settings are fixed for the app's life: the routes are built once, not per request.
        self.datalink_routes = DatalinkRoutes.from_settings(self.settings)

    @property
    def upload_policy(self) -> UploadPolicy:
        """Upload limits from the settings."""
        return UploadPolicy(
            max_rows=self.settings.upload_max_rows,
            max_bytes=self.settings.upload_max_bytes,
            url_hosts=tuple(self.settings.upload_url_hosts),
        )

    @property
    def base_url(self) -> str:
        """The public TAP base URL, without a trailing slash."""
        return self.settings.base_url.rstrip("/")


def gateway_state(request: Request) -> GatewayState:
    """The state of the app serving ``request``."""
    state: GatewayState = request.app.state.gateway
    return state


def with_cleanup(
    chunks: Iterator[bytes], on_close: Sequence[Callable[[], None]] = ()
) -> Iterator[bytes]:
    """Pass chunks through; on the end, an error or a client that went away, clean up.

    The source iterator is closed and ``on_close`` callbacks run (stop a deadline timer,
    interrupt a query nobody reads any more).
    """
    try:
        yield from chunks
    finally:
        for callback in on_close:
            callback()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
