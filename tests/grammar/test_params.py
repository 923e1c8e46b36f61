"""HSC-style REST parameters read into conditions, requests and queries."""

from __future__ import annotations

import pytest

from grammar import nodes as n
from grammar.errors import ParamError, ParamRef
from grammar.params import ParamRequest, params_to_query, parse_params, read_params
from grammar.parser import parse, parse_condition
from grammar.printer import to_adql

SMC = {
    "MatchDec.gt": -74.3,
    "MatchDec.lt": -71.3,
    "MatchRA.gt": 11.68659,
    "MatchRA.lt": 14.68659,
    "A_F555W_N.gte": 1,
    "A_F814W_N.gte": 1,
    "CI.gt": 0.9,
    "CI.lt": 1.6,
    "pagesize": 2000000,
}
SMC_ADQL = (
    "MatchDec > -74.3 AND MatchDec < -71.3 AND MatchRA > 11.68659 AND MatchRA < 14.68659"
    " AND A_F555W_N >= 1 AND A_F814W_N >= 1 AND CI > 0.9 AND CI < 1.6"
)


def col(name: str) -> n.ColumnReference:
    return n.ColumnReference(n.Identifier(name))


def test_smc_notebook_request() -> None:
    request = read_params(SMC)
    assert request.pagesize == 2000000
    assert request.page is None
    assert request.condition is not None
    assert to_adql(request.condition) == SMC_ADQL
    first = request.condition.operands[0]  # type: ignore[union-attr]
    assert first == n.ComparisonPredicate(
        ">", col("MatchDec"), n.UnaryExpression("-", n.NumericLiteral("74.3"))
    )
    query = params_to_query(SMC, "hscv3.summary")
    assert to_adql(query) == f"SELECT TOP 2000000 * FROM hscv3.summary WHERE {SMC_ADQL}"


def test_query_string_mapping_and_pairs_agree() -> None:
    text = "CI.gt=0.9&CI.lt=1.6&Filter=F475W&Filter=F814W"
    mapping = {"CI.gt": 0.9, "CI.lt": "1.6", "Filter": ["F475W", "F814W"]}
    pairs = [("CI.gt", "0.9"), ("CI.lt", 1.6), ("Filter", "F475W"), ("Filter", "F814W")]
    expected = "CI > 0.9 AND CI < 1.6 AND (Filter = 'F475W' OR Filter = 'F814W')"
    for params in (text, mapping, pairs):
        condition = parse_params(params)
        assert condition is not None
        assert to_adql(condition) == expected


def test_url_decoding() -> None:
    condition = parse_params("?Detector=ACS%2FWFC&Target.like=NGC%2A")
    assert condition is not None
    assert to_adql(condition) == "Detector = 'ACS/WFC' AND Target LIKE 'NGC%'"


@pytest.mark.parametrize(
    ("params", "adql"),
    [
        ({"a.min": 1, "b.max": 2}, "a >= 1 AND b <= 2"),
        ({"a.gte": "1", "a.lte": "2"}, "a >= 1 AND a <= 2"),
        ({"MatchID": 123}, "MatchID = 123"),
        ({"x": "-5"}, "x = -5"),
        ({"x": "+5"}, "x = 5"),
        ({"x": "1e-7"}, "x = 1E-7"),
        ({"x": 1e-07}, "x = 1E-07"),
        ({"x": ".5"}, "x = .5"),
        ({"x": "12abc"}, "x = '12abc'"),
        ({"x": "it's"}, "x = 'it''s'"),
        ({"Target.like": "NGC*10%"}, "Target LIKE 'NGC%10%'"),
        ({"Target.contains": "104"}, "Target LIKE '%104%'"),
        ({"Target.LIKE": "a"}, "Target LIKE 'a'"),
        ({"a": [1, 2, 3]}, "a = 1 OR a = 2 OR a = 3"),
        ({"a.gt": [1, 2], "b": 3}, "(a > 1 OR a > 2) AND b = 3"),
        ({"ci.gt": 1, "CI.GT": 2}, "ci > 1 OR CI > 2"),
    ],
)
def test_conditions(params: dict[str, object], adql: str) -> None:
    condition = parse_params(params)
    assert condition is not None
    assert to_adql(condition) == adql


def test_cone() -> None:
    condition = parse_params({"ra": 13.19, "dec": -72.83, "sr": 0.1, "CI.gt": 1})
    assert condition is not None
    cone = n.ComparisonPredicate(
        "=",
        n.FunctionCall(
            "CONTAINS",
            (
                n.Point(n.StringLiteral("ICRS"), col("MatchRA"), col("MatchDec")),
                n.Circle(
                    n.StringLiteral("ICRS"),
                    n.Coordinates(
                        n.NumericLiteral("13.19"), n.UnaryExpression("-", n.NumericLiteral("72.83"))
                    ),
                    n.NumericLiteral("0.1"),
                ),
            ),
        ),
        n.NumericLiteral("1"),
    )
    assert condition == n.AndCondition(
        (cone, n.ComparisonPredicate(">", col("CI"), n.NumericLiteral("1")))
    )
    assert to_adql(condition) == (
        "CONTAINS(POINT('ICRS', MatchRA, MatchDec), CIRCLE('ICRS', 13.19, -72.83, 0.1)) = 1"
        " AND CI > 1"
    )


