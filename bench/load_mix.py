"""The client mix of the load bench: many TAP clients in one process, each a bounded loop.

Kinds of request (each client draws one per iteration, seeded, and alternates the replica):

* ``cone_local``: a small sync cone on ``bench.objects``, a local table of every replica;
* ``cone_dp1``: a small sync cone on ``dp1.Object`` (the demo's ``rsp`` TAP service);
* ``xmatch``: the README's HSC x spectra cross-match (1 arcsec) around a small spectra cone;
* ``async``: a UWS job (POST with PHASE=RUN on one replica, WAIT and the result through the
  other), a dp1.Object cone, timed from the POST to the last byte of the result.

Import as ``from bench.load_mix import ...`` with the repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

#: Share of each kind in the mix.
WEIGHTS = {"cone_local": 0.35, "cone_dp1": 0.25, "xmatch": 0.15, "async": 0.25}
#: ECDFS, where every demo service has data.
FIELD = (53.2, -28.1)
TERMINAL = frozenset({"COMPLETED", "ERROR", "ABORTED"})
#: Longest a client waits for one of its jobs before it counts it as unfinished.
JOB_WAIT_LIMIT = 120.0
#: Most requests one client sends in a phase, whatever the duration (keeps every loop bounded).
MAX_PER_CLIENT = 10_000
_PHASE = re.compile(r"<uws:phase>\s*(\w+)\s*</uws:phase>")


@dataclass
class Stats:
    """Outcomes per kind: latencies of successes, status counts, the first few failures."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Kind -> outcome -> count; outcomes are HTTP statuses ("200", "503"), "no answer"
    (a transport error or timeout) and, for jobs, "job ERROR" or "job unfinished"."""
    failures: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    """Every job id a replica accepted (303), for the lost-job count at the end."""
    loop_lag: list[float] = field(default_factory=list)
    """How late the client's event loop woke from 0.5 s sleeps during the run, in seconds:
    when it is large, the client process (not the servers) adds to the latencies."""

    def record(self, kind: str, outcome: str, seconds: float, detail: str) -> None:
        self.statuses[kind][outcome] += 1
        if outcome == "200":
            self.latencies[kind].append(seconds)
        elif len(self.failures) < 20:
            self.failures.append(f"{kind}: {outcome}: {detail[:300]}")

    def count_5xx(self) -> int:
        """Answers with an HTTP 5xx status, every kind."""
        return sum(n for c in self.statuses.values() for s, n in c.items() if s[0] == "5")


def _cone(rng: random.Random, spread: float, radius: tuple[float, float]) -> str:
    ra = FIELD[0] + rng.uniform(-spread, spread)
    dec = FIELD[1] + rng.uniform(-spread, spread)
    return f"CIRCLE('ICRS', {ra:.5f}, {dec:.5f}, {rng.uniform(*radius):.4f})"


def cone_local(rng: random.Random) -> str:
    return (
        "SELECT objectId, coord_ra, coord_dec, r_cModelMag FROM bench.objects WHERE "
        f"CONTAINS(POINT('ICRS', coord_ra, coord_dec), {_cone(rng, 0.3, (0.01, 0.03))}) = 1"
    )


def cone_dp1(rng: random.Random) -> str:
    return (
        "SELECT objectId, coord_ra, coord_dec, r_cModelMag FROM dp1.Object WHERE "
        f"CONTAINS(POINT('ICRS', coord_ra, coord_dec), {_cone(rng, 0.3, (0.01, 0.03))}) = 1"
    )


def xmatch(rng: random.Random) -> str:
    return (
        "SELECT h.MatchID, s.specobjid, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
        "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), CIRCLE('ICRS', s.ra, s.dec, "
        "1.0/3600)) = 1 WHERE CONTAINS(POINT('ICRS', s.ra, s.dec), "
        f"{_cone(rng, 0.1, (0.02, 0.05))}) = 1"
    )


def _outcome(response: httpx.Response) -> tuple[str, str]:
    ok = response.status_code == 200
    return str(response.status_code), "" if ok else response.text[:300]


async def sync(http: httpx.AsyncClient, base: str, adql: str) -> tuple[str, str]:
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql}
    return _outcome(await http.post(f"{base}/sync", data=data))


async def async_job(
    http: httpx.AsyncClient, base: str, other: str, adql: str, jobs: list[str]
) -> tuple[str, str]:
    """Submit on ``base``, WAIT and fetch the result on ``other``; the first failing status."""
    submitted = await http.post(
        f"{base}/async", data={"LANG": "ADQL", "QUERY": adql, "PHASE": "RUN"}
    )
    if submitted.status_code != 303:
        return str(submitted.status_code), submitted.text
    job_id = submitted.headers["location"].rstrip("/").rsplit("/", 1)[1]
    jobs.append(job_id)
    url = f"{other}/async/{job_id}"
    deadline = time.monotonic() + JOB_WAIT_LIMIT
    phase = ""
    while time.monotonic() < deadline:
        summary = await http.get(url, params={"WAIT": "10"})
        if summary.status_code != 200:
            return _outcome(summary)
        found = _PHASE.search(summary.text)
        phase = found.group(1) if found else "?"
        if phase in TERMINAL:
            break
    if phase != "COMPLETED":
        outcome = "job ERROR" if phase in TERMINAL else "job unfinished"
        return outcome, f"job {job_id}: {phase or 'no phase seen'}"
    return _outcome(await http.get(f"{url}/results/result"))


BUILDERS: dict[str, Callable[[random.Random], str]] = {
    "cone_local": cone_local, "cone_dp1": cone_dp1, "xmatch": xmatch, "async": cone_dp1,
}  # fmt: skip


async def one(
    http: httpx.AsyncClient, kind: str, pair: tuple[str, str], rng: random.Random, stats: Stats
) -> None:
    """One request of ``kind`` to ``pair[0]`` (a job is followed on ``pair[1]``), recorded."""
    adql = BUILDERS[kind](rng)
    request: Awaitable[tuple[str, str]] = (
        async_job(http, pair[0], pair[1], adql, stats.jobs)
        if kind == "async"
        else sync(http, pair[0], adql)
    )
    t0 = time.perf_counter()
    try:
        outcome, detail = await request
    except httpx.RequestError as exc:
        events = exc.request.extensions.get("bench_events", [])
        connection = "new" if "connection.connect_tcp.complete" in events else "reused"
        where = f"{exc.request.method} {exc.request.url.path} on a {connection} connection"
        outcome, detail = "no answer", f"{type(exc).__name__} on {where}: {exc}"
    stats.record(kind, outcome, time.perf_counter() - t0, detail)


async def client(
    index: int, http: httpx.AsyncClient, bases: Sequence[str], deadline: float, stats: Stats
) -> None:
    """One client: requests of random kinds, alternating replicas, until the deadline."""
    rng = random.Random(index)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    for n in range(MAX_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        pair = (bases[(index + n) % len(bases)], bases[(index + n + 1) % len(bases)])
        await one(http, rng.choices(kinds, weights)[0], pair, rng, stats)


def _client(clients: int) -> httpx.AsyncClient:
    # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout: with
    # httpx's default of 5 s both ends close at the same moment and a request sent on a
    # connection the server is just closing fails with ReadError (a client-side race).
    limits = httpx.Limits(
        max_connections=clients * 2, max_keepalive_connections=clients * 2, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(
        limits=limits,
        timeout=httpx.Timeout(120.0, connect=30.0),
        trust_env=False,
        event_hooks={"request": [_trace_connection]},
    )


async def _trace_connection(request: httpx.Request) -> None:
    """Keep the names of httpcore's trace events on the request: a transport error then
    tells whether it came on a new connection or on a kept-alive one."""
    events: list[str] = []

    async def trace(name: str, info: object) -> None:
        del info
        events.append(name)

    request.extensions["trace"] = trace
    request.extensions["bench_events"] = events


async def each_kind(bases: Sequence[str]) -> Stats:
    """One request of every kind to every replica, one after the other (a warm-up)."""
    stats = Stats()
    rng = random.Random(0)
    async with _client(1) as http:
        for i, base in enumerate(bases):
            for kind in WEIGHTS:
                await one(http, kind, (base, bases[(i + 1) % len(bases)]), rng, stats)
    return stats


async def drive(bases: Sequence[str], clients: int, seconds: float) -> Stats:
    """``clients`` concurrent clients for ``seconds`` (requests under way are finished)."""
    stats = Stats()
    async with _client(clients) as http:
        deadline = time.monotonic() + seconds
        lag = asyncio.create_task(_watch_lag(stats.loop_lag))
        try:
            await asyncio.gather(*(client(i, http, bases, deadline, stats) for i in range(clients)))
        finally:
            lag.cancel()
    return stats


async def _watch_lag(lags: list[float], period: float = 0.5) -> None:
    """Record how late each ``period`` sleep ends, until cancelled (at most an hour)."""
    for _ in range(int(3600 / period)):
        t0 = time.monotonic()
        await asyncio.sleep(period)
        lags.append(time.monotonic() - t0 - period)


async def final_phases(base: str, job_ids: Sequence[str], grace: float) -> dict[str, str]:
    """Each job's phase, asked until every one is terminal or ``grace`` seconds have passed."""
    phases = dict.fromkeys(job_ids, "?")
    pending = set(job_ids)
    deadline = time.monotonic() + grace
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as http:

        async def phase(job_id: str) -> None:
            try:
                answer = await http.get(f"{base}/async/{job_id}/phase")
            except httpx.HTTPError as exc:
                phases[job_id] = type(exc).__name__
                return
            ok = answer.status_code == 200
            phases[job_id] = answer.text.strip() if ok else f"HTTP {answer.status_code}"
            if phases[job_id] in TERMINAL:
                pending.discard(job_id)

        while pending and time.monotonic() < deadline:
            await asyncio.gather(*(phase(j) for j in list(pending)))
            if pending:
                await asyncio.sleep(1.0)
    return phases


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 in seconds (NaN for no values)."""
    if not values:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(np.asarray(values), [50, 99])
    return float(p50), float(p99)
