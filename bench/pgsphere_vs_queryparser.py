"""Our PostgreSQL+pgSphere output against queryparser-python3's, on the same ADQL queries.

For each query: does each translator produce SQL, and (when PostgreSQL+pgSphere is reachable
with the ``t.pts`` table of tests/planners/test_pgsphere.py) does the SQL run, and how many
rows does it return? Also times both translators (median of repeated runs).

    PYTHONPATH=. /work/venv/bin/python bench/pgsphere_vs_queryparser.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable

from queryparser.adql import ADQLQueryTranslator

import grammar
from planners.sql import to_sql

URL = os.environ.get("PGSPHERE_URL", "postgresql://adqlgw:adqlgw@127.0.0.1:5432/adqlgw_test")

QUERIES = {
    "cone": "SELECT id FROM t.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53, -28, 0.4))",
    "cone 2.1 form": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), CIRCLE(53, -28, 0.4)) = 1",
    "distance": "SELECT id, DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 53.2, -27.9)) AS d FROM t.pts "
    "WHERE DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 53.2, -27.9)) < 0.3",
    "distance 4-arg": "SELECT id FROM t.pts WHERE DISTANCE(ra, dec, 53.2, -27.9) < 0.3",
    "polygon": "SELECT id FROM t.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
    "POLYGON('ICRS', 52.5, -28.5, 53.5, -28.6, 53.6, -27.5, 52.6, -27.4))",
    "box": "SELECT id FROM t.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), BOX('ICRS', 53, -28, 0.8, 0.5))",
    "area": "SELECT AREA(CIRCLE('ICRS', 10, 20, 1)) AS a FROM t.pts WHERE id = 1",
    "coord1": "SELECT COORD1(POINT('ICRS', ra, dec)) AS c FROM t.pts WHERE id < 5",
    "intersects circles": "SELECT id FROM t.pts WHERE 1 = INTERSECTS(CIRCLE('ICRS', ra, dec, 0.1), "
    "CIRCLE('ICRS', 53, -28, 0.2))",
    "integer division": "SELECT id / 7 AS q, COUNT(*) AS n FROM t.pts GROUP BY id / 7",
    "offset": "SELECT TOP 3 id FROM t.pts ORDER BY id OFFSET 2",
    "ilike": "SELECT TOP 3 id FROM t.pts WHERE CAST(id AS VARCHAR(10)) ILIKE '1%'",
}


def ours(adql: str) -> str:
    return to_sql(grammar.parse(adql), "postgres", passthrough=True)


def theirs(adql: str) -> str:
    return str(ADQLQueryTranslator(adql).to_postgresql())


def run(sql: str) -> str:
    done = subprocess.run(
        ["psql", URL, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode:
        return "SQL error: " + done.stderr.strip().splitlines()[0][:60]
    return f"{len(done.stdout.splitlines())} rows"


def timed(fn: Callable[[str], str], adql: str, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(adql)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    print("| query | ours | queryparser | ours ms | queryparser ms |")
    print("|---|---|---|---|---|")
    for name, adql in QUERIES.items():
        cells = []
        ms = []
        for fn in (ours, theirs):
            try:
                sql = fn(adql)
            except Exception as err:  # noqa: BLE001 - the point is to record any failure
                cells.append(f"fails: {type(err).__name__}")
                ms.append("-")
                continue
            cells.append(run(sql))
            ms.append(f"{timed(fn, adql):.2f}")
        print(f"| {name} | {cells[0]} | {cells[1]} | {ms[0]} | {ms[1]} |")


if __name__ == "__main__":
    main()
