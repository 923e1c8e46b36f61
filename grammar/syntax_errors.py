"""Turn lark's parse failures into :class:`~grammar.errors.AdqlSyntaxError` that read well.

Lark reports which terminal it did not expect and which ones it would have taken. Users paste
queries from papers, SQL habits and other dialects, so the common mistakes get a message that
says what to do: a misspelled keyword, typographic quotes, ``LIMIT``, a trailing ``;``, an
unterminated string, a reserved word used as a name, an unclosed parenthesis, ``==``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from grammar.errors import AdqlSyntaxError, caret_excerpt
from grammar.keywords import RESERVED_WORDS
from grammar.nodes import Span
from grammar.suggestions import suggestion

TYPOGRAPHIC_QUOTES = (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2032\u2033`\u00b4"
)
_BLANK_OR_COMMENTS = re.compile(r"(?:\s+|--[^\n]*)*")
_IDENTIFIER_TERMINALS = frozenset({"REGULAR_IDENTIFIER", "DELIMITED_IDENTIFIER"})
_MAX_LISTED = 12
_FUNCTION_WORDS = frozenset(
    """
    ABS ACOS AREA ASIN ATAN ATAN2 AVG BOX CAST CEILING CENTROID CIRCLE COALESCE CONTAINS COORD1
    COORD2 COORDSYS COS COT COUNT DEGREES DISTANCE EXP FLOOR IN_UNIT INTERSECTS LOG LOG10 LOWER
    MAX MIN MOD PI POINT POLYGON POWER RADIANS RAND REGION ROUND SIN SQRT SUM TAN TRUNCATE UPPER
    """.split()  # noqa: SIM905 - a word list reads better as text
)


class GrammarCheckError(Exception):
    """A shape the grammar accepts but ADQL does not, found while building nodes."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def make_error(
    text: str, message: str, offset: int, width: int = 1, expected: tuple[str, ...] = ()
) -> AdqlSyntaxError:
    """Build the error at ``offset`` with a caret excerpt ``width`` characters wide."""
    line, column = position(text, offset)
    return AdqlSyntaxError(
        message,
        line=line,
        column=column,
        expected=expected,
        offset=offset,
        excerpt=caret_excerpt(text, line, column, width),
    )


def from_check(text: str, error: GrammarCheckError) -> AdqlSyntaxError:
    """Translate a :class:`GrammarCheckError` raised by the transformer."""
    width = error.span.end - error.span.start if error.span.end_line == error.span.line else 1
    return make_error(text, error.message, error.span.start, max(width, 1))


