from importlib import resources

import pytest
from lark import Lark

from grammar import nodes as n
from grammar.errors import AdqlSyntaxError
from grammar.parser import parse, parse_condition


def select(text):
    query = parse(text)
    assert isinstance(query.body, n.SelectQuery)
    return query.body


def where(condition_text):
    return select(f"SELECT a FROM t WHERE {condition_text}").where


def value(expression_text):
    item = select(f"SELECT {expression_text} FROM t").items[0]
    assert isinstance(item, n.DerivedColumn)
    return item.expression


def col(name, *qualifier):
    q = n.TableName(tuple(n.Identifier(p) for p in qualifier)) if qualifier else None
    return n.ColumnReference(n.Identifier(name), q)


def num(text):
    return n.NumericLiteral(text)


def test_grammar_builds_in_lark_strict_mode():
    text = resources.files("grammar").joinpath("adql.lark").read_text(encoding="utf-8")
    Lark(
        text,
        parser="lalr",
        start=["query", "search_condition"],
        strict=True,
        keep_all_tokens=True,
        maybe_placeholders=True,
    )


def test_simple_query_shape():
    query = parse(
        "SELECT DISTINCT TOP 5 a AS x, t.* FROM s.t AS u WHERE a > 1 ORDER BY 1 DESC OFFSET 3"
    )
    body = query.body
    assert isinstance(body, n.SelectQuery)
    assert body.quantifier == "DISTINCT"
    assert body.top == 5
    assert body.items == (
        n.DerivedColumn(col("a"), n.Identifier("x")),
        n.Asterisk(n.TableName((n.Identifier("t"),))),
    )
    assert body.from_ == (
        n.TableReference(n.TableName((n.Identifier("s"), n.Identifier("t"))), n.Identifier("u")),
    )
    assert body.where == n.ComparisonPredicate(">", col("a"), num("1"))
    assert query.order_by == (n.OrderItem(num("1"), descending=True),)
    assert query.offset == 3
    assert query.with_ == ()


def test_select_star():
    assert select("SELECT * FROM t").items == (n.Asterisk(),)


def test_arithmetic_is_left_associative():
    assert value("a - b - c") == n.BinaryExpression(
        "-", n.BinaryExpression("-", col("a"), col("b")), col("c")
    )
    assert value("a + b * c") == n.BinaryExpression(
        "+", col("a"), n.BinaryExpression("*", col("b"), col("c"))
    )


def test_parentheses_leave_no_node():
    assert value("((a))") == col("a")
    assert value("(a + b) * c") == n.BinaryExpression(
        "*", n.BinaryExpression("+", col("a"), col("b")), col("c")
    )


def test_unary_minus_on_literal_stays_unary():
    assert value("-1") == n.UnaryExpression("-", num("1"))


def test_bitwise_precedence():
    assert value("a | b & c") == n.BinaryExpression(
        "|", col("a"), n.BinaryExpression("&", col("b"), col("c"))
    )
    assert value("~a + b") == n.BinaryExpression("+", n.UnaryExpression("~", col("a")), col("b"))


def test_concatenation():
    assert value("a || 'x' || b") == n.BinaryExpression(
        "||", n.BinaryExpression("||", col("a"), n.StringLiteral("x")), col("b")
    )


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("12", "12"),
        ("1.5e-3", "1.5E-3"),
        ("0x1f", "0x1F"),
        ("0XaB", "0xAB"),
        (".5", ".5"),
        ("007", "007"),
    ],
)
def test_numeric_literal_canonical_text(text, canonical):
    assert value(text) == num(canonical)


def test_string_literal_decoding_and_continuation():
    assert value("'it''s'") == n.StringLiteral("it's")
    assert value("'abc' \n 'def'") == n.StringLiteral("abcdef")


def test_delimited_identifier_decoding():
    assert value('"a""B"') == n.ColumnReference(n.Identifier('a"B', delimited=True))


def test_or_and_are_flat_and_parenthesised_and_stays_nested():
    cond = where("a = 1 OR b = 2 OR c = 3")
    assert isinstance(cond, n.OrCondition)
    assert len(cond.operands) == 3
    cond = where("a = 1 AND (b = 2 AND c = 3)")
    assert isinstance(cond, n.AndCondition)
    assert len(cond.operands) == 2
    assert isinstance(cond.operands[1], n.AndCondition)


