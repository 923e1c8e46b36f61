"""Benchmark: UploadJoin vs BindJoin vs LocalJoin by outer size, for a user upload cross-match.

Starts the demo backends (``adql-gateway demo --no-gateway``: HSC REST stand-in, the ``rsp``
TAP service, ...) as their own processes and runs
:class:`gateway.federation.service.FederatedQueryService` in this process. The outer side is a
user upload (``TAP_UPLOAD.mine``: ``id``, ``ra``, ``dec``) of n positions, drawn (seeded) from
real catalogue positions within 0.5 deg (HSC: 0.45 deg, so that the derived cone stays within
the service's 0.5 deg cone limit) of a field centre and shifted by up to 0.3 arcsec, so
about one match per row exists; the join is a 1 arcsec ``CONTAINS(POINT, CIRCLE)``:

* against ``dp1.Object`` on ``rsp`` (TAP with uploads), field ECDFS (53.2, -28.1); 18,222
  objects within 0.5 deg;
* against ``hscv3.summary`` (HSC REST, cone-only), field SMC (13.18659, -72.8286), where
  ~85,000 sources per square degree make the derived cone expensive to fetch whole.

Rows per (inner, n): ``auto`` is the service as served (default FederationOptions; for dp1 the
planner pushes the whole query with the upload to rsp); ``UploadJoin``, ``BindJoin``,
``LocalJoin`` are forced (``FederationOptions(strategy=..., bind_max_rows=20000)``) on the
federated plan (``plan(..., federate=True)``, via a subclass in this file, so the upload is an
outer side and the inner side gets the strategy). The anchors, in the same run: for dp1 the same
upload join POSTed directly to rsp's ``/sync`` (what a TAP client would do without the
gateway); for HSC the one direct GET of the derived cone that LocalJoin fetches. Times are the
median of the repeats, each a fresh plan + fetch + DuckDB join, result fully read.

Usage: python bench/federation_joins.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typing_extensions import override

from bench.in_process import Runner, started
from bench.processes import free_port, load_average, stop
from gateway.federation.planner import Plan
from gateway.federation.service import FederatedQueryService
from gateway.federation.xmatch import FederationOptions, bounding_cone
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.query.options import RunOptions
from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query
from standins.data import ensure_demo_data

ROOT = Path(__file__).resolve().parent.parent
RADIUS = 1.0 / 3600
STRATEGIES = ("UploadJoin", "BindJoin", "LocalJoin")
TARGETS: dict[str, dict[str, Any]] = {
    "dp1.Object": {
        "centre": (53.2, -28.1), "field": 0.5, "cols": ("objectId", "coord_ra", "coord_dec"),
        "adql": "SELECT m.id, o.objectId FROM TAP_UPLOAD.mine AS m JOIN dp1.Object AS o "
                "ON CONTAINS(POINT(o.coord_ra, o.coord_dec), CIRCLE(m.ra, m.dec, {r})) = 1",
    },
    "hscv3.summary": {
        "centre": (13.18659, -72.8286), "field": 0.45, "cols": ("MatchID", "MatchRA", "MatchDec"),
        "adql": "SELECT m.id, h.MatchID FROM TAP_UPLOAD.mine AS m JOIN hscv3.summary AS h "
                "ON CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(m.ra, m.dec, {r})) = 1",
    },
}  # fmt: skip


class Service(FederatedQueryService):
    """The federated service with a switch that always plans the federated way."""

    federate_always = False

    @override
    def plan(self, query: Query, *, uploads: Mapping[str, UploadedTable] | None = None,
             options: RunOptions | None = None, federate: bool = False) -> Plan:  # fmt: skip
        return super().plan(
            query, uploads=uploads, options=options, federate=federate or self.federate_always
        )


def field_positions(path: Path, cols: tuple[str, str, str], centre: tuple[float, float],
                    field: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    table = pq.read_table(path, columns=list(cols[1:]))
    ra, dec = (table.column(c).to_numpy() for c in cols[1:])
    ra0, dec0 = map(math.radians, centre)
    r1, d1 = np.radians(ra), np.radians(dec)
    cos_sep = np.sin(d1) * math.sin(dec0) + np.cos(d1) * math.cos(dec0) * np.cos(r1 - ra0)
    keep = cos_sep >= math.cos(math.radians(field))
    return ra[keep], dec[keep]


def outer_table(ra: np.ndarray, dec: np.ndarray, n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    pick = rng.choice(ra.size, size=n, replace=False)
    jitter = 0.3 / 3600
    dra = rng.uniform(-jitter, jitter, n) / np.cos(np.radians(dec[pick]))
    ddec = rng.uniform(-jitter, jitter, n)
    return pa.table({"id": np.arange(n, dtype=np.int64), "ra": ra[pick] + dra,
                     "dec": dec[pick] + ddec})  # fmt: skip


def upload_of(table: pa.Table) -> dict[str, UploadedTable]:
    metas = tuple(column_meta_from_arrow(f) for f in table.schema)
    return {"mine": UploadedTable("mine", metas, table)}


def run_once(run: Runner, adql: str, uploads: dict[str, UploadedTable]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    result = run(adql, uploads, 10_000_000, RunOptions())
    rows = sum(batch.num_rows for batch in result.batches)
    seconds = time.perf_counter() - t0
    chosen = [i[1].split(": ")[-1] for i in result.infos if i[0] == "JOIN_STRATEGY"]
    return seconds, rows, ",".join(chosen) or "pushdown"


def cell(value: tuple[float, int, str] | None, target: str, anchor: float, *,
         choice: bool = False) -> str:  # fmt: skip
    """``seconds (rows) xRATIO`` (plus the strategy the service chose for ``auto``)."""
    if value is None:
        return "n/a" if target == "hscv3.summary" else "failed"
    text = f"{value[0]:.3f} ({value[1]}) x{value[0] / anchor:.1f}"
    return f"{text} {value[2]}" if choice else text


def votable_upload(table: pa.Table) -> bytes:
    rows = "".join(
        f"<TR><TD>{i}</TD><TD>{r!r}</TD><TD>{d!r}</TD></TR>"
        for i, r, d in zip(*(table.column(c).to_pylist() for c in ("id", "ra", "dec")),
                           strict=True)
    )  # fmt: skip
    return (
        '<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE><TABLE><FIELD name="id" datatype="long"/><FIELD name="ra" datatype="double"/>'
        f'<FIELD name="dec" datatype="double"/><DATA><TABLEDATA>{rows}</TABLEDATA></DATA>'
        "</TABLE></RESOURCE></VOTABLE>"
    ).encode()


def direct_anchor(http: httpx.Client, urls: dict[str, str], target: str, adql: str,
                  table: pa.Table) -> tuple[float, int]:  # fmt: skip
    """dp1: the upload join POSTed to rsp; HSC: one GET of the derived cone (CSV)."""
    t0 = time.perf_counter()
    if target == "dp1.Object":
        response = http.post(
            f"{urls['rsp']}/sync",
            data={"LANG": "ADQL", "QUERY": adql, "UPLOAD": "mine,param:mine",
                  "RESPONSEFORMAT": "csv", "MAXREC": "10000000"},
            files={"mine": ("mine.xml", votable_upload(table), "application/x-votable+xml")},
        )  # fmt: skip
    else:
        cone = bounding_cone(table.column("ra").to_numpy(), table.column("dec").to_numpy(), RADIUS)
        assert cone is not None
        response = http.get(
            f"{urls['hsc']}/v3/summary/magaper2.csv",
            params={"ra": cone.ra, "dec": cone.dec, "radius": cone.radius,
                    "columns": "[MatchID,MatchRA,MatchDec]", "pagesize": 2000000},
        )  # fmt: skip
    response.raise_for_status()
    rows = response.content.count(b"\n") - 1
    return time.perf_counter() - t0, rows


def start_backends(run_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port), "--no-gateway",
         "--run-dir", str(run_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    state = run_dir / "demo.json"
    deadline = time.monotonic() + 180
    while not state.is_file():
        if demo.poll() is not None or time.monotonic() > deadline:
            msg = "the demo backends did not start"
            raise RuntimeError(msg)
        time.sleep(0.2)
    time.sleep(0.2)
    return demo, json.loads(state.read_text())["backends"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 10, 1000; one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = (10, 1000) if args.quick else (10, 100, 1000, 10000)
    repeat = 1 if args.quick else max(1, min(args.repeat, 7))
    demo_data = ensure_demo_data()
    files = demo_data.tables()
    with tempfile.TemporaryDirectory() as tmp:
        demo, urls = start_backends(Path(tmp) / "run")
        try:
            backends = [
                BackendConfig(name="hsc", kind="hsc", url=urls["hsc"], timeout_seconds=120),
                BackendConfig(name="rsp", kind="tap", url=urls["rsp"], timeout_seconds=120),
            ]
            settings = GatewaySettings(data_dir=Path(tmp) / "jobs", backends=backends)
            auto = Service(settings)
            forced = {
                s: Service(settings, FederationOptions(strategy=s, bind_max_rows=20_000))  # type: ignore[arg-type]
                for s in STRATEGIES
            }
            for svc in forced.values():
                svc.federate_always = True
            services = contextlib.ExitStack()
            runners = {"auto": services.enter_context(started(auto))}
            runners |= {s: services.enter_context(started(svc)) for s, svc in forced.items()}
            print(f"load average {load_average()}; {repeat} repeat(s); median seconds (rows); "
                  "ratio = time / anchor")  # fmt: skip
            print(f"{'inner':<14} {'n':>6} {'auto (choice)':>26} {'UploadJoin':>16} "
                  f"{'BindJoin':>16} {'LocalJoin':>16} {'anchor':>16} {'fastest':>10}")  # fmt: skip
            errors: set[str] = set()
            with httpx.Client(timeout=300, trust_env=False) as http:
                for target, spec in TARGETS.items():
                    ra, dec = field_positions(files[target], spec["cols"], spec["centre"],
                                               spec["field"])  # fmt: skip
                    adql = spec["adql"].format(r=RADIUS)
                    for n in sizes:
                        table = outer_table(ra, dec, n, seed=n)
                        uploads = upload_of(table)
                        cells: dict[str, tuple[float, int, str] | None] = {}
                        for label, run in runners.items():
                            if label == "UploadJoin" and target == "hscv3.summary":
                                cells[label] = None  # HSC REST takes no uploads
                                continue
                            try:
                                run_once(run, adql, uploads) if n <= 100 else None  # warm-up
                                runs = [run_once(run, adql, uploads) for _ in range(repeat)]
                            except Exception as error:  # noqa: BLE001 - reported in the table
                                cells[label] = None
                                errors.add(f"{label} ({target}): {type(error).__name__}: "
                                           f"{str(error)[:160]}")  # fmt: skip
                                continue
                            cells[label] = (statistics.median(r[0] for r in runs), runs[0][1],
                                            runs[0][2])  # fmt: skip
                        anchors = [direct_anchor(http, urls, target, adql, table)
                                   for _ in range(repeat)]  # fmt: skip
                        anchor = statistics.median(a[0] for a in anchors)
                        timed = {k: v[0] for k, v in cells.items() if v and k != "auto"}
                        fastest = min(timed, key=timed.__getitem__) if timed else "-"
                        shown = {k: cell(v, target, anchor, choice=k == "auto")
                                 for k, v in cells.items()}  # fmt: skip
                        print(f"{target:<14} {n:>6} {shown['auto']:>26} "
                              f"{shown['UploadJoin']:>16} {shown['BindJoin']:>16} "
                              f"{shown['LocalJoin']:>16} "
                              f"{anchor:>7.3f} ({anchors[0][1]}) {fastest:>10}", flush=True)  # fmt: skip
            print(f"load average {load_average()}")
            for line in sorted(errors):
                print(f"failed: {line}")
            services.close()
        finally:
            stop([demo], timeout=30)


if __name__ == "__main__":
    main()
