"""VOSI resources and examples: ``/capabilities``, ``/availability``, ``/tables``, ``/examples``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.examples import examples_xhtml
from gateway.handlers.common import XML, ResourceNotFoundError, gateway_state
from gateway.tap_params import ParamBag, TapUsageError
from gateway.vosi import availability_xml, capabilities_xml, table_xml, tableset_xml

router = APIRouter()


class TableNotFoundError(ResourceNotFoundError):
    """``/tables/{name}`` names no table (HTTP 404)."""


@router.get("/capabilities", summary="VOSI capabilities with TAPRegExt")
async def capabilities(request: Request) -> Response:
    state = gateway_state(request)
    body = capabilities_xml(state.base_url, state.limits, examples=bool(state.service.examples()))
    return Response(body, media_type=XML)


@router.get("/availability", summary="VOSI availability")
async def availability(request: Request) -> Response:
    state = gateway_state(request)
    return Response(
        availability_xml(
            available=True, note="service is accepting queries", up_since=state.started
        ),
        media_type=XML,
    )


@router.get("/tables", summary="VOSI tables (detail=min|max)")
async def tables(request: Request) -> Response:
    state = gateway_state(request)
    detail = (ParamBag(request.query_params.multi_items()).one("DETAIL") or "max").lower()
    if detail not in {"min", "max"}:
        raise TapUsageError(f"detail must be min or max, not {detail!r}")
    level: Literal["min", "max"] = "min" if detail == "min" else "max"
    return Response(tableset_xml(state.service.schemas(), level), media_type=XML)


@router.get("/tables/{table_name}", summary="VOSI table: one table in full detail")
async def one_table(table_name: str, request: Request) -> Response:
    state = gateway_state(request)
    wanted = table_name.lower()
    for schema in state.service.schemas():
        for table in schema.tables:
            if table.table_name.lower() == wanted:
                return Response(table_xml(table), media_type=XML)
    raise TableNotFoundError(f"no table {table_name!r}")


@router.get("/examples", summary="DALI examples that run against the configured tables")
async def examples(request: Request) -> Response:
    state = gateway_state(request)
    body = examples_xhtml(state.settings.service_title, state.service.examples())
    return Response(body, media_type="application/xhtml+xml")
