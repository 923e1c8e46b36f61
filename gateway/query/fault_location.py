"""Where in the ADQL a runtime fault happened, when the query says it unambiguously.

DuckDB reports a division by zero, a failed conversion or an integer overflow in terms of
the SQL it ran, not of the user's ADQL; a TAP backend in terms of the query it was sent.
When the query holds exactly one construct that can fail that way (one non-constant
division or MOD, one CAST, one integer arithmetic operator), the fault is that construct:
the message then names it with its line and column. With several candidates nothing is
guessed and the message stays as the engine or the backend gave it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Literal

import duckdb

from gateway.engine.faults import engine_fault
from gateway.errors import BackendError
from gateway.query.typecheck import excerpt
from grammar import nodes as n
from grammar.errors import AdqlError
from grammar.walk import iter_nodes

__all__ = ["QueryFault", "faults_located", "located"]


class QueryFault(AdqlError):
    """A runtime fault of the query, placed at the construct that raised it (HTTP 400)."""


def _nonzero_literal(node: n.ValueExpression) -> bool:
    return isinstance(node, n.NumericLiteral) and node.value != 0


FaultKind = Literal["zero", "conversion", "overflow"]

# How a TAP backend words the same faults (ours, PostgreSQL, DaCHS...).
_BACKEND_WORDING: tuple[tuple[FaultKind, re.Pattern[str]], ...] = (
    ("zero", re.compile(r"division by zero", re.IGNORECASE)),
    ("conversion", re.compile(r"conver|invalid input syntax", re.IGNORECASE)),
    ("overflow", re.compile(r"overflow|out of range", re.IGNORECASE)),
)
_BACKEND_POSITION = re.compile(r"( at line \d+, column \d+)")


def _kind(exc: BaseException) -> FaultKind | None:
    if isinstance(exc, duckdb.InvalidInputException) and "division by zero" in str(exc).lower():
        return "zero"
    if isinstance(exc, duckdb.ConversionException):
        return "conversion"
    if isinstance(exc, duckdb.OutOfRangeException):
        return "overflow"
    if isinstance(exc, BackendError) and exc.status == 400:
        return next((k for k, words in _BACKEND_WORDING if words.search(exc.cause)), None)
    return None


def _candidates(kind: FaultKind, query: n.Query) -> list[n.ValueExpression]:
    nodes = list(iter_nodes(query))
    if kind == "zero":
        divisions: list[n.ValueExpression] = [
            node
            for node in nodes
            if isinstance(node, n.BinaryExpression)
            and node.op == "/"
            and not _nonzero_literal(node.right)
        ]
        mods = [
            node
            for node in nodes
            if isinstance(node, n.FunctionCall)
            and node.name.upper() == "MOD"
            and not _nonzero_literal(node.args[-1])
        ]
        return divisions + mods
    if kind == "conversion":
        return [node for node in nodes if isinstance(node, n.Cast)]
    return [
        node
        for node in nodes
        if (isinstance(node, n.BinaryExpression) and node.op in {"+", "-", "*"})
        or (isinstance(node, n.SetFunction) and node.name == "SUM")
        or (isinstance(node, n.UnaryExpression) and node.op == "-")
    ]


def located(exc: BaseException, query: n.Query) -> BaseException:
    """``exc`` as a :class:`QueryFault` at its construct, or ``exc`` itself.

    A TAP backend's own position refers to the query the gateway sent it, not to the
    user's: it is replaced by the construct of the user's query when that is certain.
    """
    kind = _kind(exc)
    if kind is None:
        return exc
    candidates = _candidates(kind, query)
    if len(candidates) != 1:
        return exc
    node = candidates[0]
    span = node.span
    if isinstance(exc, BackendError):
        text = _BACKEND_POSITION.sub("", str(exc))
    else:
        fault = engine_fault(exc)
        assert fault is not None  # a DuckDB error, as _kind found
        text = fault[2]
    message = f"{text}, in {excerpt(node)} at line {span.line}, column {span.column}"
    return QueryFault(message, span)


@contextlib.contextmanager
def faults_located(query: n.Query) -> Iterator[None]:
    """Re-raise an engine fault of ``query`` placed at its construct, when that is certain."""
    try:
        yield
    except Exception as exc:
        placed = located(exc, query)
        if placed is exc:
            raise
        raise placed from exc
