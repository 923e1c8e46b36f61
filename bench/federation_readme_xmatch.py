"""Benchmark: the README's HSC x spectra cross-match, derived cone vs the whole HSC catalogue.

Starts the demo backends (``adql-gateway demo --no-gateway``, each service its own process) and
runs :class:`gateway.federation.service.FederatedQueryService` in this process with the demo's
HSC row estimates. Cases, each a fresh plan + fetches + DuckDB join, result fully read:

* ``readme``: README.md's query as written (cross-match radius ``1.0/3600``, spectra in a
  0.1 deg cone): the radius is folded to a literal, so the HSC side is fetched after the
  spectra, restricted by a cone derived from their positions (LocalJoin);
* ``distance``: the same with ADQL 2.1's ``DISTANCE(...) < r`` forms for both conditions;
* ``whole``: the radius written as a non-constant expression (``s.z * 0 + 1.0/3600``): no
  cone can be derived, which is what the README query did before constant folding. It is
  refused by default (the message is printed) and timed with ``FETCH_WHOLE=true``: the whole
  1.1 million-row HSC summary is fetched and joined.

Usage: PYTHONPATH=. python bench/federation_readme_xmatch.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.federation_joins import start_backends
from bench.in_process import Runner, started
from bench.processes import load_average, stop
from gateway.federation.explain import explain_plan
from gateway.federation.service import FederatedQueryService
from gateway.federation.whole import WholeFetchRefused
from gateway.query.options import RunOptions
from gateway.settings import BackendConfig, GatewaySettings
from grammar import parse
from standins.demo.config import DEMO_HSC_ROWS

SELECT = "SELECT h.MatchID, s.specobjid, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
CONE = "WHERE CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 53.2, -28.1, 0.1)) = 1"
CASES = {
    "readme": SELECT + "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), "
    "CIRCLE('ICRS', s.ra, s.dec, 1.0/3600)) = 1 " + CONE,
    "distance": SELECT + "ON DISTANCE(POINT(h.MatchRA, h.MatchDec), POINT(s.ra, s.dec)) "
    "< 1.0/3600 WHERE DISTANCE(POINT(s.ra, s.dec), POINT(53.2, -28.1)) < 0.1",
    "whole": SELECT + "ON CONTAINS(POINT('ICRS', h.MatchRA, h.MatchDec), "
    "CIRCLE('ICRS', s.ra, s.dec, s.z * 0 + 1.0/3600)) = 1 " + CONE,
}


def run_once(run: Runner, adql: str, options: RunOptions) -> tuple[float, int, str]:
    """Seconds, result rows and the JOIN_STRATEGY INFO of one run."""
    t0 = time.perf_counter()
    result = run(adql, {}, 10_000_000, options)
    rows = sum(batch.num_rows for batch in result.batches)
    seconds = time.perf_counter() - t0
    strategy = "; ".join(f"{i[1]} ({i[2]})" for i in result.infos if i[0] == "JOIN_STRATEGY")
    return seconds, rows, strategy or "no cross-match strategy (both sides fetched as planned)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = max(1, min(args.repeat, 7))
    with tempfile.TemporaryDirectory() as tmp:
        demo, urls = start_backends(Path(tmp) / "run")
        try:
            backends = [
                BackendConfig(
                    name="hsc", kind="hsc", url=urls["hsc"], timeout_seconds=300,
                    table_rows=DEMO_HSC_ROWS,
                ),
                BackendConfig(
                    name="spec", kind="spectral", url=urls["spec"], context="sdss_dr16",
                    timeout_seconds=300, table_rows={"*": 10_000},
                ),
            ]  # fmt: skip
            svc = FederatedQueryService(
                GatewaySettings(data_dir=Path(tmp) / "j", backends=backends)
            )
            print(f"load average {load_average()}; median of {repeat}")
            with started(svc) as run:
                run_cases(svc, run, repeat)
            print(f"\nload average {load_average()}")
        finally:
            stop([demo], timeout=30)


def run_cases(svc: FederatedQueryService, run: Runner, repeat: int) -> None:
    """Explain, warm up and time each case."""
    for name, adql in CASES.items():
        options = RunOptions()
        try:
            plan = svc.plan(parse(adql))
        except WholeFetchRefused as refused:
            print(f"\n[{name}] refused by default: {refused}")
            options = RunOptions(fetch_whole=True)
            plan = svc.plan(parse(adql), options=options)
        print(f"\n[{name}] {adql}\n{explain_plan(plan, options=svc.options)}")
        run_once(run, adql, options)  # warm-up
        runs = [run_once(run, adql, options) for _ in range(repeat)]
        seconds = statistics.median(r[0] for r in runs)
        print(f"[{name}] {seconds:.3f} s, {runs[0][1]} rows; {runs[0][2]}", flush=True)


if __name__ == "__main__":
    main()
