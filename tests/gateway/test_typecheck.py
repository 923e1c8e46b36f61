"""The binder's type checking over a catalogue like the demo federation's (no servers).

Errors must name the problem and its position; valid queries must pass, including those
whose types the catalogue cannot tell (no false positives over the grammar corpus).
"""

from __future__ import annotations

import re

import pytest

import grammar
from gateway.query.typecheck import catalogue_tables, check_types
from gateway.table_meta import SchemaMeta, TableMeta
from grammar.errors import AdqlSemanticError
from planners.sql_catalog import ColumnInfo
from tests.grammar.corpus import load_corpus

SUMMARY = (
    ColumnInfo("MatchID", "long"),
    ColumnInfo("MatchRA", "double"),
    ColumnInfo("MatchDec", "double"),
    ColumnInfo("CI", "float"),
    ColumnInfo("NumImages", "int"),
    ColumnInfo("TargetName", "char", "*"),
    ColumnInfo("Flag", "boolean"),
)
SPECOBJ = (
    ColumnInfo("specobjid", "long", xtype="uint64"),
    ColumnInfo("z", "double"),
    ColumnInfo("class", "char", "*"),
    ColumnInfo("ra", "double"),
    ColumnInfo("dec", "double"),
)
OBSCORE = (
    ColumnInfo("obs_id", "char", "*"),
    ColumnInfo("s_region", "double", "*", "polygon"),
    ColumnInfo("t_min", "double"),
    ColumnInfo("created", "char", "*", "timestamp"),
)
TABLES = catalogue_tables(
    [
        SchemaMeta("hscv3", None, (TableMeta("hscv3", "hscv3.summary", None, SUMMARY),)),
        SchemaMeta(
            "sdss_dr16", None, (TableMeta("sdss_dr16", "sdss_dr16.specobj", None, SPECOBJ),)
        ),
        SchemaMeta("ivoa", None, (TableMeta("ivoa", "ivoa.ObsCore", None, OBSCORE),)),
    ],
    {"mine": (ColumnInfo("id", "long"), ColumnInfo("label", "unicodeChar", "*"))},
)

VALID = [
    "SELECT MatchID FROM hscv3.summary WHERE CI < 1 AND NumImages >= 2.5 AND MatchID = 1e3",
    "SELECT MatchID FROM hscv3.summary WHERE TargetName = NULL OR COALESCE(CI, NULL, 0) > 1",
    "SELECT MatchID FROM hscv3.summary WHERE MatchID = '123' AND TargetName LIKE 'M%'",
    (
        "SELECT CAST(MatchID AS VARCHAR(20)) || TargetName, CAST('1.5' AS DOUBLE PRECISION) "
        "FROM hscv3.summary"
    ),
    (
        "SELECT s.specobjid FROM sdss_dr16.specobj AS s JOIN hscv3.summary AS h "
        "ON s.specobjid = h.MatchID WHERE s.specobjid > 0"
    ),
    (
        "SELECT obs_id FROM ivoa.ObsCore WHERE created > '2024-01-01T00:00:00' "
        "AND CONTAINS(POINT(53.2, -28.1), s_region) = 1 AND INTERSECTS(s_region, "
        "CIRCLE(53, -28, 1)) = 1"
    ),
    (
        "SELECT DISTANCE(POINT(ra, dec), POINT(53, -28)), DISTANCE(ra, dec, 53, -28) "
        "FROM sdss_dr16.specobj WHERE AREA(CIRCLE(ra, dec, 1)) > 0"
    ),
    "SELECT ivo_anything(z, class), gavo_other(1) FROM sdss_dr16.specobj",
    (
        "SELECT u.id FROM TAP_UPLOAD.mine AS u JOIN hscv3.summary AS h ON u.id = h.MatchID "
        "WHERE u.label LIKE 'x%'"
    ),
    "WITH c AS (SELECT class AS k FROM sdss_dr16.specobj) SELECT * FROM c WHERE k = 'QSO'",
    "SELECT z AS zz FROM sdss_dr16.specobj ORDER BY zz DESC",
    "SELECT MatchID FROM hscv3.summary WHERE Flag = 'true' OR Flag = 1",
    "SELECT z FROM sdss_dr16.specobj UNION SELECT CI FROM hscv3.summary",
    "SELECT MatchID & 3, NumImages | 1, ~MatchID FROM hscv3.summary",
    "SELECT x FROM nosuch.tab WHERE x LIKE 'a' AND x + 1 > 2 AND x > 'b'",
    "SELECT SUM(NumImages) & 1, MOD(MatchID, 7) & 1, ROUND(MatchID) | 1 FROM hscv3.summary",
]

