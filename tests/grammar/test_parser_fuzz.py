import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammar.errors import AdqlSyntaxError
from grammar.nodes import InPredicate, OrCondition, Query, SelectQuery
from grammar.parser import parse
from tests.grammar.corpus import load_corpus

VALID_TEXTS = [c.text for c in load_corpus("valid")]
FRAGMENTS = [
    "SELECT",
    "FROM",
    "WHERE",
    "(",
    ")",
    ",",
    "'",
    '"',
    "a",
    "t.*",
    "*",
    "1",
    "0x1F",
    "1.5E3",
    "=",
    "<>",
    "||",
    "AND",
    "OR",
    "NOT",
    "IN",
    "JOIN",
    "ON",
    "POINT",
    "CIRCLE",
    "CONTAINS",
    "--",
    "\n",
    ";",
    "\u2018",
    "TOP",
    "ORDER BY",
    "UNION",
    "WITH",
    "AS",
    "-",
    "~",
    "&",
    "NULL",
    "IS",
    "size",
]


def check(text):
    try:
        result = parse(text)
    except AdqlSyntaxError as error:
        assert error.line >= 1  # noqa: PT017
        assert error.column >= 1  # noqa: PT017
        return
    assert isinstance(result, Query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_random_token_soup(parts):
    check(" ".join(parts))


def _tokens(text):
    return text.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(VALID_TEXTS),
    st.randoms(use_true_random=False),
    st.sampled_from(["delete", "swap", "duplicate"]),
)
def test_mutated_valid_queries(text, rnd: random.Random, how):
    tokens = _tokens(text)
    i = rnd.randrange(len(tokens))
    j = rnd.randrange(len(tokens))
    if how == "delete":
        del tokens[i]
    elif how == "swap":
        tokens[i], tokens[j] = tokens[j], tokens[i]
    else:
        tokens.insert(i, tokens[j])
    check(" ".join(tokens))


def test_ten_thousand_nested_parentheses_end_quickly():
    start = time.perf_counter()
    for text in (
        "SELECT " + "(" * 10_000 + "a" + ")" * 10_000 + " FROM t",
        "SELECT a FROM t WHERE " + "(" * 10_000 + "a = 1" + ")" * 10_000,
        "(" * 10_000,
    ):
        check(text)
    assert time.perf_counter() - start < 5


def test_hundred_thousand_item_in_list():
    text = "SELECT a FROM t WHERE a IN (" + ", ".join(str(i) for i in range(100_000)) + ")"
    start = time.perf_counter()
    query = parse(text)
    assert time.perf_counter() - start < 30
    assert isinstance(query.body, SelectQuery)
    assert isinstance(query.body.where, InPredicate)
    assert isinstance(query.body.where.values, tuple)
    assert len(query.body.where.values) == 100_000


def test_long_or_chain_is_flat():
    text = "SELECT a FROM t WHERE " + " OR ".join(f"a = {i}" for i in range(20_000))
    query = parse(text)
    assert isinstance(query.body, SelectQuery)
    assert isinstance(query.body.where, OrCondition)
    assert len(query.body.where.operands) == 20_000


def test_long_arithmetic_chain_is_refused_clearly():
    text = "SELECT " + " + ".join(["a"] * 5_000) + " FROM t"
    check(text)
