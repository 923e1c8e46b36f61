"""Fast path for long ``IN (literal, literal, ...)`` lists.

Through the LALR parser every list item costs a lexer match and about ten reductions (the
precedence levels from ``value_expression_primary`` up to ``value_expression``); a list of
100,000 numbers took seconds. Before parsing, :func:`prepare` finds IN lists of at least
:data:`MIN_ITEMS` plain literals, builds their nodes directly, and hands the parser a copy of
the text in which everything after the first item is blanked (same length, newlines kept, so
every offset, line and column is unchanged). ``in_value_list`` in the transformer then swaps
in the prebuilt items, keyed by the offset of the list's ``(``.

The language is unchanged: only lists that the grammar accepts item by item are taken (the
item patterns are the lexer's own), and the caller re-parses the original text whenever the
blanked one fails, so error messages are exactly those of the normal path.
"""

from __future__ import annotations

import contextvars
import re

from grammar import nodes as n
from grammar.transform_values import canonical_number

MIN_ITEMS = 64
"""Shortest list taken by the fast path; shorter lists go through the parser as usual."""

# Mirrors UNSIGNED_INTEGER, DECIMAL_LITERAL, HEX_LITERAL and STRING in adql.lark (one string
# piece only: adjacent pieces concatenate and are left to the parser).
_NUMBER = (
    r"(?:0x[0-9a-f]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|[0-9]+e[+-]?[0-9]+|[0-9]+)"
    r"(?![a-z0-9_.])"
)
_ITEM = re.compile(rf"\s*(?:([+-]?)({_NUMBER})|('(?:[^'\n]|'')*')(?!\s*'))", re.IGNORECASE)
_AFTER_ITEM = re.compile(r"\s*([,)])")
_SCAN = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|(?<![a-z0-9_])IN\s*(\()", re.IGNORECASE
)

LISTS: contextvars.ContextVar[dict[int, tuple[n.ValueExpression, ...]] | None] = (
    contextvars.ContextVar("fast_in_lists", default=None)
)
"""Prebuilt items of the lists in the text being parsed, by offset of the opening ``(``."""


class _Lines:
    """Line and column of increasing offsets, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def at(self, offset: int) -> tuple[int, int]:
        newlines = self.text.count("\n", self.offset, offset)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.offset, offset) + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1

    def span(self, start: int, end: int) -> n.Span:
        line, column = self.at(start)
        # Items never contain a newline, so the end is on the same line.
        return n.Span(start, end, line, column, line, column + end - start)


def _item(match: re.Match[str], lines: _Lines) -> n.ValueExpression:
    sign, number, string = match.group(1, 2, 3)
    if string is not None:
        span = lines.span(match.start(3), match.end(3))
        return n.StringLiteral(string[1:-1].replace("''", "'"), span=span)
    start, end = match.span(2)
    line, column = lines.at(start)
    text = number if number.isdigit() else canonical_number(number)
    span = n.Span(start, end, line, column, line, column + end - start)
    literal = n.NumericLiteral(text, span=span)
    if not sign:
        return literal
    sign_start = start - 1
    span = n.Span(sign_start, end, line, column - 1, line, column + end - start)
    return n.UnaryExpression("-" if sign == "-" else "+", literal, span=span)


def _literal_list(text: str, open_paren: int) -> tuple[list[re.Match[str]], int] | None:
    """The item matches and the offset after ``)`` of a literal-only list, else None."""
    items: list[re.Match[str]] = []
    position = open_paren + 1
    while True:
        item = _ITEM.match(text, position)
        if item is None:
            return None
        items.append(item)
        after = _AFTER_ITEM.match(text, item.end())
        if after is None:
            return None
        position = after.end()
        if after.group(1) == ")":
            return items, position


def prepare(text: str) -> tuple[str, dict[int, tuple[n.ValueExpression, ...]]]:
    """The text to parse and the prebuilt long IN lists (empty when there are none)."""
    if len(text) < MIN_ITEMS * 2:
        return text, {}
    lists: dict[int, tuple[n.ValueExpression, ...]] = {}
    pieces: list[str] = []
    done = 0
    lines = _Lines(text)
    for match in _SCAN.finditer(text):
        open_paren = match.start(1)
        if open_paren < 0 or open_paren < done:
            continue
        found = _literal_list(text, open_paren)
        if found is None or len(found[0]) < MIN_ITEMS:
            continue
        items, end = found
        first_end = items[0].end()
        lists[open_paren] = tuple(_item(item, lines) for item in items)
        blank = re.sub(r"[^\n]", " ", text[first_end : end - 1])
        pieces.append(text[done:first_end] + blank)
        done = end - 1
    if not lists:
        return text, {}
    pieces.append(text[done:])
    return "".join(pieces), lists