ERRORS = [
    ("SELECT MatchID FROM hscv3.summary\n WHERE CI LIKE '1%'", r"LIKE needs .* CI is a number \(float\)", 2, 8),
    ("SELECT z FROM sdss_dr16.specobj WHERE z = 'abc'", r"Cannot compare z", 1, 39),
    ("SELECT LOWER(z) FROM sdss_dr16.specobj", r"LOWER needs a character string", 1, 14),
    ("SELECT UPPER(s_region) FROM ivoa.ObsCore", r"UPPER .* s_region is a geometry \(polygon\)", 1, 14),
    (("SELECT h.MatchID FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
     "ON h.MatchID = s.class"), r"Cannot compare h\.MatchID", 1, 73),
    ("SELECT obs_id FROM ivoa.ObsCore WHERE created > 5", r"created, a timestamp, with", 1, 39),
    ("SELECT obs_id FROM ivoa.ObsCore WHERE s_region = 1", r"a geometry \(polygon\)", 1, 39),
    ("SELECT COALESCE(z, class) FROM sdss_dr16.specobj", r"COALESCE mixes", 1, 20),
    ("SELECT CAST(s_region AS INTEGER) FROM ivoa.ObsCore", r"CAST of s_region", 1, 13),
    ("SELECT CAST('1.5' AS INTEGER) FROM ivoa.ObsCore", r"not an integer", 1, 13),
    ("SELECT AVG(class) FROM sdss_dr16.specobj", r"AVG needs numbers", 1, 12),
    ("SELECT DISTANCE(ra, dec, class, 1) FROM sdss_dr16.specobj", r"DISTANCE needs numbers", 1, 26),
    ("SELECT CIRCLE(POINT(1, 2), class) FROM sdss_dr16.specobj", r"CIRCLE needs numbers", 1, 28),
    ("SELECT COORD1(ra) FROM sdss_dr16.specobj", r"COORD1 needs geometries", 1, 15),
    ("SELECT TargetName || s_region FROM hscv3.summary, ivoa.ObsCore", r"'\|\|' joins", 1, 22),
    (("SELECT z FROM sdss_dr16.specobj WHERE EXISTS (SELECT 1 FROM hscv3.summary AS h "
     "WHERE h.TargetName > z)"), r"Cannot compare h\.TargetName", 1, 86),
    ("SELECT x.k FROM (SELECT class AS k FROM sdss_dr16.specobj) AS x WHERE x.k * 2 > 1",
     r"'\*' needs numbers, but x\.k", 1, 71),
    ("SELECT u.label FROM TAP_UPLOAD.mine AS u WHERE u.label BETWEEN 1 AND 2", r"Cannot compare u\.label", 1, 48),
    ("SELECT z / 0.0 FROM sdss_dr16.specobj", r"Division by zero", 1, 12),
    ("SELECT z, ra FROM sdss_dr16.specobj UNION SELECT CI FROM hscv3.summary",
     r"UNION combines 2 column\(s\) with 1 column\(s\)", 1, 1),
    ("SELECT z FROM sdss_dr16.specobj WHERE z IN (SELECT ra, dec FROM sdss_dr16.specobj)",
     r"subquery of IN returns 2 columns", 1, 45),
]  # fmt: skip

GENUINE_TYPE_ERRORS_IN_CORPUS = {
    # Valid syntax (the BNF takes any value expression there), wrong types everywhere.
    "SELECT a FROM t WHERE (a + 1) LIKE '1%'",
    "SELECT -'x' FROM t",
}


@pytest.mark.parametrize("query", VALID)
def test_valid_queries_pass(query: str) -> None:
    check_types(grammar.parse(query), TABLES)


@pytest.mark.parametrize(("query", "pattern", "line", "column"), ERRORS)
def test_type_mistakes_are_reported_with_their_position(
    query: str, pattern: str, line: int, column: int
) -> None:
    with pytest.raises(AdqlSemanticError) as caught:
        check_types(grammar.parse(query), TABLES)
    assert re.search(pattern, str(caught.value)), str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)


def test_every_problem_of_a_query_is_reported_at_once() -> None:
    query = "SELECT LOWER(z), z + class FROM sdss_dr16.specobj WHERE class LIKE 1"
    with pytest.raises(AdqlSemanticError) as caught:
        check_types(grammar.parse(query), TABLES)
    assert len(caught.value.problems) == 3, str(caught.value)


def test_no_false_positives_over_the_grammar_corpus() -> None:
    """Where the catalogue knows nothing, only literal type mistakes are reported."""
    rejected = set()
    for case in load_corpus("valid"):
        try:
            check_types(grammar.parse(case.text), lambda name: None)
        except AdqlSemanticError:
            rejected.add(case.text)
    assert rejected == GENUINE_TYPE_ERRORS_IN_CORPUS
