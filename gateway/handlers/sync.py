"""``/sync``: run an ADQL query and stream the result in the response (GET or POST)."""

from __future__ import annotations

import threading

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

import grammar
from gateway.cancellation import Cancellation
from gateway.errors import describe_fault
from gateway.fault_location import faults_located, located
from gateway.handlers.common import GatewayState, gateway_state, with_cleanup
from gateway.handlers.routes import get_and_post
from gateway.query_log import QueryLog
from gateway.request_params import RequestParams, read_request_params
from gateway.responses import render_result
from gateway.run_options import RunOptions, run_query
from gateway.stream_guard import PrefetchedResult
from gateway.tap_params import TapQueryParams, query_params
from gateway.uploads import load_uploads

router = APIRouter()


@get_and_post(
    router,
    "/sync",
    name="sync",
    summary="Run an ADQL query synchronously (TAP 1.1 §2.1)",
    response_class=StreamingResponse,
)
async def sync_query(request: Request) -> Response:
    state = gateway_state(request)
    params = await read_request_params(request, max_file_bytes=state.settings.upload_max_bytes)
    tap = query_params(
        params.bag,
        maxrec_default=state.settings.maxrec_default,
        maxrec_hard=state.settings.maxrec_hard,
    )
    record = QueryLog("sync", None, tap.run_id)
    try:
        return await _answer(request, state, params, tap, record)
    except Exception as exc:
        record.failed(exc)
        raise
    except BaseException:
        record.abandoned()  # the client went away while the query ran
        raise


async def _answer(
    request: Request,
    state: GatewayState,
    params: RequestParams,
    tap: TapQueryParams,
    record: QueryLog,
) -> Response:
    """Run the query; the response streams its rows, counted by ``record``."""
    query = grammar.parse(tap.query)
    # Passed on only to backends configured with forward_authorization (never logged).
    authorization = request.headers.get("authorization")
    uploads = await anyio.to_thread.run_sync(
        load_uploads, tap.uploads, params.files, state.upload_policy
    )
    # A sync query may not run longer than sync_timeout: the timer interrupts the engine,
    # whether it is still computing or already streaming.
    cancellation = Cancellation()
    deadline = threading.Timer(state.settings.sync_timeout, cancellation.cancel)
    deadline.daemon = True
    deadline.start()

    def run() -> PrefetchedResult:
        # The first batch is read before the response starts: a fault found while producing
        # it is answered with its own status and a DALI error document.
        with faults_located(query):
            return PrefetchedResult(
                run_query(
                    state.service,
                    query,
                    uploads=uploads,
                    maxrec=tap.maxrec,
                    cancellation=cancellation,
                    options=RunOptions(
                        tap.partial,
                        tap.allow_allsky,
                        tap.run_id,
                        authorization=authorization,
                        fetch_whole=tap.fetch_whole,
                        progress=record.progress(),
                    ),
                )
            )

    try:
        result = record.counted(await anyio.to_thread.run_sync(run))
        media_type, chunks = render_result(
            result,
            tap.response_format,
            query_text=tap.query,
            links=state.datalink_routes,
            error_text=lambda exc: describe_fault(located(exc, query)),
        )
    except BaseException:
        deadline.cancel()
        raise
    return StreamingResponse(
        with_cleanup(chunks, on_close=(deadline.cancel, cancellation.cancel)),
        media_type=media_type,
    )
