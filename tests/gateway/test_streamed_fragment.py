"""A single backend's unpaged CSV answer streamed into the local query, on a real stand-in and gateway.

The slice size is made small (``CSV_SLICE_BYTES``) so that the demo HSC stand-in's answers of a
few MB arrive in many slices (``TOP`` makes the HSC request unpaged); with a size no answer reaches, the same query takes the whole-table
path, which is the oracle for the streamed result. A backend dying mid-answer must end the
VOTable with QUERY_STATUS=ERROR (streaming had started: the status was already sent), and a
client going away mid-stream must stop the fetch and leave no thread waiting on the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table

import gateway.formats.decode as decode_module
from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from standins.data import DemoData, ensure_demo_data
from tests.gateway.fault_server import FaultServer, Receive, Scope, Send, _gone_within, _start
from tests.gateway.federation_servers import serve_switchable
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration

CENTRE, RADIUS = (13.18659, -72.8286), 0.15
QUERY = (
    "SELECT TOP 90000 MatchID, MatchRA, MatchDec FROM hscv3.summary WHERE "
    f"CONTAINS(POINT('ICRS', MatchRA, MatchDec), CIRCLE('ICRS', {CENTRE[0]}, {CENTRE[1]}, "
    f"{RADIUS})) = 1"
)
BIG_QUERY = QUERY.replace("TOP 90000", "TOP 900000")
"""For the failing answers: more rows than MAXREC's default, so none is cut early."""
SMALL_SLICES = 64 << 10
NO_SLICES = 1 << 40
HEADER = b"MatchID,MatchRA,MatchDec\n"


def rows(start: int, count: int) -> bytes:
    return b"".join(f"{i},13.{i:07d},-72.5\n".encode() for i in range(start, start + count))


class BigAnswers(FaultServer):
    """HSC-shaped CSV answers that fail part way: ``/cut`` drops the connection, ``/stall``
    waits for the client to go (counting the requests it holds in ``inflight``)."""

    async def _r_cut(self, _: Scope, __: dict[str, str], send: Send, receive: Receive) -> None:
        await _start(send, 200, "text/csv", [])
        await send({"type": "http.response.body", "body": HEADER, "more_body": True})
        # More rows than DuckDB gathers before its first batch (about a row group), so the
        # response has started when the connection drops.
        for chunk in range(30):
            body = rows(chunk * 10_000, 10_000)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            await asyncio.sleep(0.02)  # the gateway passes rows on meanwhile
        await asyncio.sleep(1.0)
        raise RuntimeError("the backend died mid-answer")  # uvicorn drops the connection

    async def _r_stall(self, _: Scope, __: dict[str, str], send: Send, receive: Receive) -> None:
        self.inflight += 1
        try:
            await _start(send, 200, "text/csv", [])
            await send({"type": "http.response.body", "body": HEADER, "more_body": True})
            # More rows than DuckDB gathers before its first batch (about a row group).
            for chunk in range(30):
                body = rows(chunk * 10_000, 10_000)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await _gone_within(receive, 20.0)
        finally:
            self.inflight -= 1


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@contextlib.contextmanager
def gateway(demo: DemoData, work: Path) -> Iterator[tuple[str, str, BigAnswers, object]]:
    """(TAP URL of a gateway over one HSC stand-in, the stand-in's URL, its faults, switch)."""
    with serve_switchable("hsc", demo, work / "hsc") as (backend_url, switch):
        faults = BigAnswers()
        switch.faults = faults
        sock = reserve_port()
        settings = GatewaySettings(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/tap",
            data_dir=work / "gateway",
            sync_timeout=60,
            backends=[BackendConfig(name="hsc", kind="hsc", url=backend_url, timeout_seconds=30)],
        )
        with serve_app(build_app(settings), sock=sock, lifespan="on") as url:
            yield url + "/tap", backend_url, faults, switch


def sync(tap: str, fmt: str) -> httpx.Response:
    data = {"LANG": "ADQL", "QUERY": QUERY, "RESPONSEFORMAT": fmt}
    return httpx.post(f"{tap}/sync", data=data, timeout=120)


def numpy_ids(demo: DemoData) -> np.ndarray:
    """MatchIDs inside the circle, by numpy over the stand-in's own data file."""
    table = pq.read_table(demo.hscv3_summary, columns=["MatchID", "MatchRA", "MatchDec"])
    ra, dec = (np.radians(table[c].to_numpy()) for c in ("MatchRA", "MatchDec"))
    ra0, dec0 = np.radians(CENTRE[0]), np.radians(CENTRE[1])
    cos_d = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    inside = np.degrees(np.arccos(np.clip(cos_d, -1, 1))) <= RADIUS
    return np.sort(table["MatchID"].to_numpy()[inside])