def test_not_equal_spellings():
    assert where("a != 1") == where("a <> 1") == n.ComparisonPredicate("<>", col("a"), num("1"))


def test_predicates():
    assert where("a NOT BETWEEN 1 AND 2") == n.BetweenPredicate(
        col("a"), num("1"), num("2"), negated=True
    )
    assert where("a ILIKE 'x%'") == n.LikePredicate(
        col("a"), n.StringLiteral("x%"), case_insensitive=True
    )
    assert where("a IS NOT NULL") == n.NullPredicate(col("a"), negated=True)
    assert where("a IN (1, 2)") == n.InPredicate(col("a"), (num("1"), num("2")))
    sub = where("a NOT IN (SELECT b FROM u)")
    assert isinstance(sub, n.InPredicate)
    assert sub.negated
    assert isinstance(sub.values, n.Query)
    assert isinstance(where("EXISTS (SELECT 1 FROM u)"), n.ExistsPredicate)
    assert where("NOT a = 1") == n.NotCondition(n.ComparisonPredicate("=", col("a"), num("1")))


def test_contains_stays_a_comparison():
    cond = where("CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 1, 2, 3)) = 1")
    assert isinstance(cond, n.ComparisonPredicate)
    call = cond.left
    assert isinstance(call, n.FunctionCall)
    assert call.name == "CONTAINS"
    assert call.args == (
        n.Point(n.StringLiteral("ICRS"), col("ra"), col("dec")),
        n.Circle(n.StringLiteral("ICRS"), n.Coordinates(num("1"), num("2")), num("3")),
    )


def test_geometry_forms():
    assert value("CIRCLE(POINT(1, 2), 3)") == n.Circle(
        None, n.Point(None, num("1"), num("2")), num("3")
    )
    assert value("BOX(1, 2, 3, 4)") == n.Box(
        None, n.Coordinates(num("1"), num("2")), num("3"), num("4")
    )
    poly = value("POLYGON(POINT(1, 2), POINT(3, 4), POINT(5, 6))")
    assert isinstance(poly, n.Polygon)
    assert all(isinstance(v, n.Point) for v in poly.vertices)
    assert value("REGION('Circle ICRS 1 2 3')") == n.Region(n.StringLiteral("Circle ICRS 1 2 3"))
    assert value("DISTANCE(1, 2, 3, 4)") == n.FunctionCall(
        "DISTANCE", tuple(num(d) for d in "1234")
    )


def test_null_is_a_value_expression():
    null = n.NullLiteral()
    assert value("NULL") == null
    assert value("CAST(NULL AS VARCHAR(10))") == n.Cast(null, n.CastTarget("VARCHAR", 10))
    assert value("COALESCE(a, NULL)") == n.FunctionCall("COALESCE", (col("a"), null))
    assert value("COALESCE(a)") == n.FunctionCall("COALESCE", (col("a"),))
    assert value("(NULL) + 1") == n.BinaryExpression("+", null, num("1"))
    assert value("f(NULL)") == n.UserDefinedFunction("f", (null,))
    assert where("a = NULL") == n.ComparisonPredicate("=", col("a"), null)
    assert where("a IN (1, NULL)") == n.InPredicate(col("a"), (num("1"), null))
    span = value("  null").span
    assert (span.start, span.end) == (9, 13)


def test_null_where_a_typed_value_is_needed_is_rejected():
    for text in ("NULL + 1", "1 * NULL", "-NULL", "NULL || a", "ABS(NULL)", "LOWER(NULL)"):
        with pytest.raises(AdqlSyntaxError):
            value(text)
    for text in ("NULL IS NULL", "(NULL) IS NULL", "a LIKE NULL", "NULL LIKE 'x'"):
        with pytest.raises(AdqlSyntaxError):
            where(text)


def test_cast_to_geometry_types():
    for name in ("POINT", "CIRCLE", "POLYGON"):
        assert value(f"CAST(g AS {name.lower()})") == n.Cast(col("g"), n.CastTarget(name))
    with pytest.raises(AdqlSyntaxError):
        value("CAST(g AS BOX)")


