"""Where in the ADQL a runtime fault happened, when the query says it unambiguously.

DuckDB reports a division by zero, a failed conversion or an integer overflow in terms of
the SQL it ran, not of the user's ADQL. When the query holds exactly one construct that can
fail that way (one non-constant division or MOD, one CAST, one integer arithmetic operator),
the fault is that construct: the message then names it with its line and column. With
several candidates nothing is guessed and the message stays as the engine gave it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

from gateway.engine_faults import engine_fault
from gateway.typecheck import excerpt
from grammar import nodes as n
from grammar.errors import AdqlError
from grammar.walk import iter_nodes

__all__ = ["QueryFault", "faults_located", "located"]


class QueryFault(AdqlError):
    """A runtime fault of the query, placed at the construct that raised it (HTTP 400)."""


def _nonzero_literal(node: n.ValueExpression) -> bool:
    return isinstance(node, n.NumericLiteral) and node.value != 0


def _candidates(exc: duckdb.Error, query: n.Query) -> list[n.ValueExpression]:
    nodes = list(iter_nodes(query))
    if isinstance(exc, duckdb.InvalidInputException) and "division by zero" in str(exc).lower():
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
    if isinstance(exc, duckdb.ConversionException):
        return [node for node in nodes if isinstance(node, n.Cast)]
    if isinstance(exc, duckdb.OutOfRangeException):
        return [
            node
            for node in nodes
            if (isinstance(node, n.BinaryExpression) and node.op in {"+", "-", "*"})
            or (isinstance(node, n.SetFunction) and node.name == "SUM")
            or (isinstance(node, n.UnaryExpression) and node.op == "-")
        ]
    return []


def located(exc: BaseException, query: n.Query) -> BaseException:
    """``exc`` as a :class:`QueryFault` at its construct, or ``exc`` itself."""
    fault = engine_fault(exc)
    if fault is None or fault[0] != 400 or not isinstance(exc, duckdb.Error):
        return exc
    candidates = _candidates(exc, query)
    if len(candidates) != 1:
        return exc
    node = candidates[0]
    span = node.span
    message = f"{fault[2]}, in {excerpt(node)} at line {span.line}, column {span.column}"
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
