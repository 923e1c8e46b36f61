"""PostgreSQL + pgSphere output, run on a real PostgreSQL 15, agrees with the DuckDB engine.

The server comes from ``tests/install_postgres.sh`` (root needed; loopback only). Without a
reachable server and no way to start one, the tests are skipped with the reason.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest

import grammar
from gateway.engine.local import LocalEngine
from grammar import nodes as n
from planners.sql import ColumnInfo, ResolvedTable, to_sql

pytestmark = pytest.mark.integration

URL = os.environ.get("PGSPHERE_URL", "postgresql://adqlgw:adqlgw@127.0.0.1:5432/adqlgw_test")
SCRIPT = Path(__file__).resolve().parents[1] / "install_postgres.sh"
COLUMNS = (ColumnInfo("id", "int"), ColumnInfo("ra", "double"), ColumnInfo("dec", "double"))


def _psql(sql: str, stdin: str | None = None) -> str:
    run = subprocess.run(
        ["psql", URL, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", ",", "-c", sql],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode:
        raise RuntimeError(run.stderr)
    return run.stdout


def _reachable() -> bool:
    try:
        return _psql("select extname from pg_extension where extname = 'pg_sphere'").strip() == (
            "pg_sphere"
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False


def _points() -> pa.Table:
    rng = random.Random(7)
    rows = [(i, rng.uniform(52, 54), rng.uniform(-29, -27)) for i in range(1500)]
    rows += [(2000 + i, rng.uniform(0, 360) % 360, rng.uniform(85, 90)) for i in range(200)]
    rows += [(3000 + i, rng.uniform(-1, 1) % 360, rng.uniform(-1, 1)) for i in range(300)]
    ids, ras, decs = zip(*rows, strict=True)
    return pa.table({"id": pa.array(ids, pa.int32()), "ra": ras, "dec": decs})


@pytest.fixture(scope="module")
def databases() -> tuple[LocalEngine, pa.Table]:
    if shutil.which("psql") is None and os.geteuid() != 0:
        pytest.skip("no psql and not root: cannot install PostgreSQL")
    if not _reachable():
        if os.geteuid() != 0:
            pytest.skip("PostgreSQL+pgSphere not reachable and not root to install it")
        subprocess.run(["bash", str(SCRIPT)], check=True, capture_output=True, timeout=600)
    if not _reachable():
        pytest.skip("PostgreSQL+pgSphere could not be started")
    table = _points()
    csv = "\n".join(
        f"{i},{r!r},{d!r}"
        for i, r, d in zip(*(table.column(c).to_pylist() for c in ("id", "ra", "dec")), strict=True)
    )
    _psql(
        "CREATE SCHEMA IF NOT EXISTS t; DROP TABLE IF EXISTS t.pts; "
        "CREATE TABLE t.pts (id integer, ra double precision, dec double precision)"
    )
    _psql("COPY t.pts FROM STDIN WITH (FORMAT csv)", stdin=csv + "\n")
    engine = LocalEngine()
    engine.add_table("t.pts", table)
    return engine, table


class Catalogue:
    def resolve_table(self, name: n.TableName) -> ResolvedTable | None:
        if tuple(p.key for p in name.parts) == ("t", "pts"):
            return ResolvedTable(("t", "pts"), COLUMNS)
        return None

    def table_names(self) -> Sequence[str]:
        return ["t.pts"]


def _round(value: str | float | None) -> object:
    if value is None or value == "":
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e9 else round(number, 6)


def _pg_rows(adql: str) -> list[tuple[object, ...]]:
    sql = to_sql(grammar.parse(adql), "postgres", resolver=Catalogue())
    out = _psql(sql)
    return sorted(tuple(_round(v) for v in line.split(",")) for line in out.splitlines() if line)


def _duck_rows(engine: LocalEngine, adql: str) -> list[tuple[object, ...]]:
    result = engine.execute(grammar.parse(adql))
    batches = list(result.batches)
    if not batches:
        return []
    table = pa.Table.from_batches(batches)
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return sorted(tuple(_round(v) for v in row) for row in zip(*cols, strict=True))


QUERIES = {
    "cone": "SELECT id FROM t.pts WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 53, -28, 0.4)) = 1",
    "cone_ra0": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), CIRCLE(0, 0, 0.7)) = 1",
    "cone_pole": "SELECT id FROM t.pts WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(120, 89.5, 1.2))",
    "distance": "SELECT id, DISTANCE(POINT(ra, dec), POINT(53.2, -27.9)) AS d FROM t.pts "
    "WHERE DISTANCE(POINT(ra, dec), POINT(53.2, -27.9)) < 0.3",
    "intersects_point": "SELECT id FROM t.pts WHERE INTERSECTS(CIRCLE(52.5, -28.5, 0.2), POINT(ra, dec)) = 1",
    "polygon": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), "
    "POLYGON(52.5, -28.5, 53.5, -28.6, 53.6, -27.5, 52.6, -27.4)) = 1",
    "polygon_ra0": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), POLYGON(359.5, -0.5, 0.5, -0.5, 0.4, 0.6)) = 1",
    "box": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), BOX(53, -28, 0.8, 0.5)) = 1",
    "box_pole": "SELECT id FROM t.pts WHERE CONTAINS(POINT(ra, dec), BOX(40, 87, 6, 3)) = 1",
    "not_cone": "SELECT COUNT(*) FROM t.pts WHERE CONTAINS(POINT(ra, dec), CIRCLE(53, -28, 0.4)) = 0",
    "area": "SELECT AREA(CIRCLE(10, 20, 1)) AS a, AREA(POLYGON(10, 10, 11, 10, 11, 11)) AS b, "
    "AREA(BOX(0, 0, 2, 2)) AS c FROM t.pts WHERE id = 1",
    "coords": "SELECT id, COORD1(POINT(ra, dec)), COORD2(POINT(ra, dec)) FROM t.pts WHERE id < 5",
    "circles": "SELECT id FROM t.pts WHERE INTERSECTS(CIRCLE(ra, dec, 0.1), CIRCLE(53, -28, 0.2)) = 1",
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_postgres_pgsphere_matches_duckdb(name, databases):
    engine, _ = databases
    adql = QUERIES[name]
    duck = _duck_rows(engine, adql)
    assert duck, f"{name}: the comparison needs rows"
    assert _pg_rows(adql) == duck


def test_area_values_are_square_degrees(databases):
    (row,) = _pg_rows(QUERIES["area"])
    cap = 2 * math.pi * (1 - math.cos(math.radians(1))) * (180 / math.pi) ** 2
    assert row[0] == pytest.approx(cap, rel=1e-6)
    assert 0.49 < float(str(row[1])) < 0.5  # half of a 1 x 1 deg square near dec 10