def unclosed_parenthesis(text: str) -> int | None:
    """Offset of the innermost ``(`` left open at the end of ``text`` (strings skipped)."""
    stack: list[int] = []
    for match in re.finditer(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|[()]", text):
        if match.group() == "(":
            stack.append(match.start())
        elif match.group() == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


def translate(
    text: str,
    error: UnexpectedInput,
    describe: Mapping[str, str],
    tokens: Callable[[str], Iterable[Token]],
) -> AdqlSyntaxError:
    """Translate a lark error.

    Parameters
    ----------
    text
        The query text that failed.
    error
        What lark raised.
    describe
        Terminal name -> human name (``'FROM'``, ``identifier``, ``')'``).
    tokens
        Lexes ``text`` (stopping quietly at a bad character); used to find the token before
        the error, which is often the real culprit (``FORM`` read as an alias).
    """
    expected_names = set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())
    # Names (identifier, number...) first, then punctuation, then keywords: the likeliest fixes.
    expected = tuple(
        sorted(
            {describe.get(name, name) for name in expected_names},
            key=lambda e: (e.isupper(), not e.islower(), e),
        )
    )
    if _BLANK_OR_COMMENTS.fullmatch(text):
        return make_error(text, "empty query: an ADQL query starts with SELECT or WITH", 0)
    if isinstance(error, UnexpectedCharacters):
        return _bad_character(text, error.pos_in_stream or 0, expected)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    offset = len(text.rstrip()) if token.type == "$END" else (token.start_pos or 0)
    previous = _token_before(tokens, text, offset)

    def at(
        message: str, where: Token | None = None, at_offset: int | None = None
    ) -> AdqlSyntaxError:
        spot = where if where is not None else token
        start = at_offset if at_offset is not None else (spot.start_pos or 0)
        if spot.type == "$END" and at_offset is None:
            start = offset
        return make_error(text, message, start, max(len(spot), 1), expected)

    if token.type == "$END":
        opened = unclosed_parenthesis(text)
        if opened is not None:
            return at(
                "unclosed parenthesis: add the ')' that closes the '(' opened here",
                at_offset=opened,
            )
    if "LIMIT" in {token.upper(), (previous or "").upper()}:
        where = token if token.upper() == "LIMIT" else previous
        return at("ADQL has no LIMIT clause: write SELECT TOP n ... instead", where)
    if token.type == "EQUAL" and text[:offset].endswith("="):
        return at("'==' is not an ADQL operator: compare with a single '='", at_offset=offset - 1)
    if token.upper() == "WITH" and not expected_names & _IDENTIFIER_TERMINALS:
        return at(
            "WITH may only open the whole query: declare every common table expression"
            " at the top, not inside a subquery or parentheses"
        )
    if token.upper() in {"ON", "USING"} and not expected_names & {"ON", "USING"}:
        join, since = _join_words_before(tokens, text, offset)
        if join:
            return at(f"a {join} JOIN takes no ON or USING clause: remove it or drop {join}")
        # A second ON/USING for the last join (not ON misused as a name in a later clause).
        if {"ON", "USING"} & set(since) and not _CLAUSE_WORDS & set(since):
            return at(
                f"this join already has its condition ({token.upper()} cannot follow it): joins"
                " read left to right, so to give an inner join its own condition put it in"
                " parentheses, as in a JOIN (b JOIN c ON ...) ON ..."
            )
    null_message = _null_message(token, expected, lambda: _last_tokens(tokens, text, offset, 3))
    if null_message is not None:
        return at(null_message)
    if token.type == "RESERVED_WORD" or (
        token.upper() in RESERVED_WORDS and expected_names & _IDENTIFIER_TERMINALS
    ):
        return at(_reserved_message(token))
    if (
        previous is not None
        and previous.upper() in _FUNCTION_WORDS
        and expected == ("(",)
        and previous.type not in _IDENTIFIER_TERMINALS
    ):
        return at(
            _reserved_message(previous) + f" ({previous.upper()} is an ADQL function)", previous
        )
    keywords = [e for e in expected if e.isupper() and e.replace("_", "").isalnum()]
    for candidate in (token, previous):
        if candidate is None or candidate.type != "REGULAR_IDENTIFIER":
            continue
        hint = suggestion(candidate, keywords, limit=1, cutoff=0.7, ignore_case=True, lead=": ")
        if hint:
            note = "" if candidate is token else f" ('{candidate}' was read as a name)"
            return at(f"unknown word '{candidate}'{hint}{note}", candidate)
    kind = describe.get(token.type, "token")
    what = f"'{token}'" if kind == token.upper() else f"{kind} '{token}'"
    if token.type == "$END":
        what = "end of query"
    listed = ", ".join(expected[:_MAX_LISTED]) + (", ..." if len(expected) > _MAX_LISTED else "")
    return at(f"unexpected {what}; expected {listed}")


_OPERATORS = frozenset({"+", "-", "*", "/", "||", "&", "|", "^"})


