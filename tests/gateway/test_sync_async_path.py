"""``/sync`` on a real uvicorn server: nothing blocks the event loop, deadlines cancel fetches.

A long ADQL text is parsed in a worker thread (it took the loop for its whole parse time), and
the sync deadline is a loop timer that cancels the backend fetch in flight (there was one
``threading.Timer`` per request and the fetch ran on, detached, on a private loop thread).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typing_extensions import override

from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from grammar import parse
from standins.data import DemoData, ensure_demo_data
from tests.gateway.conftest import TapService, error_message
from tests.gateway.fault_server import FaultServer, Receive, Scope, Send, _gone_within
from tests.gateway.federation_servers import serve_switchable
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

SYNC_TIMEOUT = 1
"""``sync_timeout`` of the gateway in front of the hanging backend (seconds)."""
HSC_QUERY = (
    "SELECT TOP 5 MatchID FROM hscv3.summary WHERE "
    "CONTAINS(POINT('ICRS', MatchRA, MatchDec), CIRCLE('ICRS', 53.2, -28.1, 0.02)) = 1"
)


def long_query(terms: int) -> str:
    """About 15 bytes of ADQL per OR term, over a table that does not exist.

    The query fails after its parse (unknown table, HTTP 400), so the parse is the work the
    test watches, not a 40,000-term filter in DuckDB.
    """
    where = " OR ".join(f"id = {i}" for i in range(terms))
    return f"SELECT id FROM demo.no_such_table WHERE {where}"


def poll_latencies(url: str, stop: threading.Event) -> list[float]:
    """Seconds of each GET ``url`` made back to back until ``stop`` is set."""
    latencies = []
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            latencies.append(time.perf_counter() - started)
    return latencies


def test_a_long_parse_does_not_hold_other_requests(tap_service: TapService) -> None:
    adql = long_query(44_000)
    assert len(adql) > 600_000
    started = time.perf_counter()
    parse(adql)
    parse_seconds = time.perf_counter() - started
    assert parse_seconds > 0.3  # long enough that a blocked loop would show
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        poller = pool.submit(poll_latencies, f"{tap_service.url}/availability", stop)
        time.sleep(0.2)
        answer = httpx.post(
            f"{tap_service.url}/sync", data={"LANG": "ADQL", "QUERY": adql}, timeout=120
        )
        stop.set()
        latencies = poller.result()
    assert answer.status_code == 400, answer.text
    assert "no_such_table" in error_message(answer.content)
    # Availability kept answering all along the parse, each in a fraction of the parse time.
    assert len(latencies) >= 5
    assert max(latencies) < parse_seconds / 3, (max(latencies), parse_seconds)


class CountingHang(FaultServer):
    """``/hang`` that counts the requests still waiting (the gateway holds them open)."""

    @override
    async def _r_hang(self, _: Scope, q: dict[str, str], send: Send, receive: Receive) -> None:
        self.inflight += 1
        try:
            await _gone_within(receive, min(float(q.get("delay", "5")), 10.0))
        finally:
            self.inflight -= 1


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@contextlib.contextmanager
def hanging_hsc(
    demo: DemoData, work: Path, sync_timeout: int = SYNC_TIMEOUT
) -> Iterator[tuple[str, Any, CountingHang]]:
    """A gateway over an HSC backend; (TAP URL, the backend's switch, its hang route)."""
    with serve_switchable("hsc", demo, work / "hsc") as (backend_url, switch):
        hang = CountingHang()
        switch.faults = hang
        sock = reserve_port()
        settings = GatewaySettings(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/tap",
            data_dir=work / "gateway",
            sync_timeout=sync_timeout,
            backends=[BackendConfig(name="hsc", kind="hsc", url=backend_url, timeout_seconds=30)],
        )
        with serve_app(build_app(settings), sock=sock, lifespan="on") as url:
            yield url + "/tap", switch, hang


def test_the_sync_deadline_cancels_a_slow_fetch(demo: DemoData, tmp_path: Path) -> None:
    with hanging_hsc(demo, tmp_path) as (tap, switch, hang):
        switch.fault, switch.params = "hang", {"delay": "10"}
        started = time.monotonic()
        failed = httpx.post(f"{tap}/sync", data={"LANG": "ADQL", "QUERY": HSC_QUERY}, timeout=60)
        elapsed = time.monotonic() - started
        # The backend would answer after 10 s and may take 30: the deadline ends it at 1 s.
        assert failed.status_code == 503, failed.text
        assert "past the 1 s limit of synchronous queries" in error_message(failed.content)
        assert SYNC_TIMEOUT <= elapsed < SYNC_TIMEOUT + 3, elapsed
        # The fetch itself was cancelled: the backend sees its request go away.
        assert settles_to_zero(hang, within=3)
        assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
        # The gateway goes on serving: the backend healthy again, the same query answers.
        switch.fault = None
        healthy = httpx.post(f"{tap}/sync", data={"LANG": "ADQL", "QUERY": HSC_QUERY}, timeout=60)
        assert healthy.status_code == 200, healthy.text


def settles_to_zero(hang: CountingHang, within: float) -> bool:
    """Whether no request waits at the hang route any more, within ``within`` seconds."""
    deadline = time.monotonic() + within
    while hang.inflight and time.monotonic() < deadline:
        time.sleep(0.05)
    return hang.inflight == 0


def test_a_client_gone_before_the_answer_cancels_the_fetch(demo: DemoData, tmp_path: Path) -> None:
    with hanging_hsc(demo, tmp_path, sync_timeout=60) as (tap, switch, hang):
        switch.fault, switch.params = "hang", {"delay": "10"}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{tap}/sync", data={"LANG": "ADQL", "QUERY": HSC_QUERY}, timeout=1)
        assert hang.inflight == 1  # the gateway's fetch still waits for the backend
        # The client hung up 1 s in: the fetch goes away long before the backend's 10 s or
        # the 60 s deadline.
        assert settles_to_zero(hang, within=3)
