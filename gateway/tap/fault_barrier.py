"""The last line of defence: no exception leaves the application as a bare HTTP 500.

Starlette's own last handler answers ``500 Internal Server Error`` in plain text and then
re-raises, and uvicorn, seeing an exception after a response started, closes the kept-alive
connection: the client's next request on it fails with a reset. This middleware sits inside
Starlette's and turns any exception raised before the response started into the DALI error
document :func:`gateway.errors.classify` chooses (a DuckDB fault is a 400 with its message,
only unknown failures are 500), so the exchange completes and the connection stays usable.

An exception after the first byte of the body cannot be answered any more; it is re-raised
and the connection is closed, which is the only way to tell the client the body is cut.
Result streams avoid that case: :mod:`gateway.tap.stream_guard` reads the first batch before
the response starts and ends a VOTable with a ``QUERY_STATUS=ERROR`` trailer on later faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.tap.handlers.uws import fault_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FaultBarrier:
    """ASGI middleware: exceptions before the response start become DALI error documents."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer its escaping exception if nothing was sent yet."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await fault_response(exc)(scope, receive, send)