def test_streamed_rows_equal_the_whole_table_path(
    demo: DemoData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway(demo, tmp_path) as (tap, _, _, _):
        monkeypatch.setattr(decode_module, "CSV_SLICE_BYTES", NO_SLICES)
        whole = sync(tap, "csv")
        whole_votable = sync(tap, "votable")
        monkeypatch.setattr(decode_module, "CSV_SLICE_BYTES", SMALL_SLICES)
        streamed = sync(tap, "csv")
        streamed_votable = sync(tap, "votable")
    assert whole.status_code == streamed.status_code == 200, streamed.text
    assert len(whole.content) > 20 * SMALL_SLICES  # many slices
    assert streamed.content == whole.content
    table = list(csv.reader(io.StringIO(streamed.text)))
    ids = np.sort(np.array([int(r[0]) for r in table[1:]], dtype=np.int64))
    expected = numpy_ids(demo)
    # Points within a rounding error of the circle may fall either way.
    assert abs(len(ids) - len(expected)) <= 2
    assert len(np.intersect1d(ids, expected)) >= len(expected) - 2
    # Column metadata as the catalogue declares it, on both paths.
    fields = [
        (f.name, f.datatype, f.unit)
        for f in parse_single_table(io.BytesIO(whole_votable.content)).fields
    ]
    got = parse_single_table(io.BytesIO(streamed_votable.content))
    assert [(f.name, f.datatype, f.unit) for f in got.fields] == fields
    assert fields[0][1] == "long"


def test_maxrec_cuts_a_streamed_answer_with_overflow(
    demo: DemoData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode_module, "CSV_SLICE_BYTES", SMALL_SLICES)
    with gateway(demo, tmp_path) as (tap, _, _, _):
        data = {"LANG": "ADQL", "QUERY": QUERY, "MAXREC": "1000"}
        answer = httpx.post(f"{tap}/sync", data=data, timeout=120)
        again = sync(tap, "csv")  # the gateway goes on serving after the early stop
    assert answer.status_code == 200, answer.text
    assert len(parse_single_table(io.BytesIO(answer.content)).array) == 1000
    assert b'name="QUERY_STATUS" value="OVERFLOW"' in answer.content
    assert again.status_code == 200


def test_a_backend_dying_mid_answer_ends_the_votable_with_an_error(
    demo: DemoData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode_module, "CSV_SLICE_BYTES", SMALL_SLICES)
    with gateway(demo, tmp_path) as (tap, _, _, switch):
        switch.fault = "cut"  # type: ignore[attr-defined]
        data = {"LANG": "ADQL", "QUERY": BIG_QUERY, "MAXREC": "900000"}
        answer = httpx.post(f"{tap}/sync", data=data, timeout=120)
    # Rows had flowed: the status was sent, the trailer tells the failure and names the backend.
    assert answer.status_code == 200
    assert b'name="QUERY_STATUS" value="ERROR"' in answer.content
    tail = answer.content[-4000:].decode()
    assert "hsc" in tail
    assert "truncated answer" in tail


def test_a_client_gone_mid_stream_stops_the_fetch_and_frees_the_channel(
    demo: DemoData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode_module, "CSV_SLICE_BYTES", SMALL_SLICES)
    with gateway(demo, tmp_path) as (tap, _, faults, switch):
        switch.fault = "stall"  # type: ignore[attr-defined]
        data = {"LANG": "ADQL", "QUERY": BIG_QUERY, "RESPONSEFORMAT": "csv", "MAXREC": "900000"}
        with httpx.stream("POST", f"{tap}/sync", data=data, timeout=60) as response:
            assert response.status_code == 200
            first = next(response.iter_bytes())
            assert first.startswith(b"MatchID")
            assert faults.inflight == 1  # the backend is still sending: rows came before its end
        deadline = time.monotonic() + 5
        while (faults.inflight or waiting_on_channel()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert faults.inflight == 0
        assert not waiting_on_channel()
        switch.fault = None  # type: ignore[attr-defined]
        assert sync(tap, "csv").status_code == 200


def waiting_on_channel() -> bool:
    """Whether any thread of this process (the gateway runs here) waits in a batch channel."""
    for top in sys._current_frames().values():
        frame: FrameType | None = top
        while frame is not None:
            if frame.f_code.co_filename.endswith("streamed.py"):
                return True
            frame = frame.f_back
    return False
