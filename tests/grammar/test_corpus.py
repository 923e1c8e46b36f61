import pytest

from grammar.errors import AdqlSyntaxError
from grammar.nodes import Query
from grammar.parser import parse
from tests.grammar.corpus import load_corpus

VALID = load_corpus("valid")
INVALID = load_corpus("invalid")


@pytest.mark.parametrize("case", VALID, ids=[c.id for c in VALID])
def test_valid_query_parses(case):
    assert isinstance(parse(case.text), Query), case.title


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid_query_is_rejected(case):
    with pytest.raises(AdqlSyntaxError) as info:
        parse(case.text)
    error = info.value
    assert error.line >= 1
    assert error.column >= 1
    assert error.reason


def test_corpus_is_large_and_titled():
    assert len(VALID) >= 200
    assert len(INVALID) >= 150
    for case in VALID + INVALID:
        assert case.title, case.id


def test_every_grey_case_states_a_decision():
    grey = [c for c in VALID + INVALID if c.grey]
    assert len(grey) >= 30
    for case in grey:
        assert len(case.title) > len("grey: ") + 20, case.id


def test_loader_keeps_multiline_text_and_positions():
    case = next(c for c in VALID if c.title == "string continuation across lines")
    assert case.text == "SELECT 'abc'\n  'def' FROM t"
    assert case.path.name == "literals.valid.adql"
    assert case.path.read_text(encoding="utf-8").splitlines()[case.line - 1].startswith("-- title:")
