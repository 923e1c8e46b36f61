"""``/sync``: run an ADQL query and stream the result in the response (GET or POST)."""

from __future__ import annotations

import asyncio
import contextlib
import functools

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

import grammar
from gateway.errors import ResourceLimitError, describe_fault
from gateway.query.cancellation import Cancellation, in_worker_thread
from gateway.query.fault_location import faults_located, located
from gateway.query.log import QueryLog
from gateway.query.options import RunOptions
from gateway.query.service import QueryResult
from gateway.tap.handlers.common import GatewayState, gateway_state, with_cleanup
from gateway.tap.handlers.routes import get_and_post
from gateway.tap.params import TapQueryParams, query_params
from gateway.tap.request_params import RequestParams, read_request_params
from gateway.tap.responses import render_result
from gateway.tap.stream_guard import prefetched
from gateway.tap.uploads import load_uploads

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
    # Parsing a long query takes a while (0.6 MB of ADQL: about a second): not on the loop.
    query = await anyio.to_thread.run_sync(grammar.parse, tap.query)
    # Passed on only to backends configured with forward_authorization (never logged).
    authorization = request.headers.get("authorization")
    uploads = await anyio.to_thread.run_sync(
        load_uploads, tap.uploads, params.files, state.upload_policy
    )
    # A sync query may not run longer than sync_timeout: the deadline cancels the fetches in
    # flight or interrupts the engine, whether it is still computing or already streaming.
    cancellation = Cancellation()
    loop = asyncio.get_running_loop()
    expires = loop.time() + state.settings.sync_timeout
    deadline = loop.call_at(expires, cancellation.cancel)
    watcher = asyncio.ensure_future(_cancel_when_gone(request, cancellation))
    options = RunOptions(
        tap.partial,
        tap.allow_allsky,
        tap.run_id,
        authorization=authorization,
        fetch_whole=tap.fetch_whole,
        progress=record.progress(),
    )
    result: QueryResult | None = None
    try:
        with faults_located(query):
            result = await state.service.run(
                query, uploads=uploads, maxrec=tap.maxrec, cancellation=cancellation,
                options=options,
            )  # fmt: skip
            # The first batch is read before the response starts: a fault found while
            # producing it is answered with its own status and a DALI error document.
            result = record.counted(await in_worker_thread(cancellation, prefetched, result))
        media_type, chunks = render_result(
            result,
            tap.response_format,
            query_text=tap.query,
            links=state.datalink_routes,
            error_text=lambda exc: describe_fault(located(exc, query)),
        )
    except Exception as exc:
        watcher.cancel()
        _abandon(deadline, result)
        if cancellation.cancelled and loop.time() >= expires:
            raise _past_deadline(state.settings.sync_timeout) from exc
        raise
    except BaseException:
        watcher.cancel()
        _abandon(deadline, result)
        raise
    # The watcher goes on while the response streams: rows streamed from a backend may hold
    # the worker thread reading the next batch until the backend sends more, and only
    # cancelling the query frees it (the response's own disconnect check waits for it).
    stop_watching = functools.partial(_cancel_on, loop, watcher)
    return StreamingResponse(
        with_cleanup(chunks, on_close=(deadline.cancel, cancellation.cancel, stop_watching)),
        media_type=media_type,
    )


def _cancel_on(loop: asyncio.AbstractEventLoop, task: asyncio.Future[None]) -> None:
    """Cancel ``task`` from any thread; a loop already closed has nothing left to cancel."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(task.cancel)


def _abandon(deadline: asyncio.TimerHandle, result: QueryResult | None) -> None:
    """No response will read ``result``: stop the deadline, release the query's engine."""
    deadline.cancel()
    if result is not None:
        result.close()


def _past_deadline(seconds: int) -> ResourceLimitError:
    """What a client is told when its sync query was stopped at the deadline."""
    return ResourceLimitError(
        f"the query ran past the {seconds} s limit of synchronous queries and was stopped; "
        "run it as an asynchronous job (/async) instead"
    )


async def _cancel_when_gone(request: Request, cancellation: Cancellation) -> None:
    """Cancel the query when the client disconnects before its response starts."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancellation.cancel()
            return
