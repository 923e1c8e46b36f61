from grammar import parse, to_adql
from planners.output_names import name_outputs


def named(adql: str) -> str:
    return to_adql(name_outputs(parse(adql)))


def test_unaliased_expressions_get_the_gateways_names() -> None:
    assert named("SELECT COUNT(*), MAX(a), a + 1, a FROM t") == (
        'SELECT COUNT(*) AS "count", MAX(a) AS "max", a + 1 AS expr, a FROM t'
    )


def test_generated_names_do_not_clash_with_columns_or_each_other() -> None:
    assert named("SELECT expr, a * 2, b * 2, COUNT(*) AS n FROM t") == (
        "SELECT expr, a * 2 AS expr_2, b * 2 AS expr_3, COUNT(*) AS n FROM t"
    )


def test_only_the_first_select_of_a_set_operation_is_named() -> None:
    assert named("SELECT a + 1 FROM t UNION SELECT b + 1 FROM u") == (
        "SELECT a + 1 AS expr FROM t UNION SELECT b + 1 FROM u"
    )


def test_queries_that_name_everything_are_unchanged() -> None:
    query = parse("SELECT a, b AS c, t.* FROM t")
    assert name_outputs(query) == query
