import difflib

import pytest

from grammar.suggestions import close_matches, suggestion

TABLES = ["hscv3.summary", "hscv3.detailed", "sdss.specobj"]


def test_close_names_are_suggested_best_first() -> None:
    assert suggestion("hscv3.sumary", TABLES) == "; did you mean hscv3.summary?"


def test_nothing_close_gives_no_hint() -> None:
    assert suggestion("zzz", TABLES) == ""


def test_nothing_close_lists_the_known_names_when_asked() -> None:
    assert suggestion("zzz", TABLES, list_known=True) == f"; known: {', '.join(TABLES)}"


def test_quoted_suggestions_and_another_lead() -> None:
    assert suggestion("magg", ["mag", "ra"], quote=True, lead=": ") == ": did you mean 'mag'?"


def test_case_is_folded_but_the_declared_spelling_is_shown() -> None:
    assert close_matches("SELEC", ["select", "from"], ignore_case=True) == ["select"]
    assert close_matches("gMag", ["gmag", "GMAG_ERR"], ignore_case=True, limit=1) == ["gmag"]
    assert close_matches("SELEC", ["select"]) == []


@pytest.mark.parametrize(("limit", "cutoff"), [(1, 0.7), (3, 0.5), (3, 0.6)])
def test_matching_is_difflibs(limit: int, cutoff: float) -> None:
    words = ["summary", "summery", "sumary", "detailed", "forced", "specobj"]
    for word in ["sumary", "detail", "spec", "x"]:
        expected = difflib.get_close_matches(word, words, n=limit, cutoff=cutoff)
        assert close_matches(word, words, limit=limit, cutoff=cutoff) == expected