def test_null_coordinate_system():
    null = n.NullLiteral()
    assert value("POINT(NULL, ra, dec)") == n.Point(null, col("ra"), col("dec"))
    assert value("CIRCLE(NULL, POINT(1, 2), 3)") == n.Circle(
        null, n.Point(None, num("1"), num("2")), num("3")
    )
    assert value("BOX(NULL, 1, 2, 3, 4)") == n.Box(
        null, n.Coordinates(num("1"), num("2")), num("3"), num("4")
    )
    poly = value("POLYGON(NULL, 1, 2, 3, 4, 5, 6)")
    assert isinstance(poly, n.Polygon)
    assert poly.coord_sys == null
    assert len(poly.vertices) == 3
    # A parenthesised NULL is a coordinate, not the coordinate system.
    assert value("POINT((NULL), 1)") == n.Point(None, null, num("1"))
    for text in ("POINT(NULL, 1)", "REGION(NULL)", "DISTANCE(NULL, 1, 2, 3, 4)"):
        with pytest.raises(AdqlSyntaxError):
            value(text)


def test_functions():
    assert value("abs(a)") == n.FunctionCall("ABS", (col("a"),))
    assert value("ROUND(a, -2)") == n.FunctionCall(
        "ROUND", (col("a"), n.UnaryExpression("-", num("2")))
    )
    assert value("COUNT(*)") == n.SetFunction("COUNT", None)
    assert value("count(DISTINCT a)") == n.SetFunction("COUNT", col("a"), "DISTINCT")
    assert value("CAST(a AS DOUBLE PRECISION)") == n.Cast(
        col("a"), n.CastTarget("DOUBLE PRECISION")
    )
    assert value("CAST(a AS varchar(8))") == n.Cast(col("a"), n.CastTarget("VARCHAR", 8))
    assert value("IN_UNIT(a, 'pc')") == n.FunctionCall("IN_UNIT", (col("a"), n.StringLiteral("pc")))
    assert value("Ivo_Healpix_Index(10, a)") == n.UserDefinedFunction(
        "Ivo_Healpix_Index", (num("10"), col("a"))
    )
    assert value("LOWER(a)") == n.FunctionCall("LOWER", (col("a"),))


def test_joins():
    (item,) = select("SELECT * FROM a NATURAL LEFT OUTER JOIN b JOIN c USING (id)").from_
    assert isinstance(item, n.JoinedTable)
    assert item.using == (n.Identifier("id"),)
    assert isinstance(item.left, n.JoinedTable)
    assert item.left.kind == "LEFT"
    assert item.left.natural
    (item,) = select("SELECT * FROM (SELECT a FROM t) AS d").from_
    assert isinstance(item, n.DerivedTable)
    assert item.alias == n.Identifier("d")


def test_set_operations_and_with():
    query = parse(
        "WITH w AS (SELECT a FROM t) SELECT a FROM w UNION ALL SELECT a FROM u INTERSECT SELECT a FROM v ORDER BY a"
    )
    assert [w.name for w in query.with_] == [n.Identifier("w")]
    body = query.body
    assert isinstance(body, n.SetOperation)
    assert body.op == "UNION"
    assert body.all
    assert isinstance(body.right, n.SetOperation)
    assert body.right.op == "INTERSECT"
    assert len(query.order_by) == 1


def test_parenthesised_query_is_a_nested_query():
    query = parse("(SELECT a FROM t) UNION SELECT a FROM u")
    assert isinstance(query.body, n.SetOperation)
    assert isinstance(query.body.left, n.Query)


def test_spans():
    text = "SELECT a,\n  b + 1 AS c\nFROM t"
    query = parse(text)
    assert query.span.start == 0
    assert query.span.end == len(text)
    body = query.body
    assert isinstance(body, n.SelectQuery)
    item = body.items[1]
    assert isinstance(item, n.DerivedColumn)
    span = item.expression.span
    assert (span.line, span.column, span.end_line, span.end_column) == (2, 3, 2, 8)
    assert text[span.start : span.end] == "b + 1"
    assert text[item.span.start : item.span.end] == "b + 1 AS c"


def test_reserved_words_only_delimited():
    assert value('"size"') == n.ColumnReference(n.Identifier("size", delimited=True))
    with pytest.raises(AdqlSyntaxError):
        parse("SELECT size FROM t")


def test_parse_condition():
    cond = parse_condition("z > 0.5 AND class = 'QSO'")
    assert isinstance(cond, n.AndCondition)
    with pytest.raises(AdqlSyntaxError):
        parse_condition("SELECT a FROM t")
    with pytest.raises(AdqlSyntaxError):
        parse_condition("")
