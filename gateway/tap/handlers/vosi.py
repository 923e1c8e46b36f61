"""VOSI resources and examples: ``/capabilities``, ``/availability``, ``/tables``, ``/examples``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.federation.backend_health import availability as backend_availability
from gateway.kinds.registry import kind_for
from gateway.table_meta import SchemaMeta
from gateway.tap.examples import examples_xhtml
from gateway.tap.handlers.common import XML, ResourceNotFoundError, gateway_state
from gateway.tap.params import ParamBag, TapUsageError
from gateway.tap.vosi import availability_xml, capabilities_xml, table_xml, tableset_xml

router = APIRouter()


class TableNotFoundError(ResourceNotFoundError):
    """``/tables/{name}`` names no table (HTTP 404)."""


@router.get("/capabilities", summary="VOSI capabilities with TAPRegExt")
async def capabilities(request: Request) -> Response:
    state = gateway_state(request)
    body = capabilities_xml(state.base_url, state.limits, examples=bool(state.service.examples()))
    return Response(body, media_type=XML)


@router.get("/availability", summary="VOSI availability, with a note per backend that is down")
async def availability(request: Request) -> Response:
    state = gateway_state(request)
    backends = state.settings.backends
    health = await state.health.check(backends)
    available, notes = backend_availability(
        health, has_local=not backends or any(not kind_for(b.kind).remote for b in backends)
    )
    return Response(availability_xml(available, notes, state.started), media_type=XML)


@router.get("/tables", summary="VOSI tables (detail=min|max; tables=a.b,c.d selects tables)")
async def tables(request: Request) -> Response:
    state = gateway_state(request)
    bag = ParamBag(request.query_params.multi_items())
    detail = (bag.one("DETAIL") or "max").lower()
    if detail not in {"min", "max"}:
        raise TapUsageError(f"detail must be min or max, not {detail!r}")
    # astroquery's TapPlus asks for names only with ESA's only_tables=true.
    names_only = detail == "min" or (bag.one("ONLY_TABLES") or "").lower() == "true"
    level: Literal["min", "max"] = "min" if names_only else "max"
    schemas = state.service.schemas()
    wanted = bag.one("TABLES")
    if wanted is not None:
        schemas = _select_tables(schemas, wanted)
    tap_plus = wanted is not None or _is_tap_plus(request, bag)
    return Response(tableset_xml(schemas, level, tap_plus=tap_plus), media_type=XML)


def _is_tap_plus(request: Request, bag: ParamBag) -> bool:
    """Whether the client reads ESA's TAP+ dialect of VOSI tables (see gateway.tap.vosi).

    astroquery's TapPlus fetches metadata with bare ``http.client`` requests: no User-Agent
    (every browser, STILTS, pyvo, curl and httpx send one), or with TAP+ parameters.
    """
    return "user-agent" not in request.headers or bag.one("ONLY_TABLES") is not None


def _select_tables(schemas: Sequence[SchemaMeta], wanted: str) -> list[SchemaMeta]:
    """Only the tables named in ``wanted`` (comma-separated, any case), in their schemas.

    ESA's TAP+ extension: astroquery's ``TapPlus.load_table`` reads the first table of
    ``/tables?tables=schema.table``. A name that matches nothing is a 404.
    """
    names = {name.strip().lower() for name in wanted.split(",") if name.strip()}
    selected: list[SchemaMeta] = []
    found: set[str] = set()
    for schema in schemas:
        kept = tuple(t for t in schema.tables if t.table_name.lower() in names)
        found.update(t.table_name.lower() for t in kept)
        if kept:
            selected.append(replace(schema, tables=kept))
    missing = sorted(names - found)
    if missing:
        raise TableNotFoundError(f"no table {', '.join(map(repr, missing))}")
    return selected


@router.get("/tables/{table_name}", summary="VOSI table: one table in full detail")
async def one_table(table_name: str, request: Request) -> Response:
    state = gateway_state(request)
    wanted = table_name.lower()
    for schema in state.service.schemas():
        for table in schema.tables:
            if table.table_name.lower() == wanted:
                body = table_xml(table, tap_plus=_is_tap_plus(request, ParamBag()))
                return Response(body, media_type=XML)
    raise TableNotFoundError(f"no table {table_name!r}")


@router.get("/examples", summary="DALI examples that run against the configured tables")
async def examples(request: Request) -> Response:
    state = gateway_state(request)
    body = examples_xhtml(state.settings.service_title, state.service.examples())
    return Response(body, media_type="application/xhtml+xml")
