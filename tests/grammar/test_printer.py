"""The canonical printer: exact output, and print/parse round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from grammar import nodes as n
from grammar.parser import parse
from grammar.printer import to_adql
from tests.grammar.strategies import queries

IDENTITY = Path(__file__).with_name("identity.adql")


def col(name: str, *qualifier: str) -> n.ColumnReference:
    q = n.TableName(tuple(n.Identifier(p) for p in qualifier)) if qualifier else None
    return n.ColumnReference(n.Identifier(name), q)


def num(text: str) -> n.NumericLiteral:
    return n.NumericLiteral(text)


def select(*items: n.ValueExpression, where: n.SearchCondition | None = None) -> n.Query:
    return n.Query(
        n.SelectQuery(
            tuple(n.DerivedColumn(i) for i in items),
            (n.TableReference(n.TableName((n.Identifier("t"),))),),
            where=where,
        )
    )


def sel(name: str, table: str = "t") -> n.SelectQuery:
    return n.SelectQuery(
        (n.DerivedColumn(col(name)),), (n.TableReference(n.TableName((n.Identifier(table),))),)
    )


A, B, C = col("a"), col("b"), col("c")
P, Q, R = (n.ComparisonPredicate("=", col(x), num("1")) for x in "pqr")


def bin_(op: str, left: n.ValueExpression, right: n.ValueExpression) -> n.BinaryExpression:
    return n.BinaryExpression(op, left, right)  # type: ignore[arg-type]


VALUES = [
    (bin_("-", bin_("-", A, B), C), "a - b - c"),
    (bin_("-", A, bin_("-", B, C)), "a - (b - c)"),
    (bin_("*", bin_("+", A, B), C), "(a + b) * c"),
    (bin_("+", A, bin_("*", B, C)), "a + b * c"),
    (bin_("/", A, bin_("*", B, C)), "a / (b * c)"),
    (bin_("&", A, bin_("+", B, C)), "a & b + c"),
    (bin_("+", bin_("&", A, B), C), "(a & b) + c"),
    (bin_("|", A, bin_("^", B, bin_("&", A, C))), "a | b ^ a & c"),
    (bin_("&", bin_("|", A, B), C), "(a | b) & c"),
    (bin_("||", bin_("||", A, B), C), "a || b || c"),
    (bin_("||", A, bin_("||", B, C)), "a || (b || c)"),
    (bin_("||", bin_("+", A, B), C), "(a + b) || c"),
    (bin_("+", bin_("||", A, B), C), "(a || b) + c"),
    (bin_("||", n.UnaryExpression("-", A), B), "(-a) || b"),
    (n.UnaryExpression("-", bin_("*", A, B)), "-(a * b)"),
    (bin_("*", n.UnaryExpression("-", A), B), "-a * b"),
    (bin_("-", A, n.UnaryExpression("-", num("1"))), "a - -1"),
    (n.UnaryExpression("-", n.UnaryExpression("-", A)), "-(-a)"),
    (n.UnaryExpression("~", n.UnaryExpression("-", A)), "~-a"),
    (n.UnaryExpression("-", n.UnaryExpression("~", A)), "-(~a)"),
    (n.StringLiteral("it's"), "'it''s'"),
    (col("x", "s", "t"), "s.t.x"),
    (n.ColumnReference(n.Identifier('we"ird', delimited=True)), '"we""ird"'),
    (n.FunctionCall("ABS", (A,)), "ABS(a)"),
    (n.FunctionCall("PI", ()), "PI()"),
    (n.UserDefinedFunction("ivo_healpix_index", (num("10"), A)), "ivo_healpix_index(10, a)"),
    (n.SetFunction("COUNT", None), "COUNT(*)"),
    (n.SetFunction("AVG", A, "DISTINCT"), "AVG(DISTINCT a)"),
    (n.Cast(A, n.CastTarget("DOUBLE PRECISION")), "CAST(a AS DOUBLE PRECISION)"),
    (n.Cast(A, n.CastTarget("VARCHAR", 12)), "CAST(a AS VARCHAR(12))"),
    (n.Point(None, A, B), "POINT(a, b)"),
    (
        n.Circle(n.StringLiteral("ICRS"), n.Coordinates(num("1"), num("2")), num("3")),
        "CIRCLE('ICRS', 1, 2, 3)",
    ),
    (n.Circle(None, n.Point(None, A, B), num("3")), "CIRCLE(POINT(a, b), 3)"),
    (n.Box(None, n.Coordinates(A, B), num("1"), num("2")), "BOX(a, b, 1, 2)"),
    (
        n.Polygon(None, (n.Coordinates(A, B), n.Coordinates(B, C), n.Coordinates(C, A))),
        "POLYGON(a, b, b, c, c, a)",
    ),
    (n.Region(n.StringLiteral("Circle ICRS 1 2 3")), "REGION('Circle ICRS 1 2 3')"),
    (n.Point(n.NullLiteral(), A, B), "POINT(NULL, a, b)"),
    (
        n.Polygon(n.NullLiteral(), (n.Coordinates(A, B), n.Coordinates(B, C), n.Coordinates(C, A))),
        "POLYGON(NULL, a, b, b, c, c, a)",
    ),
    (n.Point(None, n.NullLiteral(), B), "POINT((NULL), b)"),
    (n.Cast(n.NullLiteral(), n.CastTarget("VARCHAR", 10)), "CAST(NULL AS VARCHAR(10))"),
    (n.Cast(A, n.CastTarget("POINT")), "CAST(a AS POINT)"),
    (n.FunctionCall("COALESCE", (A,)), "COALESCE(a)"),
    (n.FunctionCall("COALESCE", (A, n.NullLiteral())), "COALESCE(a, NULL)"),
    (n.FunctionCall("ABS", (n.NullLiteral(),)), "ABS((NULL))"),
    (
        n.FunctionCall("IN_UNIT", (n.NullLiteral(), n.StringLiteral("deg"))),
        "IN_UNIT((NULL), 'deg')",
    ),
    (n.UserDefinedFunction("f", (n.NullLiteral(),)), "f(NULL)"),
    (n.SetFunction("MAX", n.NullLiteral()), "MAX(NULL)"),
    (bin_("+", n.NullLiteral(), num("1")), "(NULL) + 1"),
    (bin_("||", A, n.NullLiteral()), "a || (NULL)"),
    (n.UnaryExpression("-", n.NullLiteral()), "-(NULL)"),
    (n.ScalarSubquery(n.Query(sel("a"))), "(SELECT a FROM t)"),
]


@pytest.mark.parametrize(("node", "text"), VALUES, ids=[t for _, t in VALUES])
def test_value_expressions(node: n.ValueExpression, text: str) -> None:
    assert to_adql(node) == text


CONDITIONS = [
    (n.AndCondition((P, n.OrCondition((Q, R)))), "p = 1 AND (q = 1 OR r = 1)"),
    (n.OrCondition((P, n.AndCondition((Q, R)))), "p = 1 OR q = 1 AND r = 1"),
    (n.AndCondition((P, n.AndCondition((Q, R)))), "p = 1 AND (q = 1 AND r = 1)"),
    (n.OrCondition((n.OrCondition((P, Q)), R)), "(p = 1 OR q = 1) OR r = 1"),
    (n.NotCondition(P), "NOT p = 1"),
    (n.NotCondition(n.AndCondition((P, Q))), "NOT (p = 1 AND q = 1)"),
    (n.NotCondition(n.NotCondition(P)), "NOT (NOT p = 1)"),
    (n.BetweenPredicate(A, num("1"), num("2"), negated=True), "a NOT BETWEEN 1 AND 2"),
    (n.InPredicate(A, (num("1"), num("2"))), "a IN (1, 2)"),
    (n.InPredicate(A, n.Query(sel("b", "u")), negated=True), "a NOT IN (SELECT b FROM u)"),
    (n.LikePredicate(A, n.StringLiteral("x%"), case_insensitive=True), "a ILIKE 'x%'"),
    (n.LikePredicate(A, n.StringLiteral("x%"), negated=True), "a NOT LIKE 'x%'"),
    (n.NullPredicate(A, negated=True), "a IS NOT NULL"),
    (
        n.LikePredicate(bin_("+", A, num("1")), n.UnaryExpression("-", B)),
        "(a + 1) LIKE (-b)",
    ),
    (n.LikePredicate(bin_("||", A, B), n.StringLiteral("%")), "a || b LIKE '%'"),
    (n.ExistsPredicate(n.Query(sel("b"))), "EXISTS (SELECT b FROM t)"),
    (n.ComparisonPredicate("<>", A, B), "a <> b"),
    (n.ComparisonPredicate("=", A, n.NullLiteral()), "a = NULL"),
    (n.InPredicate(n.NullLiteral(), (num("1"), n.NullLiteral())), "NULL IN (1, NULL)"),
    (n.LikePredicate(n.NullLiteral(), n.NullLiteral()), "(NULL) LIKE (NULL)"),
]


@pytest.mark.parametrize(("node", "text"), CONDITIONS, ids=[t for _, t in CONDITIONS])
def test_conditions(node: n.SearchCondition, text: str) -> None:
    assert to_adql(node) == text


def _table(name: str, alias: str | None = None) -> n.TableReference:
    return n.TableReference(
        n.TableName((n.Identifier(name),)), n.Identifier(alias) if alias else None
    )


def test_select_clauses() -> None:
    query = n.Query(
        n.SelectQuery(
            (n.DerivedColumn(A, n.Identifier("x")), n.Asterisk(n.TableName((n.Identifier("u"),)))),
            (_table("t", "u"),),
            quantifier="DISTINCT",
            top=5,
            where=P,
            group_by=(A,),
            having=Q,
        ),
        order_by=(n.OrderItem(A, descending=True), n.OrderItem(B)),
        offset=3,
        with_=(n.WithQuery(n.Identifier("w"), n.Query(sel("a"))),),
    )
    assert to_adql(query) == (
        "WITH w AS (SELECT a FROM t) SELECT DISTINCT TOP 5 a AS x, u.* FROM t AS u"
        " WHERE p = 1 GROUP BY a HAVING q = 1 ORDER BY a DESC, b OFFSET 3"
    )


def test_joins() -> None:
    on = n.ComparisonPredicate("=", col("id", "a"), col("id", "b"))
    inner = n.JoinedTable(_table("a"), _table("b"), condition=on)
    left = n.JoinedTable(inner, _table("c"), "LEFT", using=(n.Identifier("id"),))
    right_nested = n.JoinedTable(_table("d"), inner, "FULL", natural=True)
    derived = n.DerivedTable(n.Query(sel("a")), n.Identifier("s"))
    cross = n.JoinedTable(derived, _table("e"), "CROSS")
    assert to_adql(left) == "a JOIN b ON a.id = b.id LEFT JOIN c USING (id)"
    assert to_adql(right_nested) == "d NATURAL FULL JOIN (a JOIN b ON a.id = b.id)"
    assert to_adql(cross) == "(SELECT a FROM t) AS s CROSS JOIN e"


def test_set_operations() -> None:
    t, u, v = sel("a", "t"), sel("a", "u"), sel("a", "v")
    union = n.SetOperation("UNION", t, u)
    assert to_adql(n.SetOperation("UNION", union, v)) == (
        "SELECT a FROM t UNION SELECT a FROM u UNION SELECT a FROM v"
    )
    assert to_adql(n.SetOperation("UNION", v, union, all=True)) == (
        "SELECT a FROM v UNION ALL (SELECT a FROM t UNION SELECT a FROM u)"
    )
    assert to_adql(n.SetOperation("UNION", v, n.SetOperation("INTERSECT", t, u))) == (
        "SELECT a FROM v UNION SELECT a FROM t INTERSECT SELECT a FROM u"
    )
    assert to_adql(n.SetOperation("INTERSECT", n.Query(union), v)) == (
        "(SELECT a FROM t UNION SELECT a FROM u) INTERSECT SELECT a FROM v"
    )
    assert to_adql(n.SetOperation("EXCEPT", union, v)) == (
        "SELECT a FROM t UNION SELECT a FROM u EXCEPT SELECT a FROM v"
    )


def test_names_and_keywords_are_upper_cased() -> None:
    assert to_adql(n.FunctionCall("abs", (A,))) == "ABS(a)"
    assert to_adql(n.Cast(A, n.CastTarget("double precision"))) == "CAST(a AS DOUBLE PRECISION)"
    assert to_adql(n.UserDefinedFunction("My_Udf", ())) == "My_Udf()"


def test_null_literal() -> None:
    # NULL is a value expression; where the BNF wants a typed operand it prints as (NULL).
    assert to_adql(n.NullLiteral()) == "NULL"


def test_long_chains_do_not_recurse() -> None:
    expr: n.ValueExpression = A
    for _ in range(20000):
        expr = bin_("+", expr, B)
    assert to_adql(expr).count(" + ") == 20000
    body: n.QueryBody = sel("a")
    for _ in range(5000):
        body = n.SetOperation("UNION", body, sel("a"))
    assert to_adql(body).count(" UNION ") == 5000


@pytest.mark.parametrize("name", ["select", "1a", "a b", "", "a-b", "distance"])
def test_invalid_regular_identifier_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="regular ADQL identifier"):
        to_adql(n.ColumnReference(n.Identifier(name)))
    assert to_adql(n.Identifier(name, delimited=True)) == '"' + name + '"'


def test_invalid_udf_name_is_refused() -> None:
    with pytest.raises(ValueError, match="user-defined function"):
        to_adql(n.UserDefinedFunction("x); DROP", ()))


def test_not_a_node() -> None:
    with pytest.raises(TypeError, match="not an ADQL node"):
        to_adql("SELECT 1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- round trips


def _identity_lines() -> list[str]:
    return [line for line in IDENTITY.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_identity_file_is_large() -> None:
    assert len(_identity_lines()) >= 60


@pytest.mark.parametrize("line", _identity_lines())
def test_identity(line: str) -> None:
    assert to_adql(parse(line)) == line


@pytest.mark.parametrize(("node", "text"), VALUES[:-1], ids=[t for _, t in VALUES[:-1]])
def test_printed_values_parse_back(node: n.ValueExpression, text: str) -> None:
    assert parse(f"SELECT {text} FROM t") == select(node)


@pytest.mark.parametrize(("node", "text"), CONDITIONS, ids=[t for _, t in CONDITIONS])
def test_printed_conditions_parse_back(node: n.SearchCondition, text: str) -> None:
    assert parse(f"SELECT a FROM t WHERE {text}") == n.Query(
        n.SelectQuery((n.DerivedColumn(A),), (_table("t"),), where=node)
    )


def _corpus() -> list[object]:
    try:
        from tests.grammar.corpus import load_corpus  # noqa: PLC0415 (teammate's module)
    except ImportError:  # reported as one failing case, never skipped silently
        return [pytest.param(None, id="corpus-loader-missing")]
    return [
        pytest.param(case.text, id=f"{Path(case.path).name}:{case.line}")
        for case in load_corpus("valid")
    ]


@pytest.mark.parametrize("text", _corpus())
def test_corpus_round_trip(text: str | None) -> None:
    assert text is not None, "tests/grammar/corpus.py (load_corpus) is missing"
    tree = parse(text)
    printed = to_adql(tree)
    assert parse(printed) == tree
    assert to_adql(parse(printed)) == printed


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(queries())
def test_generated_trees_round_trip(query: n.Query) -> None:
    assert parse(to_adql(query)) == query
