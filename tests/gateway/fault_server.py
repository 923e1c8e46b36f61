"""A small raw-ASGI server that misbehaves on request, for the executor's fault matrix.

Raw ASGI (no framework) because the faults live below what frameworks let an app do: a body
shorter than its Content-Length, a chunked stream that stops mid-document, bytes dripped one
at a time. Every route is bounded in time and size. Routes (query parameters in brackets):

- ``/csv`` [rows] a small CSV table ``id,name``; ``/json`` the same as HSC JSON;
  ``/votable`` as VOTable [overflow=1 adds a trailing QUERY_STATUS=OVERFLOW];
- ``/status`` [code, body, type] any status with a body;
- ``/flaky`` [key, fail, code, retry_after] the first ``fail`` hits of ``key`` answer ``code``,
  later ones the CSV table;
- ``/hang`` [delay] waits before sending anything;  ``/drip`` [interval, count] headers at once,
  then one byte per interval;
- ``/malformed`` [fmt] garbage in the given format; ``/truncated`` a body cut short of its
  Content-Length; ``/votable_cut`` a complete chunked stream holding half a VOTable;
  ``/votable_error`` HTTP 200 with QUERY_STATUS=ERROR;
- ``/slow`` [delay] counts requests in flight (``/stats`` reports the peak; ``/reset``);
- ``/echo`` a one-row CSV of what arrived: Authorization, X-RunId, X-DL-AuthToken, RUNID;
- ``/paged`` [total, page, pagesize, fail_page] an HSC-like paged CSV of ``total`` ids;
- ``/redirect`` a 302 to another host.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NS = "http://www.ivoa.net/xml/VOTable/v1.3"
ROWS = 3


def csv_rows(ids: range) -> bytes:
    return ("id,name\n" + "".join(f"{i},n{i}\n" for i in ids)).encode()


def votable(rows: int, *, overflow: bool = False, status: str = "OK", message: str = "") -> bytes:
    trs = "".join(f"<TR><TD>{i}</TD><TD>n{i}</TD></TR>" for i in range(rows))
    tail = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>' if overflow else ""
    table = (
        '<TABLE><FIELD name="id" datatype="long"/>'
        '<FIELD name="name" datatype="char" arraysize="*"/>'
        f"<DATA><TABLEDATA>{trs}</TABLEDATA></DATA></TABLE>"
    )
    if status == "ERROR":
        table = ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.4" xmlns="{NS}">'
        f'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="{status}">{message}</INFO>'
        f"{table}{tail}</RESOURCE></VOTABLE>\n"
    ).encode()


class FaultServer:
    """The ASGI app; its counters are read over HTTP (``/stats``) by the tests."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.inflight = 0
        self.peak = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch on the path."""
        if scope["type"] != "http":
            return  # lifespan is off in serve_app; nothing else is expected
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        path = scope["path"].strip("/")
        handler = getattr(self, f"_r_{path}", None)
        if handler is None:
            await _reply(send, 404, b"no such route", "text/plain")
            return
        await handler(scope, query, send, receive)

    async def _r_csv(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        await _reply(send, 200, csv_rows(range(int(q.get("rows", ROWS)))), "text/csv")

    async def _r_json(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        info = [{"name": "id", "type": "long"}, {"name": "name", "type": "char"}]
        data = [[i, f"n{i}"] for i in range(int(q.get("rows", ROWS)))]
        await _reply(
            send, 200, json.dumps({"info": info, "data": data}).encode(), "application/json"
        )

    async def _r_votable(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        body = votable(int(q.get("rows", ROWS)), overflow=q.get("overflow") == "1")
        await _reply(send, 200, body, "application/x-votable+xml")

    async def _r_votable_error(
        self, _: Scope, q: dict[str, str], send: Send, receive: Receive
    ) -> None:
        body = votable(0, status="ERROR", message=q.get("message", "Query failed: table gone"))
        await _reply(send, 200, body, "application/x-votable+xml")

    async def _r_status(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        body = q.get("body", "failure").encode()
        await _reply(send, int(q.get("code", "500")), body, q.get("type", "text/plain"))

    async def _r_flaky(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        key = q.get("key", "default")
        self.hits[key] = self.hits.get(key, 0) + 1
        if self.hits[key] <= int(q.get("fail", "1")):
            extra = [(b"retry-after", q["retry_after"].encode())] if "retry_after" in q else []
            await _reply(send, int(q.get("code", "503")), b"busy", "text/plain", extra)
            return
        await _reply(send, 200, csv_rows(range(ROWS)), "text/csv")

    async def _r_hang(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        if await _gone_within(receive, min(float(q.get("delay", "5")), 10.0)):
            return
        await _reply(send, 200, csv_rows(range(ROWS)), "text/csv")

    async def _r_drip(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        body = csv_rows(range(1000))
        await _start(send, 200, "text/csv", [(b"content-length", str(len(body)).encode())])
        interval, count = float(q.get("interval", "0.05")), min(int(q.get("count", "200")), 400)
        for i in range(count):
            await send({"type": "http.response.body", "body": body[i : i + 1], "more_body": True})
            if await _gone_within(receive, interval):
                return
        # The drip is over before the body is: return without completing (connection closes).

    async def _r_malformed(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        fmt = q.get("fmt", "csv")
        bodies = {
            "csv": (b"id,name\n1,a\n2,b,c,d\n3\n", "text/csv"),
            "json": (b'{"info": [{"name": "id"}], "data": [[1], [2', "application/json"),
            "votable": (b"<VOTABLE><RESOURCE><TABLE><FIELD name='a' datatype='int'/>", "text/xml"),
            "npy": (b"\x93NUMPY not really", "application/octet-stream"),
        }
        body, media = bodies[fmt]
        await _reply(send, 200, body, media)

    async def _r_truncated(
        self, _: Scope, __: dict[str, str], send: Send, receive: Receive
    ) -> None:
        body = csv_rows(range(100))
        await _start(send, 200, "text/csv", [(b"content-length", str(len(body)).encode())])
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 3], "more_body": True}
        )
        # Returning here leaves the response incomplete: uvicorn drops the connection.

    async def _r_votable_cut(
        self, _: Scope, __: dict[str, str], send: Send, receive: Receive
    ) -> None:
        body = votable(50)
        await _start(send, 200, "application/x-votable+xml", [])  # chunked
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _r_slow(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            await asyncio.sleep(min(float(q.get("delay", "0.1")), 2.0))
        finally:
            self.inflight -= 1
        await _reply(send, 200, csv_rows(range(ROWS)), "text/csv")

    async def _r_stats(self, _: Scope, __: dict[str, str], send: Send, receive: Receive) -> None:
        stats = {"peak": self.peak, "inflight": self.inflight, "hits": self.hits}
        await _reply(send, 200, json.dumps(stats).encode(), "application/json")

    async def _r_reset(self, _: Scope, __: dict[str, str], send: Send, receive: Receive) -> None:
        self.hits.clear()
        self.peak = self.inflight = 0
        await _reply(send, 200, b"ok", "text/plain")

    async def _r_echo(self, scope: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        values = [
            headers.get("authorization", ""),
            headers.get("x-runid", ""),
            headers.get("x-dl-authtoken", ""),
            q.get("RUNID", ""),
        ]
        text = "authorization,x_runid,x_dl_authtoken,runid\n" + ",".join(values) + "\n"
        await _reply(send, 200, text.encode(), "text/csv")

    async def _r_paged(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        total, page, size = int(q["total"]), int(q.get("page", "1")), int(q["pagesize"])
        if q.get("fail_page") == str(page):
            await _reply(send, 500, b"page store exploded", "text/plain")
            return
        start = (page - 1) * size
        await _reply(send, 200, csv_rows(range(start, min(total, start + size))), "text/csv")

    async def _r_redirect(self, _: Scope, __: dict[str, str], send: Send, receive: Receive) -> None:
        extra = [(b"location", b"http://elsewhere.invalid/steal")]
        await _reply(send, 302, b"", "text/plain", extra)


async def _gone_within(receive: Receive, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as the client has disconnected (stop early)."""

    async def disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnect(), seconds)
    except TimeoutError:
        return False
    return True


async def _start(send: Send, status: int, media: str, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", media.encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    length = [(b"content-length", str(len(body)).encode())]
    await _start(send, status, media, [*length, *(extra or [])])
    await send({"type": "http.response.body", "body": body, "more_body": False})