def _null_message(
    token: Token, expected: tuple[str, ...], before: Callable[[], list[Token]]
) -> str | None:
    """A message for a bare NULL where ADQL wants a typed value, else None.

    ADQL 2.1 takes NULL only where any <value_expression> may stand; an arithmetic or
    concatenation operand, a math, string or geometry argument must be a typed value.
    """
    typed = "write CAST(NULL AS <type>) for a typed null"
    # Where NULL is not a terminal the lexer reads it as a reserved word; a value is wanted
    # when a number would have been taken.
    if token.upper() == "NULL" and "NULL" not in expected and "integer" in expected:
        return (
            "a bare NULL is not allowed here: ADQL takes NULL only where any value may stand"
            f" (select list, comparison, IN list, CAST, COALESCE); {typed}"
        )
    if str(token) not in _OPERATORS and expected != (",",):
        return None
    last = before()
    if not last or last[-1].type != "NULL" or (len(last) > 1 and last[-2].upper() in {"IS", "NOT"}):
        return None
    if expected == (",",):
        # Only a geometry function's first argument may be NULL then followed by a comma.
        function = last[-3].upper() if len(last) > 2 else ""
        if function in {"REGION", "DISTANCE"}:
            return f"{function} takes no coordinate system: a bare NULL is not allowed here"
        return "NULL is the coordinate system here: follow it with the coordinates"
    return f"NULL is not a numeric or character value, so not an operand of '{token}'; {typed}"


def _last_tokens(
    tokens: Callable[[str], Iterable[Token]], text: str, offset: int, count: int
) -> list[Token]:
    """The ``count`` tokens that end at or before ``offset`` (fewer at the start of the text)."""
    last: list[Token] = []
    try:
        for token in tokens(text):
            if (token.end_pos or 0) > offset:
                break
            last = [*last[-(count - 1) :], token] if count > 1 else [token]
    except UnexpectedInput:
        pass
    return last


def _reserved_message(word: Token) -> str:
    return (
        f"'{word}' is a reserved word in ADQL; to use it as a name write it as the"
        f' delimited identifier "{word.lower()}" (double quotes, exact case)'
    )


def _token_before(tokens: Callable[[str], Iterable[Token]], text: str, offset: int) -> Token | None:
    previous = None
    try:
        for token in tokens(text):
            if (token.end_pos or 0) > offset:
                break
            previous = token
    except UnexpectedInput:
        pass
    return previous


_CLAUSE_WORDS = frozenset({"SELECT", "WHERE", "GROUP", "HAVING", "ORDER", "OFFSET"})


def _join_words_before(
    tokens: Callable[[str], Iterable[Token]], text: str, offset: int
) -> tuple[str | None, list[str]]:
    """The last JOIN before ``offset``: NATURAL/CROSS/None for its kind, the words after it."""
    words: list[str] = []
    try:
        for token in tokens(text):
            if (token.end_pos or 0) > offset:
                break
            words.append(token.upper())
    except UnexpectedInput:
        pass
    if "JOIN" not in words:
        return None, []
    last_join = len(words) - 1 - words[::-1].index("JOIN")
    before = words[max(last_join - 3, 0) : last_join]
    kind = next((w for w in ("NATURAL", "CROSS") if w in before), None)
    return kind, words[last_join + 1 :]


def _bad_character(text: str, offset: int, expected: tuple[str, ...]) -> AdqlSyntaxError:
    char = text[offset] if offset < len(text) else ""
    if char in TYPOGRAPHIC_QUOTES:
        message = (
            f"typographic quote {char} (pasted from a document?): use straight quotes,"
            " ' for strings and \" for delimited identifiers"
        )
    elif char == "'":
        message = "unterminated string literal: close the ' opened here with another '"
    elif char == '"':
        message = (
            "empty delimited identifier: write a name between the double quotes"
            if text.startswith('""', offset)
            else 'unterminated delimited identifier: close the " opened here with another "'
        )
    elif char == ";":
        message = (
            "ADQL has no statement terminator: remove the ';'"
            if _BLANK_OR_COMMENTS.fullmatch(text, offset + 1)
            else "';' is not ADQL: send a single query without semicolons"
        )
    elif char == "!":
        message = "'!' is only valid in '!=' (not equal); write '<>' or '!='"
    elif char.isdigit() or char == ".":
        message = "malformed number: check the digits, and separate a number from a following name"
    elif char == "_":
        message = "a name must start with a letter; write it in double quotes to keep it"
    else:
        message = f"character {char!r} is not allowed here in ADQL"
    return make_error(text, message, offset, 1, expected)
