"""The strict ADQL 2.1 parser: ``parse(text) -> Query`` and ``parse_condition(text)``.

One LALR parser is built per process (lazily, then cached) from ``grammar/adql.lark`` with the
node-building transformer run inline, so no intermediate parse tree exists. Whatever the input,
the result is a node or :class:`~grammar.errors.AdqlSyntaxError`: deep nesting is refused
before parsing (the tree consumers recurse), and every lark error is translated.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from typing import Any, cast

from lark import Lark, Token
from lark.exceptions import UnexpectedInput
from lark.lexer import PatternStr

from grammar import fast_lists, nodes
from grammar.errors import AdqlSyntaxError
from grammar.keywords import RESERVED_WORDS
from grammar.syntax_errors import GrammarCheckError, from_check, make_error, translate
from grammar.transformer import AdqlTransformer

MAX_PAREN_DEPTH = 200
"""Deepest parenthesis nesting accepted; deeper text is refused before parsing."""

MAX_TREE_DEPTH = 300
"""Deepest node tree accepted, so recursive tree walkers stay far from Python's limit."""

_PAREN_SCAN = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|[()]")
_REGEX_NAMES = {
    "REGULAR_IDENTIFIER": "identifier",
    "DELIMITED_IDENTIFIER": "identifier",
    "STRING": "string literal",
    "UNSIGNED_INTEGER": "integer",
    "DECIMAL_LITERAL": "number",
    "HEX_LITERAL": "number",
    "RESERVED_WORD": "reserved word",
    "$END": "end of query",
}


def _mark_reserved(token: Token) -> Token:
    # Reserved words the grammar never uses would otherwise lex as identifiers.
    if token.upper() in RESERVED_WORDS:
        token.type = "RESERVED_WORD"
    return token


@functools.cache
def _lark() -> Lark:
    # propagate_positions is left off: with an inline transformer lark has no trees to annotate,
    # and the transformer derives spans from tokens itself (see grammar/transformer.py).
    return Lark.open_from_package(
        "grammar",
        "adql.lark",
        ("",),
        parser="lalr",
        start=["query", "search_condition"],
        transformer=AdqlTransformer(),
        keep_all_tokens=True,
        maybe_placeholders=True,
        lexer_callbacks={"REGULAR_IDENTIFIER": _mark_reserved},
        # The grammar analysis is cached on disk by lark (keyed by grammar, options and lark
        # version): a cold build takes about a second, a cached one a tenth of that.
        cache=True,
    )


@functools.cache
def _error_lexer() -> Lark:
    # Only error reporting needs plain tokens (to look at the one before the error); a basic
    # lexer built once does that without re-analysing the grammar on every error.
    return Lark.open_from_package(
        "grammar",
        "adql.lark",
        ("",),
        parser=None,
        lexer="basic",
        lexer_callbacks={"REGULAR_IDENTIFIER": _mark_reserved},
    )


@functools.cache
def _terminal_names() -> dict[str, str]:
    names = dict(_REGEX_NAMES)
    for terminal in _lark().terminals:
        if isinstance(terminal.pattern, PatternStr):
            names[terminal.name] = terminal.pattern.value.upper()
    return names


def _tokens(text: str) -> Iterator[Token]:
    return _error_lexer().lex(text)


def _check_nesting(text: str) -> None:
    depth = 0
    for match in _PAREN_SCAN.finditer(text):
        if match.group() == "(":
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                msg = (
                    f"parentheses nested more than {MAX_PAREN_DEPTH} levels deep:"
                    " simplify the query"
                )
                raise make_error(text, msg, match.start())
        elif match.group() == ")":
            depth = max(depth - 1, 0)


def _tree_depth(root: Any) -> int:
    # Iterative walk: a recursive one would hit the very limit this check protects.
    deepest = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for field in _child_fields(type(node)):
            value = getattr(node, field)
            children = value if isinstance(value, tuple) else (value,)
            stack.extend(
                (child, depth + 1) for child in children if dataclasses.is_dataclass(child)
            )
    return deepest


_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    if kind not in _FIELDS:
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind) if f.name != "span")
    return _FIELDS[kind]


def _parse_fast(text: str, start: str) -> object | None:
    # Long literal IN lists are built without the parser (see grammar/fast_lists.py); any
    # failure falls back to the normal path, which then reports the error.
    blanked, lists = fast_lists.prepare(text)
    if not lists:
        return None
    token = fast_lists.LISTS.set(lists)
    try:
        result = _lark().parse(blanked, start=start)
    except (UnexpectedInput, GrammarCheckError, RecursionError):
        return None
    finally:
        fast_lists.LISTS.reset(token)
    return None if lists else result


def _run(text: str, start: str) -> object:
    _check_nesting(text)
    try:
        result = _parse_fast(text, start)
        if result is None:
            result = _lark().parse(text, start=start)
    except UnexpectedInput as error:
        raise translate(text, error, _terminal_names(), _tokens) from None
    except GrammarCheckError as error:
        raise from_check(text, error) from None
    except RecursionError:
        raise make_error(text, "query too deeply nested: simplify the query", 0) from None
    if _tree_depth(result) > MAX_TREE_DEPTH:
        msg = f"expression nested more than {MAX_TREE_DEPTH} levels deep: simplify the query"
        raise make_error(text, msg, 0)
    return result


def parse(text: str) -> nodes.Query:
    """Parse ADQL 2.1 query text into a :class:`~grammar.nodes.Query`.

    Parameters
    ----------
    text
        The query, e.g. ``"SELECT TOP 10 ra, dec FROM hscv3.summary"``.

    Returns
    -------
    Query
        The tree; every node carries the :class:`~grammar.nodes.Span` it was read from.

    Raises
    ------
    AdqlSyntaxError
        The text is not ADQL 2.1 (with line, column, expected tokens and a caret excerpt).
    """
    return cast("nodes.Query", _run(text, "query"))


def parse_condition(text: str) -> nodes.SearchCondition:
    """Parse a bare ADQL search condition (what follows ``WHERE``).

    Parameters
    ----------
    text
        The condition, e.g. ``"z > 0.5 AND class = 'QSO'"``.

    Returns
    -------
    SearchCondition
        A predicate or a NOT/AND/OR combination of predicates.

    Raises
    ------
    AdqlSyntaxError
        The text is not an ADQL 2.1 search condition.
    """
    return cast("nodes.SearchCondition", _run(text, "search_condition"))


__all__ = ["MAX_PAREN_DEPTH", "MAX_TREE_DEPTH", "AdqlSyntaxError", "parse", "parse_condition"]
