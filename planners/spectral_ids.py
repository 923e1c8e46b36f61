"""Unsigned ``specobjid`` predicates rewritten for the legacy service's signed database column.

The gateway's representation of a specobjid is the unsigned 64-bit number SDSS publishes
(``0 <= id < 2**64``): ADQL literals, comparisons, ordering and results all use it. The legacy
service splices ``cond`` into SQL over a signed ``bigint`` column, where ids >= 2**63 are
negative (spectro-ids.md A.5), so a predicate written for unsigned values cannot be sent as
it is: ``specobjid > 0`` would drop every id >= 2**63 there.

:func:`to_signed_domain` rewrites each ``specobjid op <integer literal>`` atom (``=``, ``<>``,
``<``, ``<=``, ``>``, ``>=``, ``[NOT] BETWEEN``, ``[NOT] IN``) into a condition on the signed
column that selects exactly the same rows: an unsigned interval is one signed interval, or
the union of ``[lo, 2**63 - 1]`` and ``[-2**63, hi - 2**64]`` when it straddles 2**63. Any
other use of ``specobjid`` (arithmetic, a comparison with another column, a non-integer or
out-of-range literal) makes the whole conjunct unpushable, so it is evaluated by the gateway
over unsigned values instead. Numbers printed stay strictly inside the signed range, so the
service never sees ``-2**63`` (which has no positive literal to negate).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from grammar import nodes as n
from grammar.walk import iter_nodes
from planners import predicates as p
from planners.sql_catalog import ColumnInfo

ID_COLUMN = "specobjid"
_TOP = 1 << 64
_HALF = 1 << 63
_ID_INFO = (ColumnInfo(ID_COLUMN, "long"),)

Rewrite: TypeAlias = Callable[[n.SearchCondition], n.SearchCondition | None]


def _column() -> n.ColumnReference:
    return n.ColumnReference(n.Identifier(ID_COLUMN))


def _number(value: int) -> n.ValueExpression:
    literal = n.NumericLiteral(str(abs(value)))
    return n.UnaryExpression("-", literal) if value < 0 else literal


def _cmp(op: p.Op, value: int) -> n.SearchCondition:
    return n.ComparisonPredicate(op, _column(), _number(value))


def _false() -> n.SearchCondition:
    return n.ComparisonPredicate("=", n.NumericLiteral("1"), n.NumericLiteral("0"))


def _not_null() -> n.SearchCondition:
    return n.NullPredicate(_column(), negated=True)


def _signed(value: int) -> int:
    return value - _TOP if value >= _HALF else value


def _signed_range(low: int, high: int) -> n.SearchCondition:
    """``low <= specobjid <= high`` on the signed column, both bounds of the same sign.

    A bound at the end of the signed range is left out: it holds for every row.
    """
    if low == high:
        return _cmp("=", low)
    bounds = []
    if low > -_HALF:
        bounds.append(_cmp(">=", low))
    if high < _HALF - 1:
        bounds.append(_cmp("<=", high))
    if len(bounds) == 2:
        return n.BetweenPredicate(_column(), _number(low), _number(high))
    return bounds[0]


def interval(low: int, high: int) -> n.SearchCondition:
    """The signed-column condition selecting unsigned ids in ``[low, high]`` (clamped)."""
    low, high = max(low, 0), min(high, _TOP - 1)
    if low > high:
        return _false()
    if high < _HALF or low >= _HALF:
        return _signed_range(_signed(low), _signed(high))
    upper = _signed_range(low, _HALF - 1)
    lower = _signed_range(-_HALF, _signed(high))
    return n.OrCondition((upper, lower))


def _id_literal(value: p.Scalar | None) -> int | None:
    """An integer literal's value when it can equal some specobjid, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _TOP:
        return None
    return value


def _comparison(cmp: p.Comparison) -> n.SearchCondition | None:
    value = cmp.value
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if cmp.op in {"=", "<>"}:
        if _id_literal(value) is None:  # no id equals it: "=" never holds, "<>" always
            return _false() if cmp.op == "=" else _not_null()
        return _cmp(cmp.op, _signed(value))
    low, high = {
        "<": (0, value - 1),
        "<=": (0, value),
        ">": (value + 1, _TOP - 1),
        ">=": (value, _TOP - 1),
    }[cmp.op]
    return interval(low, high)


def _atom(cond: n.SearchCondition) -> n.SearchCondition | None:
    """The signed form of one specobjid atom, None when it is not a supported shape."""
    cmp = p.comparison(cond, _ID_INFO)
    if cmp is not None:
        return _comparison(cmp)
    if isinstance(cond, n.BetweenPredicate):
        bounds = p.between(n.BetweenPredicate(cond.operand, cond.low, cond.high), _ID_INFO)
        if bounds is None:
            return None
        _, low, high = bounds
        if any(isinstance(b, bool) or not isinstance(b, int) for b in (low, high)):
            return None
        inside = interval(int(low), int(high))
        return n.NotCondition(inside) if cond.negated else inside
    if isinstance(cond, n.InPredicate):
        values = p.in_list(n.InPredicate(cond.operand, cond.values), _ID_INFO)
        if values is None:
            return None
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values[1]):
            return None
        # Integers outside [0, 2**64) equal no id: they drop out of the list.
        ids = [i for i in (_id_literal(v) for v in values[1]) if i is not None]
        if not ids:
            return _not_null() if cond.negated else _false()
        signed = tuple(_number(_signed(i)) for i in ids)
        return n.InPredicate(_column(), signed, negated=cond.negated)
    return None


def _mentions_id(cond: n.SearchCondition) -> bool:
    return any(
        isinstance(node, n.ColumnReference)
        and (node.name.name if node.name.delimited else node.name.key) == ID_COLUMN
        for node in iter_nodes(cond)
    )


def to_signed_domain(cond: n.SearchCondition) -> n.SearchCondition | None:
    """``cond`` with every specobjid atom on the signed column; None if one is unsupported.

    Conditions that do not mention ``specobjid`` come back unchanged.
    """
    if not _mentions_id(cond):
        return cond
    if isinstance(cond, n.NotCondition):
        inner = to_signed_domain(cond.operand)
        return None if inner is None else n.NotCondition(inner)
    if isinstance(cond, (n.AndCondition, n.OrCondition)):
        parts = [to_signed_domain(c) for c in cond.operands]
        if any(part is None for part in parts):
            return None
        operands = tuple(part for part in parts if part is not None)
        return type(cond)(operands)
    return _atom(cond)
