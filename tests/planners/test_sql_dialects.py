"""SQL dialect outputs: pass-through translation, pgSphere text, SQLite execution."""

from __future__ import annotations

import random
import sqlite3

import pyarrow as pa
import pytest

import grammar
from gateway.engine.local import LocalEngine
from grammar.errors import UnsupportedError
from planners.sql import to_sql


def sql(adql: str, dialect: str) -> str:
    return to_sql(grammar.parse(adql), dialect, passthrough=True)  # type: ignore[arg-type]


def test_passthrough_emits_names_as_written_without_a_catalogue():
    got = sql('SELECT TOP 3 RA, "Dec", t.* FROM Sch.Tab AS t WHERE mag < 20', "postgres")
    assert got == (
        'SELECT "t"."ra", "t"."Dec", "t".* FROM "sch"."tab" AS "t" WHERE "t"."mag" < 20 LIMIT 3'
    )
    assert sql("SELECT * FROM a.b", "sqlite") == 'SELECT * FROM "a"."b" AS "b"'


def test_passthrough_join_leaves_unqualified_columns_bare():
    got = sql("SELECT x FROM a.b JOIN a.c ON b.id = c.id", "postgres")
    assert got.startswith('SELECT "x" FROM "a"."b" AS "b" JOIN "a"."c" AS "c"')


def test_pgsphere_cone_distance_and_region_column():
    got = sql(
        "SELECT DISTANCE(POINT(ra, dec), POINT(10, 20)) AS d FROM s.t "
        "WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 0.5)) = 1 "
        "AND INTERSECTS(s_region, CIRCLE(10, 20, 1)) = 1",
        "postgres",
    )
    assert 'DEGREES(SPOINT(RADIANS("t"."ra"), RADIANS("t"."dec")) <-> SPOINT(' in got
    assert '(SPOINT(RADIANS("t"."ra"), RADIANS("t"."dec")) <@ SCIRCLE(SPOINT(' in got
    assert '("t"."s_region" && SCIRCLE(' in got


def test_pgsphere_polygon_literal_is_in_radians():
    got = sql(
        "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), POLYGON(0, 0, 90, 0, 0, 90)) = 1",
        "postgres",
    )
    assert "CAST('{(0.0,0.0),(1.5707963267948966,0.0),(0.0,1.5707963267948966)}' AS spoly)" in got


def test_pgsphere_non_constant_box_is_an_sbox():
    got = sql(
        "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), BOX(ra, dec, w, h)) = 1", "postgres"
    )
    assert "SBOX(SPOINT(" in got


@pytest.mark.parametrize(
    ("adql", "match"),
    [
        (
            "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), POLYGON(0, 0, 1, 0, 0, 1)) = 1",
            "POLYGON",
        ),
        ("SELECT ivo_healpix_index(10, POINT(ra, dec)) FROM s.t", "HEALPix"),
        ("SELECT POINT(ra, dec) FROM s.t", "selecting a POINT"),
    ],
)
def test_sqlite_refuses_what_it_cannot_do(adql, match):
    with pytest.raises(UnsupportedError, match=match):
        sql(adql, "sqlite")


def test_postgres_refuses_non_constant_polygons_and_healpix():
    with pytest.raises(UnsupportedError, match="non-constant"):
        sql(
            "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), POLYGON(ra, 0, 1, 0, 0, 1)) = 1",
            "postgres",
        )
    with pytest.raises(UnsupportedError, match="HEALPix"):
        sql("SELECT ivo_healpix_index(10, POINT(ra, dec)) FROM s.t", "postgres")


def test_duckdb_output_is_unchanged_by_dialect_work():
    got = sql("SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 1", "duckdb")
    assert "LEAST" not in got
    assert "POWER(SIN(" in got
    got = sql("SELECT DISTANCE(POINT(ra, dec), POINT(1, 2)) FROM s.t", "duckdb")
    assert "ASIN(CASE WHEN SQRT(" in got


SQLITE_QUERIES = [
    "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1.5)) = 1",
    (
        "SELECT id, DISTANCE(POINT(ra, dec), POINT(10.5, 20)) AS d FROM s.t "
        "WHERE DISTANCE(POINT(ra, dec), POINT(10.5, 20)) < 1"
    ),
    "SELECT id FROM s.t WHERE CONTAINS(POINT(ra, dec), BOX(10, 20, 2, 1)) = 1",
    "SELECT id / 7 AS q, COUNT(*) AS n FROM s.t GROUP BY id / 7 HAVING COUNT(*) > 6",
]


@pytest.mark.parametrize("adql", SQLITE_QUERIES)
def test_sqlite_output_runs_and_matches_duckdb(adql):
    rng = random.Random(3)
    rows = [(i, rng.uniform(7, 13), rng.uniform(17, 23)) for i in range(800)]
    con = sqlite3.connect(":memory:")
    con.execute("ATTACH ':memory:' AS s")
    con.execute("CREATE TABLE s.t (id INTEGER, ra REAL, dec REAL)")
    con.executemany("INSERT INTO s.t VALUES (?, ?, ?)", rows)
    got = sorted(tuple(round(v, 6) for v in r) for r in con.execute(sql(adql, "sqlite")))
    engine = LocalEngine()
    ids, ras, decs = zip(*rows, strict=True)
    engine.add_table("s.t", pa.table({"id": pa.array(ids, pa.int64()), "ra": ras, "dec": decs}))
    result = engine.execute(grammar.parse(adql))
    table = pa.Table.from_batches(list(result.batches))
    expected = sorted(
        tuple(round(v, 6) for v in r)
        for r in zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True)
    )
    assert expected
    assert got == expected
