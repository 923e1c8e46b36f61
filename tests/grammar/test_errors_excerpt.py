"""Caret excerpts of syntax errors: short lines whole, long lines cut around the column."""

import pytest

from grammar import parse
from grammar.errors import (
    EXCERPT_AFTER,
    EXCERPT_BEFORE,
    MESSAGE_PROBLEMS,
    AdqlSemanticError,
    AdqlSyntaxError,
    SemanticProblem,
    caret_excerpt,
)


def test_a_short_line_is_shown_whole_with_the_caret_under_the_column() -> None:
    assert caret_excerpt("SELECT x FROM t", 1, 8) == "  SELECT x FROM t\n         ^"


def test_tabs_stay_in_the_caret_line() -> None:
    assert caret_excerpt("\tSELECT", 1, 2) == "  \tSELECT\n  \t^"


def test_a_long_line_is_cut_around_the_column() -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(100_000))
    column = 50_001
    text = caret_excerpt(line, 1, column, width=3)
    source, carets = text.split("\n")
    assert len(source) < EXCERPT_BEFORE + EXCERPT_AFTER + 20
    assert source.startswith("  ...")
    assert source.endswith("...")
    # The caret stands under the same characters as in the full line.
    at = carets.index("^")
    assert source[at : at + 3] == line[column - 1 : column + 2]
    assert carets.count("^") == 3


def test_a_syntax_error_in_a_huge_one_line_query_has_a_small_message() -> None:
    terms = " OR ".join(f"x = {i}" for i in range(50_000))
    with pytest.raises(AdqlSyntaxError) as info:
        parse(f"SELECT x FROM t WHERE {terms} AND AND")
    assert len(str(info.value)) < 2_000
    assert info.value.line == 1


def test_a_semantic_error_lists_the_first_problems_and_counts_the_rest() -> None:
    problems = [SemanticProblem(f"Unknown column 'c{i}'", None) for i in range(1_000)]
    error = AdqlSemanticError(problems)
    lines = str(error).splitlines()
    assert len(lines) == MESSAGE_PROBLEMS + 1
    assert lines[0] == problems[0].render()
    assert lines[-1] == f"... and {1_000 - MESSAGE_PROBLEMS} more problems"
    assert len(error.problems) == 1_000


def test_a_few_semantic_problems_are_all_listed() -> None:
    problems = [
        SemanticProblem("Unknown column 'a'", None),
        SemanticProblem("Unknown table 't'", None),
    ]
    assert str(AdqlSemanticError(problems)).splitlines() == [p.render() for p in problems]