def test_cone_on_other_position_columns() -> None:
    condition = parse_params("ra=1&dec=2&radius=0.5", position_columns=("s_ra", "s_dec"))
    assert condition is not None
    assert to_adql(condition).startswith("CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE(")


def test_no_condition() -> None:
    assert parse_params({}) is None
    assert parse_params("pagesize=10&columns=[a,b]") is None


def test_shaping_parameters() -> None:
    request = read_params(
        "columns=[MatchID, MatchRA]&columns=CI&sort_by=CI.desc&sort_by=asc.MatchID"
        "&sort_by=desc.NumImages&sort_by=MatchRA&pagesize=100&page=3&format=CSV"
    )
    assert request == ParamRequest(
        condition=None,
        columns=("MatchID", "MatchRA", "CI"),
        sort=(("CI", True), ("MatchID", False), ("NumImages", True), ("MatchRA", False)),
        pagesize=100,
        page=3,
        format="csv",
    )
    assert to_adql(params_to_query(request, "hscv3.summary")) == (
        "SELECT TOP 100 MatchID, MatchRA, CI FROM hscv3.summary"
        " ORDER BY CI DESC, MatchID, NumImages DESC, MatchRA OFFSET 200"
    )


def test_params_to_query_defaults() -> None:
    assert to_adql(params_to_query({}, "t")) == "SELECT * FROM t"
    assert to_adql(params_to_query({"page": 1, "pagesize": 5}, "t")) == "SELECT TOP 5 * FROM t"
    assert to_adql(params_to_query({"page": 2}, "t")) == "SELECT TOP 50000 * FROM t OFFSET 50000"
    query = params_to_query({"columns": ["a", "b"], "x.gt": 1}, "cat.s.t")
    assert to_adql(query) == "SELECT a, b FROM cat.s.t WHERE x > 1"


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ({"CI.gtx": 1}, "CI.gtx", "unknown decorator"),
        ({".gt": 1}, ".gt", "empty column name"),
        ({"": 1}, "", "empty column name"),
        ({"1CI": 1}, "1CI", "not a valid column name"),
        ({"C I": 1}, "C I", "not a valid column name"),
        ({"a.b.gt": 1}, "a.b.gt", "unknown decorator"),
        ({"select": 1}, "select", "reserved word"),
        ({"x;drop": 1}, "x;drop", "not a valid column name"),
        ({"ra": 1}, "ra", "ra needs dec"),
        ({"dec": 1, "radius": 1}, "dec", "dec needs ra"),
        ({"radius": 1}, "radius", "radius needs ra and dec"),
        ({"ra": 1, "dec": 2}, "radius", "need a radius"),
        ({"ra": "abc", "dec": 2, "radius": 1}, "ra", "not a number"),
        ({"ra": 1, "dec": "x", "radius": 1}, "dec", "not a number"),
        ({"ra": 1, "dec": 2, "radius": "wide"}, "radius", "not a number"),
        ({"ra": 1, "dec": 2, "radius": 0}, "radius", "must be positive"),
        ({"ra": 1, "dec": 2, "sr": -0.1}, "sr", "must be positive"),
        ({"ra": [1, 2], "dec": 2, "radius": 1}, "ra", "more than once"),
        ({"pagesize": "many"}, "pagesize", "positive integer"),
        ({"pagesize": 0}, "pagesize", "positive integer"),
        ({"page": "-1"}, "page", "positive integer"),
        ({"page": 1.5}, "page", "positive integer"),
        ({"sort_by": "CI.up"}, "sort_by", "invalid sort direction"),
        ({"sort_by": "a.b.c"}, "sort_by", "invalid sort direction"),
        ({"sort_by": "1x"}, "sort_by", "not a valid column name"),
        ({"columns": "[a,,b]"}, "columns", "empty column name"),
        ({"columns": "[a,b c]"}, "columns", "not a valid column name"),
        ({"format": "pdf"}, "format", "unknown format"),
        ({"CI": ""}, "CI", "empty value"),
        ({"CI": None}, "CI", "unsupported value"),
        ({"CI": True}, "CI", "unsupported value"),
        ({"CI": float("nan")}, "CI", "finite"),
    ],
)
def test_errors_name_the_parameter(params: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ParamError, match=message) as info:
        read_params(params)
    assert info.value.key == key
    assert info.value.location == ParamRef(key)
    assert f"(parameter '{key}')" in str(info.value)


def test_bad_table_name() -> None:
    with pytest.raises(ParamError, match="not a valid table name") as info:
        params_to_query({}, "hscv3.sum mary")
    assert info.value.key == "table"
    with pytest.raises(ParamError, match="too many parts"):
        params_to_query({}, "a.b.c.d")


@pytest.mark.parametrize(
    "params",
    [
        SMC,
        {"ra": 13.19, "dec": -72.83, "radius": 0.1, "Filter": ["F475W", "F814W"]},
        {"Target.like": "NGC*", "x": "1e-7", "y": -3},
    ],
)
def test_conditions_parse_back(params: dict[str, object]) -> None:
    condition = parse_params(params)
    assert condition is not None
    assert parse_condition(to_adql(condition)) == condition


def test_query_parses_back() -> None:
    query = params_to_query(
        {**SMC, "sort_by": "CI.desc", "columns": "[MatchID,CI]"}, "hscv3.summary"
    )
    assert parse(to_adql(query)) == query
