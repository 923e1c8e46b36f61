"""Backend probes for /availability: real HTTP answers, refusals and stalls on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.federation.backend_health import BackendHealth, HealthProbe, availability
from gateway.settings import BackendConfig
from tests.gateway.fault_server import FaultServer
from tests.gateway.federation_servers import dead_url
from tests.live_server import serve_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faults() -> Iterator[str]:
    with serve_app(FaultServer()) as url:
        yield url


def backend(name: str, url: str) -> BackendConfig:
    return BackendConfig(name=name, kind="tap", url=url)


def test_probe_sorts_answers_refusals_5xx_and_stalls(faults: str) -> None:
    backends = [
        backend("ok", f"{faults}/status?code=404"),  # a live server, even if the path is not
        backend("broken", f"{faults}/status?code=503"),
        backend("refused", dead_url()),
        backend("stalled", f"{faults}/hang?delay=5"),
        BackendConfig(name="files", kind="local", tables=[{"name": "a.b", "path": "x.parquet"}]),
    ]
    found = asyncio.run(HealthProbe(timeout=0.5).check(backends))
    by_name = {h.name: h for h in found}
    assert list(by_name) == ["ok", "broken", "refused", "stalled"]  # local: nothing to probe
    assert by_name["ok"].up
    assert (by_name["broken"].up, by_name["broken"].cause) == (False, "HTTP 503")
    assert not by_name["refused"].up
    assert by_name["refused"].cause.startswith("cannot connect")
    assert (by_name["stalled"].up, by_name["stalled"].cause) == (False, "no answer within 0.5 s")


def test_findings_are_reused_within_the_ttl(faults: str) -> None:
    async def twice() -> tuple[tuple[BackendHealth, ...], tuple[BackendHealth, ...]]:
        probe = HealthProbe(ttl=60)
        first = await probe.check([backend("ok", f"{faults}/status?code=200")])
        # a different list within the TTL still gets the first answer: no new requests
        second = await probe.check([backend("refused", dead_url())])
        return first, second

    first, second = asyncio.run(twice())
    assert first == second
    assert [h.name for h in first] == ["ok"]


UP = BackendHealth("a", "http://a", up=True)
DOWN = BackendHealth("b", "http://b", up=False, cause="HTTP 502")


@pytest.mark.parametrize(
    ("health", "has_local", "available", "notes"),
    [
        ((UP,), False, True, 1),
        ((UP, DOWN), False, True, 2),
        ((DOWN,), False, False, 2),
        ((DOWN,), True, True, 2),  # local tables still answer
        ((), False, True, 1),
    ],
)
def test_availability_rule(
    health: tuple[BackendHealth, ...], has_local: bool, available: bool, notes: int
) -> None:
    got_available, got_notes = availability(health, has_local=has_local)
    assert got_available is available
    assert len(got_notes) == notes
    if DOWN in health:
        assert got_notes[-1] == "backend 'b' is down: HTTP 502"
