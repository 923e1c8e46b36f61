"""``/datalink/links`` (DataLink 1.1 ``{links}``) and ``/datalink/spectrum`` of federated data."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import BackendError
from gateway.tap.datalink import BACKEND_PARAM, DatalinkRoutes
from gateway.tap.datalink_links import (
    DATALINK_MIME,
    LinkGroups,
    LinksUsageError,
    SpectrumRequest,
    fetch_spectrum,
    forward_links,
    spectral_links,
    unowned_links,
)
from gateway.tap.handlers.common import GatewayState, gateway_state
from gateway.tap.handlers.routes import get_and_post
from gateway.tap.params import ParamBag, parse_flag
from gateway.tap.request_params import read_request_params

router = APIRouter()

MAX_IDS = 1000
"""IDs per request; pyvo asks in batches far smaller."""

MAX_BODY_BYTES = 1_000_000
"""Largest form field: a POSTed ID list (starlette counts urlencoded fields too)."""


async def _ids(request: Request) -> tuple[ParamBag, list[str]]:
    params = await read_request_params(request, max_file_bytes=MAX_BODY_BYTES)
    ids = params.bag.all("ID")
    if not ids:
        raise LinksUsageError("UsageError: the ID parameter is required")
    if len(ids) > MAX_IDS:
        raise LinksUsageError(f"UsageError: at most {MAX_IDS} IDs per request")
    return params.bag, ids


async def _from_backend(
    backend: str, url: str, call: Awaitable[tuple[int, bytes, str]]
) -> Response:
    """The backend's answer as it is; an unreachable backend is a 503 naming it."""
    try:
        status, body, media_type = await call
    except httpx.HTTPError as exc:
        cause = str(exc) or type(exc).__name__
        raise BackendError(backend, url, cause, transient=True) from exc
    return Response(body, status_code=status, media_type=media_type)


def _timeout(state: GatewayState, backend: str) -> float:
    return next(b.timeout_seconds for b in state.settings.backends if b.name == backend)


@get_and_post(
    router,
    "/datalink/links",
    name="datalink_links",
    summary="DataLink 1.1 {links} of datasets in federated results (ID repeatable)",
)
async def datalink_links(request: Request) -> Response:
    state = gateway_state(request)
    bag, ids = await _ids(request)
    routes = state.datalink_routes
    groups = _group(routes, ids, bag.one(BACKEND_PARAM))
    owners = groups.owners()
    if len(owners) > 1:
        msg = (
            f"UsageError: these IDs belong to several services ({', '.join(owners)}); "
            "ask for each service's IDs in a separate request"
        )
        raise LinksUsageError(msg)
    for route, chosen in groups.forward.items():
        call = forward_links(route, chosen, _timeout(state, route.backend))
        return await _from_backend(route.backend, route.url, call)
    spectrum_url = routes.links_url.removesuffix("/links") + "/spectrum"
    for spectral, chosen in groups.spectral.items():
        document = spectral_links(spectral, spectrum_url, chosen, groups.unowned)
        return Response(document, media_type=DATALINK_MIME)
    return Response(unowned_links(groups.unowned), media_type=DATALINK_MIME)


@get_and_post(
    router,
    "/datalink/spectrum",
    name="datalink_spectrum",
    summary="Spectra by specobjid from a spectral backend (ID, BACKEND, CUTOUT, ALIGN, FORMAT)",
)
async def datalink_spectrum(request: Request) -> Response:
    state = gateway_state(request)
    bag, ids = await _ids(request)
    route = state.datalink_routes.spectral_backend(bag.one(BACKEND_PARAM))
    if route is None:
        raise LinksUsageError(_no_spectral(state.datalink_routes, bag.one(BACKEND_PARAM)))
    fmt = (bag.one("FORMAT") or "fits").strip().lower()
    if fmt not in {"fits", "application/fits", "numpy", "application/x-npy"}:
        raise LinksUsageError(f"UsageError: FORMAT must be fits or numpy, not {fmt!r}")
    wanted = SpectrumRequest(
        tuple(ids),
        cutout=(bag.one("CUTOUT") or "").strip() or None,
        align=parse_flag(bag, "ALIGN"),
        numpy=fmt in {"numpy", "application/x-npy"},
    )
    call = fetch_spectrum(route, wanted, _timeout(state, route.backend))
    return await _from_backend(route.backend, route.url, call)


def _no_spectral(routes: DatalinkRoutes, backend: str | None) -> str:
    known = ", ".join(r.backend for r in routes.spectral) or "none"
    if backend is None:
        return f"UsageError: name the spectral backend with {BACKEND_PARAM} ({known})"
    return f"UsageError: {BACKEND_PARAM}={backend!r} is not a spectral backend ({known})"


def _group(routes: DatalinkRoutes, ids: list[str], backend: str | None) -> LinkGroups:
    groups = LinkGroups()
    if backend is not None:
        spectral = routes.spectral_backend(backend)
        if spectral is None:
            raise LinksUsageError(_no_spectral(routes, backend))
        groups.spectral[spectral] = list(ids)
        return groups
    only_spectral = routes.spectral_backend(None)
    for dataset_id in ids:
        owner = routes.owner(dataset_id)
        if owner is not None:
            groups.forward.setdefault(owner, []).append(dataset_id)
        elif only_spectral is not None and dataset_id.strip().lstrip("+-").isdigit():
            groups.spectral.setdefault(only_spectral, []).append(dataset_id)
        else:
            groups.unowned.append(dataset_id)
    return groups
