import pytest

from grammar.errors import AdqlSyntaxError
from grammar.parser import parse, parse_condition


def error_of(text):
    with pytest.raises(AdqlSyntaxError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("", 1, 1, "empty query"),
        ("  -- only a comment\n", 1, 1, "empty query"),
        ("SELEC a FROM t", 1, 1, "did you mean SELECT?"),
        ("SELECT a FORM t", 1, 10, "did you mean FROM?"),
        ("SELECT * FROM t WHER a > 1", 1, 17, "did you mean WHERE?"),
        ("SELECT a FROM t\nLIMIT 10", 2, 1, "TOP n"),
        ("SELECT a FROM t;", 1, 16, "no statement terminator"),
        ("SELECT a FROM t WHERE b = \u2018x\u2019", 1, 27, "straight quotes"),
        ("SELECT \u201ca\u201d FROM t", 1, 8, "straight quotes"),
        ("SELECT a FROM t WHERE b = 'x", 1, 27, "unterminated string"),
        ('SELECT "abc FROM t', 1, 8, "unterminated delimited identifier"),
        ("SELECT size FROM t", 1, 8, '"size"'),
        ("SELECT a, distance FROM t", 1, 11, '"distance"'),
        ("SELECT a FROM t WHERE (a = 1 OR\n b = 2", 1, 23, "unclosed parenthesis"),
        ("SELECT a FROM t WHERE a == 1", 1, 25, "single '='"),
        ("SELECT a FROM t WHERE a + 1 LIKE 'x'", 1, 23, "parentheses"),
        ("SELECT POINT(1) FROM t", 1, 8, "POINT takes"),
        ("SELECT 12abc FROM t", 1, 8, "malformed number"),
        ("SELECT * FROM (t)", 1, 15, "only enclose a join"),
        ("SELECT NULL + 1 FROM t", 1, 13, "CAST(NULL AS <type>)"),
        ("SELECT a || NULL FROM t", 1, 13, "a bare NULL is not allowed here"),
        ("SELECT SQRT(NULL) FROM t", 1, 13, "a bare NULL is not allowed here"),
        ("SELECT POINT(NULL) FROM t", 1, 18, "follow it with the coordinates"),
        ("SELECT REGION(NULL) FROM t", 1, 19, "REGION takes no coordinate system"),
        ("SELECT a FROM t WHERE a LIKE NULL", 1, 30, "a bare NULL is not one"),
        ("SELECT a FROM NULL", 1, 15, '"null"'),
        ("SELECT * FROM a JOIN b JOIN c ON b.x = c.x ON a.x = b.x", 1, 44, "put it in parenth"),
        ("SELECT * FROM a JOIN b ON a.x = b.x USING (x)", 1, 37, "already has its condition"),
        ("SELECT * FROM a JOIN b ON a.x = b.x WHERE on = 1", 1, 43, '"on"'),
        ("SELECT POINT(1, 2) || 'x' FROM t", 1, 8, "a geometry cannot be concatenated"),
    ],
)
def test_messages(text, line, column, fragment):
    error = error_of(text)
    assert fragment in str(error)
    assert (error.line, error.column) == (line, column)
    assert error.excerpt
    assert "^" in error.excerpt


def test_expected_tokens_are_human_names():
    error = error_of("SELECT a FROM")
    assert "identifier" in error.expected
    assert "(" in error.expected
    error = error_of("SELECT a b c FROM t")
    assert "FROM" in error.expected


def test_caret_points_under_the_token():
    error = error_of("SELECT a\nFROM t\nWHERE b = = 1")
    assert (error.line, error.column) == (3, 11)
    assert error.excerpt.splitlines() == ["  WHERE b = = 1", "            ^"]


def test_is_value_error_and_message_includes_position():
    error = error_of("SELECT FROM t")
    assert isinstance(error, ValueError)
    assert "line 1, column 8" in str(error)


def test_reserved_word_as_table_name():
    assert '"user"' in str(error_of("SELECT a FROM user"))


def test_unexpected_end_lists_expected():
    error = error_of("SELECT a FROM t WHERE a BETWEEN 1")
    assert "end of query" in error.reason
    assert "AND" in error.expected


def test_condition_errors():
    with pytest.raises(AdqlSyntaxError) as info:
        parse_condition("a = 1 AND")
    assert info.value.column == 10


def test_too_deep_nesting_is_reported_clearly():
    error = error_of("SELECT " + "(" * 500 + "a" + ")" * 500 + " FROM t")
    assert "nested" in error.reason
    assert error.column == 8 + 200
