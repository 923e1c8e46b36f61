"""Exact SQL for representative constructs, division semantics and identifier handling."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import grammar
from grammar import nodes as n
from grammar.errors import AdqlSemanticError, UnsupportedError
from planners.sql import ColumnInfo, ResolvedTable, SqlTarget, compile_query, to_sql

COLUMNS = (
    ColumnInfo("ra", "double", unit="deg"),
    ColumnInfo("dec", "double", unit="deg"),
    ColumnInfo("Mag", "float", unit="mag"),
    ColumnInfo("id", "long"),
    ColumnInfo("size", "int"),
)


class Catalogue:
    def __init__(self) -> None:
        self.tables = {
            "hscv3.summary": ResolvedTable(("hscv3", "Summary"), COLUMNS),
            "up.t": ResolvedTable(("__upload_t",), COLUMNS[:2]),
        }

    def resolve_table(self, name: n.TableName) -> ResolvedTable | None:
        return self.tables.get(".".join(p.key for p in name.parts))

    def table_names(self) -> Sequence[str]:
        return list(self.tables)


def sql(adql: str, dialect: str = "duckdb") -> str:
    return to_sql(grammar.parse(adql), dialect, resolver=Catalogue())  # type: ignore[arg-type]


def test_hand_built_ast_with_quoted_catalogue_names():
    ident = n.Identifier
    query = n.Query(
        n.SelectQuery(
            items=(n.DerivedColumn(n.ColumnReference(ident("MAG"))),),
            from_=(n.TableReference(n.TableName((ident("HSCV3"), ident("summary")))),),
            top=10,
        )
    )
    got = compile_query(query, SqlTarget(resolver=Catalogue()))
    assert got.sql == 'SELECT "summary"."Mag" FROM "hscv3"."Summary" AS "summary" LIMIT 10'
    assert [(c.name, c.unit) for c in got.columns] == [("Mag", "mag")]


@pytest.mark.parametrize(
    ("expr", "duckdb", "postgres"),
    [
        ("id / 2", '"summary"."id" // 2', '"summary"."id" / 2'),
        (
            "id / 2.0",
            '"summary"."id" / CAST(2.0 AS DOUBLE)',
            'CAST("summary"."id" AS DOUBLE PRECISION) / 2.0',
        ),
        ("ra / 2", '"summary"."ra" / 2', 'CAST("summary"."ra" AS DOUBLE PRECISION) / 2'),
        ("-7 / 2", "-7 // 2", "-7 / 2"),
    ],
)
def test_division_semantics(expr, duckdb, postgres):
    assert sql(f"SELECT {expr} AS x FROM hscv3.summary") == (
        f'SELECT {duckdb} AS "x" FROM "hscv3"."Summary" AS "summary"'
    )
    assert sql(f"SELECT {expr} AS x FROM hscv3.summary", "postgres") == (
        f'SELECT {postgres} AS "x" FROM "hscv3"."Summary" AS "summary"'
    )


def test_delimited_identifiers_are_exact():
    assert sql('SELECT "size", "Mag" FROM hscv3.summary AS s') == (
        'SELECT "s"."size", "s"."Mag" FROM "hscv3"."Summary" AS "s"'
    )
    with pytest.raises(AdqlSemanticError, match=r"Unknown column 'MAG'.*'Mag'"):
        sql('SELECT "MAG" FROM hscv3.summary')


def test_functions_map_to_duckdb_names():
    got = sql(
        "SELECT LOG(ra), LOG10(ra), CEILING(ra), TRUNCATE(ra, 2), MOD(id, 3), "
        "12 ^ 10, name_x || 'a' FROM hscv3.summary".replace("name_x", "'b'")
    )
    assert 'LN("summary"."ra")' in got
    assert 'LOG10("summary"."ra")' in got
    assert 'CEIL("summary"."ra")' in got
    assert 'TRUNC("summary"."ra", 2)' in got
    assert "XOR(12, 10)" in got
    assert '"summary"."id" % 3' in got


def test_top_offset_order_and_set_operations():
    assert sql("SELECT TOP 5 id FROM hscv3.summary ORDER BY mag DESC OFFSET 10") == (
        'SELECT "summary"."id" FROM "hscv3"."Summary" AS "summary" '
        'ORDER BY "summary"."Mag" DESC NULLS FIRST LIMIT 5 OFFSET 10'
    )
    assert sql("SELECT id FROM hscv3.summary UNION ALL SELECT id FROM hscv3.summary") == (
        'SELECT "summary"."id" FROM "hscv3"."Summary" AS "summary" UNION ALL '
        'SELECT "summary"."id" FROM "hscv3"."Summary" AS "summary"'
    )


def test_maxrec_row_limit_combines_with_top():
    q = grammar.parse("SELECT TOP 100 id FROM hscv3.summary")
    target = SqlTarget(resolver=Catalogue(), row_limit=11)
    assert compile_query(q, target).sql.endswith("LIMIT 11")
    q = grammar.parse("SELECT TOP 3 id FROM hscv3.summary")
    assert compile_query(q, target).sql.endswith("LIMIT 3")


def test_contains_circle_is_haversine_with_folded_radius():
    got = sql(
        "SELECT id FROM hscv3.summary WHERE "
        "CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1)) = 1"
    )
    assert "ASIN" not in got
    assert "POWER(SIN(" in got
    assert got.endswith("<= 7.615242180438042e-05")


def test_crossmatch_becomes_zone_join():
    got = sql(
        "SELECT a.id FROM hscv3.summary AS a JOIN up.t AS b "
        "ON DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < 0.001"
    )
    assert 'UNNEST([FLOOR(("b"."dec") / 0.001) - 1' in got
    assert '"b"."__adql_zone" = FLOOR(("a"."dec") / 0.001)' in got
    plain = sql(
        "SELECT a.id FROM hscv3.summary AS a JOIN up.t AS b "
        "ON DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < a.ra"
    )
    assert "UNNEST" not in plain


def test_unsupported_constructs_name_themselves():
    with pytest.raises(UnsupportedError, match=r"function gavo_foo .*column 8"):
        sql("SELECT gavo_foo(ra) FROM hscv3.summary")
    with pytest.raises(UnsupportedError, match=r"COORDSYS"):
        sql("SELECT COORDSYS(POINT(1, 2)) FROM hscv3.summary")
