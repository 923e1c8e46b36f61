"""Whether each remote backend answers now, for VOSI ``/availability``.

A backend is *up* when its base URL gives any HTTP answer below 500 within a short deadline
(a 404 at the base of an HSC or SIA service is still a live server); a refused connection, a
timeout or a 5xx makes it *down*. Probes run concurrently and their findings are reused for a
few seconds, so monitors polling ``/availability`` do not turn into load on the backends.

What ``/availability`` makes of it is :func:`availability`: the gateway is available while it
can answer some query, that is while it has local tables or at least one remote backend is up;
every backend that is down gets a ``note`` naming it, its URL and the cause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from gateway.errors import without_urls
from gateway.kinds.registry import kind_for
from gateway.settings import BackendConfig

__all__ = ["BackendHealth", "HealthProbe", "availability"]

PROBE_TIMEOUT = 3.0
"""Seconds a backend has to answer a probe."""
PROBE_TTL = 5.0
"""Seconds a probe's finding is reused."""


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """One backend's state at the last probe; ``cause`` says why it is down."""

    name: str
    url: str
    up: bool
    cause: str = ""


@dataclass
class HealthProbe:
    """Probes remote backends, remembering the findings for ``ttl`` seconds."""

    timeout: float = PROBE_TIMEOUT
    ttl: float = PROBE_TTL
    _found: tuple[BackendHealth, ...] = ()
    _at: float = field(default=float("-inf"))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def check(self, backends: Sequence[BackendConfig]) -> tuple[BackendHealth, ...]:
        """The health of every backend with a URL (``local`` ones have none to probe)."""
        async with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._found
            remote = [b for b in backends if kind_for(b.kind).remote and b.url]
            async with httpx.AsyncClient(
                timeout=self.timeout, trust_env=False, follow_redirects=False
            ) as client:
                self._found = tuple(await asyncio.gather(*(_probe(client, b) for b in remote)))
            self._at = time.monotonic()
            return self._found


async def _probe(client: httpx.AsyncClient, backend: BackendConfig) -> BackendHealth:
    url = backend.url or ""
    try:
        # httpx replaces a URL's own query with any params given, even none: pass only some.
        params = kind_for(backend.kind).health_params(backend) or None
        response = await client.get(
            url, params=params, headers={"User-Agent": "adql-gateway availability"}
        )
    except httpx.TimeoutException:
        cause = f"no answer within {client.timeout.read} s"
        return BackendHealth(backend.name, url, up=False, cause=cause)
    except httpx.HTTPError as exc:
        return BackendHealth(backend.name, url, up=False, cause=f"cannot connect ({exc})")
    if response.status_code >= 500:
        return BackendHealth(backend.name, url, up=False, cause=f"HTTP {response.status_code}")
    return BackendHealth(backend.name, url, up=True)


def availability(
    health: Sequence[BackendHealth], *, has_local: bool
) -> tuple[bool, tuple[str, ...]]:
    """``(available, notes)`` for the VOSI availability document."""
    down = [h for h in health if not h.up]
    available = has_local or len(down) < len(health) or not health
    if not available:
        lead = "no backend answers: every query would fail"
    elif down:
        lead = (
            "accepting queries; those that need a backend that is down fail, or with "
            "PARTIAL=true answer without its rows"
        )
    else:
        lead = "accepting queries; every backend answers"
    # Named, never located: backend URLs are internal (they go to the log only).
    notes = [f"backend '{h.name}' is down: {without_urls(h.cause)}" for h in down]
    return available, (lead, *notes)
