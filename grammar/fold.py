"""Constant folding of search conditions: ``1.0/3600`` becomes one literal before planning.

Planners recognise pushable shapes (a cone radius, a cross-match radius, ``col > value``) by
literal values. A radius written as an expression (``1.0/3600``, ``2*0.5``, ``-(3)``,
``CAST(1 AS DOUBLE PRECISION)``) must read exactly like the literal it stands for, or the
whole table behind it is fetched. :func:`fold_conditions` rewrites the WHERE, HAVING and
JOIN ... ON conditions of a query (never the select list, whose unaliased output names come
from the written expression, nor ORDER BY, where an integer literal means a column
position) into new frozen nodes; each folded literal keeps the span of the expression it
replaces.

Only what every engine computes the same way is folded; the rest stays as written so the
engine evaluates (or reports) it:

* ``+ - * /`` over numeric literals, after ADQL's typing: integer operands give an integer
  (``7/2`` is 3), any approximate or decimal operand gives a double (``1.0/3600``);
* integer division only with non-negative operands (engines disagree on truncating or
  flooring negative quotients), and integer results only within 32 bits (an engine types
  small integer literals as INTEGER and may report an overflow);
* never a division by zero, nor a result that is not finite (the engine reports it);
* signs (``-(3)``, ``- -1``) and CAST of a numeric literal to a numeric type: to DOUBLE
  PRECISION always, to REAL rounded to 32 bits, to an integer type only from an integer.
"""

from __future__ import annotations

import math
import struct
from dataclasses import replace
from typing import Any

from grammar import nodes as n
from grammar.walk import NotALiteralError, literal_value, transform

__all__ = ["fold_conditions", "fold_expression"]

_INT32 = 1 << 31
_INTEGER_CASTS = {"SMALLINT": 1 << 15, "INTEGER": _INT32, "INT": _INT32, "BIGINT": 1 << 63}
_DOUBLE_CASTS = frozenset({"DOUBLE PRECISION", "DOUBLE"})

Number = int | float


def _number(expr: n.ValueExpression) -> Number | None:
    """The value of a numeric literal, signs included; None for anything else."""
    try:
        value = literal_value(expr)
    except NotALiteralError:
        return None
    return value if isinstance(value, int | float) else None


def _literal(value: Number, span: n.Span) -> n.ValueExpression:
    """A literal holding ``value`` exactly (a sign node for negatives), at ``span``."""
    text = str(abs(value)) if isinstance(value, int) else repr(abs(value))
    literal = n.NumericLiteral(text, span=span)
    return n.UnaryExpression("-", literal, span=span) if value < 0 else literal


def _arithmetic(op: str, a: Number, b: Number) -> Number | None:
    if isinstance(a, int) and isinstance(b, int):
        if op == "/":
            if b == 0 or a < 0 or b < 0:
                return None
            result: Number = a // b
        else:
            result = a + b if op == "+" else a - b if op == "-" else a * b
        return result if -_INT32 <= result < _INT32 else None
    x, y = float(a), float(b)
    if op == "/":
        if y == 0.0:
            return None
        value = x / y
    else:
        value = x + y if op == "+" else x - y if op == "-" else x * y
    return value if math.isfinite(value) else None


def _cast(node: n.Cast) -> Number | None:
    value = _number(node.operand)
    if value is None or node.target.length is not None:
        return None
    target = " ".join(node.target.name.upper().split())
    if target in _DOUBLE_CASTS:
        return float(value)
    if target == "REAL":
        try:
            (rounded,) = struct.unpack("f", struct.pack("f", float(value)))
        except OverflowError:
            return None
        return float(rounded) if math.isfinite(rounded) else None
    limit = _INTEGER_CASTS.get(target)
    if limit is not None and isinstance(value, int) and -limit <= value < limit:
        return value
    return None


def _fold_node(node: Any) -> Any:
    """One bottom-up step: children are folded already."""
    value: Number | None = None
    if isinstance(node, n.BinaryExpression) and node.op in {"+", "-", "*", "/"}:
        a, b = _number(node.left), _number(node.right)
        if a is not None and b is not None:
            value = _arithmetic(node.op, a, b)
    elif isinstance(node, n.UnaryExpression) and node.op in "+-":
        inner = _number(node)
        # Already canonical (one minus on a literal, or a bare literal): keep the node.
        canonical = node.op == "-" and isinstance(node.operand, n.NumericLiteral)
        value = None if canonical else inner
    elif isinstance(node, n.Cast):
        value = _cast(node)
    return node if value is None else _literal(value, node.span)


def fold_expression(expr: n.ValueExpression) -> n.ValueExpression:
    """``expr`` with every constant numeric subexpression folded (see the module notes)."""
    return transform(expr, _fold_node)


def _fold_condition(cond: n.SearchCondition | None) -> n.SearchCondition | None:
    return None if cond is None else transform(cond, _fold_node)


def _fold_clauses(node: Any) -> Any:
    if isinstance(node, n.SelectQuery):
        where, having = _fold_condition(node.where), _fold_condition(node.having)
        if where is node.where and having is node.having:
            return node
        return replace(node, where=where, having=having)
    if isinstance(node, n.JoinedTable) and node.condition is not None:
        condition = _fold_condition(node.condition)
        if condition is not node.condition:
            return replace(node, condition=condition)
    return node


def fold_conditions(query: n.Query) -> n.Query:
    """``query`` with constant expressions folded in every WHERE, HAVING and ON condition.

    Pure: returns a new tree sharing unchanged subtrees (``query`` itself when nothing
    folds). Idempotent.
    """
    return transform(query, _fold_clauses)
