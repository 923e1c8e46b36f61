"""Benchmark: federated fan-out — one query over N slow TAP backends vs the slowest backend alone.

Starts 8 small TAP-ish latency servers (this file in ``--serve`` mode, one process each, raw
ASGI under uvicorn): VOSI ``/tap/tables`` describes one table ``fan.t`` (``id`` long, ``name``
char, ``val`` double), ``/tap/capabilities`` is 404 (TAP 1.1 defaults), and ``/tap/sync``
answers a fixed 100-row VOTable TABLEDATA after a delay that the bench sets per round
(``/_delay?s=``; ``/_stats`` counts the /sync requests). One gateway (``adql-gateway serve``,
its own process) federates all 8 with schema prefixes ``b0_`` .. ``b7_``.

For N = 1, 2, 4, 8 the first N backends get delays ``slowest * k / N`` (k = 1..N) and the
client POSTs ``SELECT id, name, val FROM b0_fan.t UNION ALL ... b{N-1}_fan.t`` to the gateway's
``/sync``. The anchor, measured in the same round, is the same single-table request sent
directly to the slowest backend. Ratio = median gateway time / median anchor time.

Usage: python bench/federation_fanout.py [--quick] [--repeat 7] [--slowest 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

from bench.processes import free_port, load_average, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = 8
ROWS = 100

# ---------------------------------------------------------------------- latency server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TABLESET = b"""<?xml version="1.0" encoding="UTF-8"?>
<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0"
 xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<schema><name>fan</name><table><name>fan.t</name><description>latency bench</description>
<column><name>id</name><dataType xsi:type="vs:VOTableType">long</dataType></column>
<column><name>name</name><dataType xsi:type="vs:VOTableType" arraysize="*">char</dataType>
</column>
<column><name>val</name><dataType xsi:type="vs:VOTableType">double</dataType></column>
</table></schema></vosi:tableset>
"""


def _votable(rows: int) -> bytes:
    trs = "".join(f"<TR><TD>{i}</TD><TD>n{i}</TD><TD>{i * 0.5}</TD></TR>" for i in range(rows))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/>'
        '<TABLE><FIELD name="id" datatype="long"/>'
        '<FIELD name="name" datatype="char" arraysize="*"/>'
        '<FIELD name="val" datatype="double"/>'
        f"<DATA><TABLEDATA>{trs}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>\n"
    ).encode()


class LatencyTap:
    """Raw ASGI app: fixed answers, /sync delayed by a settable number of seconds."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.sync_hits = 0
        self.body = _votable(ROWS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while True:  # drain the request body (the POSTed form)
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        path = scope["path"].rstrip("/")
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        if path == "/_delay":
            self.delay = min(float(query.get("s", "0")), 5.0)
            await _reply(send, 200, b"ok", "text/plain")
        elif path == "/_stats":
            await _reply(send, 200, str(self.sync_hits).encode(), "text/plain")
        elif path == "/tap/tables":
            await _reply(send, 200, TABLESET, "text/xml")
        elif path == "/tap/availability":
            await _reply(send, 200, b"<availability><available>true</available></availability>",
                         "text/xml")  # fmt: skip
        elif path == "/tap/sync":
            self.sync_hits += 1
            await asyncio.sleep(self.delay)
            await _reply(send, 200, self.body, "application/x-votable+xml")
        else:
            await _reply(send, 404, b"not here", "text/plain")


async def _reply(send: Send, status: int, body: bytes, media: str) -> None:
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def serve(port: int) -> None:
    import uvicorn  # noqa: PLC0415

    uvicorn.run(LatencyTap(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# ---------------------------------------------------------------------- bench


def sync(http: httpx.Client, url: str, query: str) -> tuple[float, int]:
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "votable/td"}
    t0 = time.perf_counter()
    response = http.post(f"{url}/sync", data=data)
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    return elapsed, response.content.count(b"<TR>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 8 and 2 repeats")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--slowest", type=float, default=0.5, help="slowest delay, seconds")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    counts = (1, 8) if args.quick else (1, 2, 4, 8)
    repeat = 2 if args.quick else max(1, min(args.repeat, 20))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ports = [free_port() for _ in range(BACKENDS)]
    gport = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            procs.extend(
                subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env,
                                 stdout=subprocess.DEVNULL)
                for port in ports
            )  # fmt: skip
            backends = [f"http://127.0.0.1:{p}" for p in ports]
            for url in backends:
                wait_until(f"{url}/tap/availability")
            config = Path(tmp) / "fanout.toml"
            lines = [
                "[service]",
                f'base_url = "http://127.0.0.1:{gport}/tap"',
                f'data_dir = "{Path(tmp) / "jobs"}"',
            ]
            for i, url in enumerate(backends):
                lines += [
                    "[[backends]]", f'name = "b{i}"', 'kind = "tap"', f'url = "{url}/tap"',
                    f'schema_prefix = "b{i}_"',
                ]  # fmt: skip
            config.write_text("\n".join(lines) + "\n")
            gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                 "--port", str(gport)],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(gateway)
            gurl = f"http://127.0.0.1:{gport}/tap"
            wait_until(f"{gurl}/availability")
            print(f"load average at start {load_average(1)}; {ROWS} rows per backend; "
                  f"slowest delay {args.slowest} s; {repeat} repeats")  # fmt: skip
            print(f"{'N':>2} {'delays (s)':<52} {'gateway med':>11} {'gw min':>7} "
                  f"{'anchor med':>10} {'ratio':>6} {'gw @0 s':>8} {'rows':>5} {'req/q':>5}")  # fmt: skip
            with httpx.Client(timeout=60, trust_env=False) as http:
                for count in counts:
                    delays = [args.slowest * (k + 1) / count for k in range(count)]
                    for url, delay in zip(backends, delays, strict=False):
                        http.get(f"{url}/_delay", params={"s": delay}).raise_for_status()
                    query = " UNION ALL ".join(
                        f"SELECT id, name, val FROM b{i}_fan.t" for i in range(count)
                    )
                    slow_url = f"{backends[count - 1]}/tap"
                    direct = "SELECT id, name, val FROM fan.t"
                    sync(http, gurl, query)  # warm-up (plan caches, connections)
                    sync(http, slow_url, direct)
                    before = [int(http.get(f"{u}/_stats").text) for u in backends[:count]]
                    gw, anchor = [], []
                    rows = 0
                    for _ in range(repeat):
                        seconds, rows = sync(http, gurl, query)
                        gw.append(seconds)
                        anchor.append(sync(http, slow_url, direct)[0])
                    after = [int(http.get(f"{u}/_stats").text) for u in backends[:count]]
                    per_query = (sum(after) - sum(before) - repeat) / repeat / count
                    for url in backends[:count]:  # the gateway's own cost: every delay 0
                        http.get(f"{url}/_delay", params={"s": 0}).raise_for_status()
                    zero = statistics.median(sync(http, gurl, query)[0] for _ in range(repeat))
                    ratio = statistics.median(gw) / statistics.median(anchor)
                    shown = ", ".join(f"{d:.3g}" for d in delays)
                    print(
                        f"{count:>2} {shown:<52} {statistics.median(gw):>10.3f}s "
                        f"{min(gw):>6.3f}s {statistics.median(anchor):>9.3f}s {ratio:>6.3f} "
                        f"{zero:>7.3f}s {rows:>5} {per_query:>5.2f}"
                    )
            print(f"load average at end {load_average(1)}")
        finally:
            stop(procs)


if __name__ == "__main__":
    main()
