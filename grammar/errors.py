"""The error hierarchy shared by the compiler, the planners and the gateway.

Every error knows where it happened: a :class:`~grammar.nodes.Span` in the ADQL text, or a
:class:`ParamRef` naming the REST parameter. All are ``ValueError`` subclasses, so callers
that only care about "bad input" can catch that.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import override

from grammar.nodes import Span


@dataclass(frozen=True, slots=True)
class ParamRef:
    """The location of an error in a parameter mapping: the parameter's key as written."""

    key: str


Location = Span | ParamRef | None


EXCERPT_BEFORE = 60
"""Characters of the offending line shown before the error column."""
EXCERPT_AFTER = 40
"""Characters shown after the offending text."""


def caret_excerpt(text: str, line: int, column: int, width: int = 1) -> str:
    """Return the 1-based ``line`` of ``text`` with a caret line under ``column``.

    Tabs in the source line are kept in the caret line, so the caret lines up in a terminal.
    A long line (a generated query can be one line of megabytes) is cut to a window around the
    column, marked with ``...`` at the cut ends, so the message stays readable and small.
    """
    lines = text.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1]
    at = max(column - 1, 0)
    start = max(at - EXCERPT_BEFORE, 0)
    end = min(at + max(width, 1) + EXCERPT_AFTER, len(source))
    head = "..." if start > 0 else ""
    tail = "..." if end < len(source) else ""
    pad = " " * len(head) + "".join("\t" if ch == "\t" else " " for ch in source[start:at])
    caret = "^" * max(min(width, end - at), 1)
    return f"  {head}{source[start:end]}{tail}\n  {pad}{caret}"


class AdqlError(ValueError):
    """Base class: a message and where the problem is."""

    def __init__(self, message: str, location: Location = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    @property
    def line(self) -> int | None:
        """1-based line of the problem, when it is in ADQL text."""
        return self.location.line if isinstance(self.location, Span) else None

    @property
    def column(self) -> int | None:
        """1-based column of the problem, when it is in ADQL text."""
        return self.location.column if isinstance(self.location, Span) else None


class AdqlSyntaxError(AdqlError):
    """The text is not ADQL 2.1.

    ``line`` and ``column`` are 1-based; ``expected`` lists what the grammar would have
    accepted there (token descriptions such as ``'FROM'`` or ``identifier``). ``str(err)``
    carries the explanation, the position and a caret excerpt of the offending line.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int,
        expected: tuple[str, ...] = (),
        offset: int = 0,
        excerpt: str = "",
    ) -> None:
        where = f" at line {line}, column {column}"
        full = f"{message}{where}" + (f"\n{excerpt}" if excerpt else "")
        span = Span(offset, offset, line, column, line, column)
        super().__init__(full, span)
        self.reason = message
        self.expected = expected
        self.excerpt = excerpt

    @property
    @override
    def line(self) -> int:
        """1-based line of the error."""
        assert isinstance(self.location, Span)
        return self.location.line

    @property
    @override
    def column(self) -> int:
        """1-based column of the error."""
        assert isinstance(self.location, Span)
        return self.location.column


@dataclass(frozen=True, slots=True)
class SemanticProblem:
    """One problem found while resolving names and types."""

    message: str
    location: Location = None

    def render(self) -> str:
        """The message with its position, if it has one."""
        if isinstance(self.location, Span) and self.location.line:
            return f"{self.message} at line {self.location.line}, column {self.location.column}"
        if isinstance(self.location, ParamRef):
            return f"{self.message} (parameter '{self.location.key}')"
        return self.message


MESSAGE_PROBLEMS = 20
"""How many semantic problems a message lists before it counts the rest."""


class AdqlSemanticError(AdqlError):
    """The text parses but does not make sense: unknown or ambiguous names, bad arity.

    Resolution collects every problem and raises once; ``problems`` holds them all and the
    first one gives ``location``.
    """

    def __init__(self, problems: list[SemanticProblem] | tuple[SemanticProblem, ...]) -> None:
        if not problems:
            msg = "AdqlSemanticError needs at least one problem"
            raise ValueError(msg)
        self.problems = tuple(problems)
        # A generated query can repeat one mistake thousands of times: the message names the
        # first few and counts the rest (``problems`` keeps them all).
        shown = [p.render() for p in self.problems[:MESSAGE_PROBLEMS]]
        if len(self.problems) > MESSAGE_PROBLEMS:
            shown.append(f"... and {len(self.problems) - MESSAGE_PROBLEMS} more problems")
        super().__init__("\n".join(shown), self.problems[0].location)


class ParamError(AdqlError):
    """A REST-style parameter (HSC filters, SIAv2 parameters) is malformed."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(f"{message} (parameter '{key}')", ParamRef(key))
        self.key = key


class UnsupportedError(AdqlError):
    """Valid ADQL that a backend (or the gateway) cannot evaluate; names both."""

    def __init__(
        self, construct: str, backend: str | None = None, location: Location = None
    ) -> None:
        where = ""
        if isinstance(location, Span) and location.line:
            where = f" at line {location.line}, column {location.column}"
        who = f"backend '{backend}'" if backend else "the gateway"
        super().__init__(f"{construct} is not supported by {who}{where}", location)
        self.construct = construct
        self.backend = backend
