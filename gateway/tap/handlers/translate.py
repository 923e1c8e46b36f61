"""Gateway extensions ``/translate`` and ``/explain``: the plan of a query, as JSON.

Both take ``QUERY`` (GET or POST, parameter names case-insensitive). ``/translate`` answers
the JSON of ``adql-gateway translate --config`` (``fragments`` and ``local_sql``, the DuckDB
SQL the local engine runs, or null); ``/explain`` adds ``plan``, the text tree of
``adql-gateway explain``. Nothing is fetched from any backend.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

import grammar
from gateway.federation.explain import explain_json
from gateway.federation.plan_sql import local_service_sql, plan_json
from gateway.federation.planner import Plan
from gateway.federation.service import FederatedQueryService
from gateway.query.options import RunOptions
from gateway.query.typecheck import catalogue_tables, check_types
from gateway.tap.handlers.common import gateway_state
from gateway.tap.handlers.routes import get_and_post
from gateway.tap.params import TapUsageError
from gateway.tap.request_params import read_request_params

router = APIRouter()


async def _plan(request: Request) -> tuple[Plan | None, dict[str, object]]:
    """The plan (None for a service of local tables only) and the ``translate`` JSON."""
    state = gateway_state(request)
    params = await read_request_params(request, max_file_bytes=state.settings.upload_max_bytes)
    text = params.bag.one("QUERY")
    if text is None or not text.strip():
        raise TapUsageError("missing parameter QUERY")
    query = grammar.parse(text)
    service = state.service
    # A query that would fail at bind time when run is refused here too, with its position.
    check_types(query, catalogue_tables(service.schemas()))
    if not isinstance(service, FederatedQueryService):
        schemas = service.schemas()
        sql = await anyio.to_thread.run_sync(lambda: local_service_sql(query, schemas))
        return None, {"fragments": [], "local_sql": sql}
    # Nothing is fetched here: plan as if the client opted in to whole fetches, and let the
    # EXPLAIN text say which fetch a run would refuse.
    opt_in = RunOptions(fetch_whole=True)
    plan = await anyio.to_thread.run_sync(lambda: service.plan(query, options=opt_in))
    return plan, plan_json(plan, service.catalog)


@get_and_post(
    router,
    "/translate",
    name="translate",
    summary="The backend requests and local query of an ADQL query (gateway extension)",
)
async def translate_query(request: Request) -> Response:
    _, translated = await _plan(request)
    return JSONResponse(translated)


@get_and_post(
    router,
    "/explain",
    name="explain",
    summary="The federated plan of an ADQL query, as text and JSON (gateway extension)",
)
async def explain_query(request: Request) -> Response:
    plan, translated = await _plan(request)
    if plan is None:
        text = (
            f"Plan: Local: every table is served by the gateway's engine\n{translated['local_sql']}"
        )
        return JSONResponse({"plan": text, **translated})
    service = gateway_state(request).service
    options = service.options if isinstance(service, FederatedQueryService) else None
    return JSONResponse({**explain_json(plan, options=options), **translated})
