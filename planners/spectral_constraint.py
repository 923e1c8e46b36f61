"""The SQL ``cond`` of the legacy spectral service, printed from the AST over an allow-list.

The legacy service splices ``cond`` into SQL (spectro-ids.md A.4), so nothing a user typed is
ever passed through: a conjunct is pushed only if every node in it is in the small subset
below, every column is in the table's allow-list, and both sides of each comparison have
the same kind (number or text); the text sent is then printed from the AST by
:func:`grammar.to_adql`, with column names replaced by their catalogue spelling. The subset
is the intersection of PostgreSQL and the stand-in's evaluator with the same semantics as
ADQL: no ``/`` (integer division differs), no bitwise operators, no hexadecimal literals,
no NULL literals outside ``IS [NOT] NULL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from grammar import nodes as n
from grammar.printer import to_adql
from grammar.walk import transform

Kind = Literal["num", "str"]
_ARITHMETIC = frozenset({"+", "-", "*"})


def _kind(expr: n.ValueExpression, allowed: Mapping[str, Kind]) -> Kind | None:
    """The kind of an allowed value expression, None when the expression is not allowed."""
    if isinstance(expr, n.ColumnReference):
        return allowed.get(expr.name.name if expr.name.delimited else expr.name.key)
    if isinstance(expr, n.NumericLiteral):
        return None if expr.text.lower().startswith("0x") else "num"
    if isinstance(expr, n.StringLiteral):
        return "str"
    if isinstance(expr, n.UnaryExpression) and expr.op in "+-":
        return "num" if _kind(expr.operand, allowed) == "num" else None
    if isinstance(expr, n.BinaryExpression):
        left, right = _kind(expr.left, allowed), _kind(expr.right, allowed)
        if expr.op in _ARITHMETIC and left == right == "num":
            return "num"
        if expr.op == "||" and left == right == "str":
            return "str"
        return None
    if isinstance(expr, n.FunctionCall) and len(expr.args) == 1:
        arg = _kind(expr.args[0], allowed)
        if expr.name == "ABS" and arg == "num":
            return "num"
        if expr.name in {"LOWER", "UPPER"} and arg == "str":
            return "str"
    return None


def _same(allowed: Mapping[str, Kind], *exprs: n.ValueExpression) -> bool:
    kinds = {_kind(e, allowed) for e in exprs}
    return len(kinds) == 1 and None not in kinds


def pushable(cond: n.SearchCondition, allowed: Mapping[str, Kind]) -> bool:
    """Whether ``cond`` lies entirely in the subset (``allowed``: lower-case name -> kind)."""
    if isinstance(cond, n.ComparisonPredicate):
        return _same(allowed, cond.left, cond.right)
    if isinstance(cond, n.BetweenPredicate):
        return _same(allowed, cond.operand, cond.low, cond.high)
    if isinstance(cond, n.InPredicate):
        return not isinstance(cond.values, n.Query) and _same(allowed, cond.operand, *cond.values)
    if isinstance(cond, n.LikePredicate):
        return _kind(cond.operand, allowed) == "str" and isinstance(cond.pattern, n.StringLiteral)
    if isinstance(cond, n.NullPredicate):
        return _kind(cond.operand, allowed) is not None
    if isinstance(cond, n.NotCondition):
        return pushable(cond.operand, allowed)
    if isinstance(cond, (n.AndCondition, n.OrCondition)):
        return all(pushable(c, allowed) for c in cond.operands)
    return False


def render(cond: n.SearchCondition, spelling: Mapping[str, str]) -> str:
    """The ``cond`` text of a pushable condition, columns in catalogue spelling.

    ``spelling`` maps lower-case names to catalogue names; those are all lower-case regular
    identifiers in SDSS, so the printed text is valid SQL as well as ADQL.
    """

    def rename(node: Any) -> Any:
        if isinstance(node, n.ColumnReference):
            key = node.name.name if node.name.delimited else node.name.key
            return n.ColumnReference(n.Identifier(spelling.get(key, node.name.name)))
        return node

    text = to_adql(transform(replace(cond), rename))
    # Conjuncts are joined with AND in ``cond``: an OR must keep its own parentheses.
    return f"({text})" if isinstance(cond, n.OrCondition) else text
