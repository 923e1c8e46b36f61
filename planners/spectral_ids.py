"""``specobjid`` predicates moved between the gateway's unsigned ids and the service's signed ones.

The gateway's representation of a specobjid is the unsigned 64-bit number SDSS publishes
(``0 <= id < 2**64``): ADQL literals, comparisons, ordering and results all use it. The legacy
service splices ``cond`` into SQL over a signed ``bigint`` column, where ids >= 2**63 are
negative (spectro-ids.md A.5), so a predicate written for unsigned values cannot be sent as
it is: ``specobjid > 0`` would drop every id >= 2**63 there. The reverse holds for a ``cond``
read back into ADQL (``to-adql --from spectral``).

:func:`to_signed_domain` and :func:`to_unsigned_domain` rewrite each ``specobjid op <integer
literal>`` atom (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``, ``[NOT] BETWEEN``, ``[NOT] IN``)
into a condition selecting exactly the same ids in the other representation: an interval is
one interval there, or two when it contains the point where the representations wrap
(2**63 unsigned, 0 signed). Integers no id can equal drop out (``= -5`` never holds). Any
other use of ``specobjid`` (arithmetic, a comparison with another column, a non-integer
literal) makes the whole condition untranslatable (None), so the planner leaves it to the
gateway. Bounds at the ends of the target range are left out, so the signed side never
prints ``-2**63`` (which has no positive literal to negate).
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar import nodes as n
from grammar.walk import iter_nodes
from planners import predicates as p
from planners.sql_catalog import ColumnInfo

ID_COLUMN = "specobjid"
_TOP = 1 << 64
_HALF = 1 << 63
_ID_INFO = (ColumnInfo(ID_COLUMN, "long"),)


@dataclass(frozen=True, slots=True)
class _Domain:
    """One representation of the ids: its range and the value at which it wraps."""

    low: int
    high: int
    wrap: int
    """The first value whose twin in the other representation is not itself."""

    def other(self, value: int) -> int:
        """``value`` (in range) in the other representation: the same 64 bits."""
        return value - _TOP if value >= _HALF else value + _TOP if value < 0 else value


_UNSIGNED = _Domain(0, _TOP - 1, _HALF)
_SIGNED = _Domain(-_HALF, _HALF - 1, 0)


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


def _range(low: int, high: int, target: _Domain) -> n.SearchCondition:
    """``low <= specobjid <= high`` in ``target``, bounds at its ends left out."""
    if low == high:
        return _cmp("=", low)
    bounds = []
    if low > target.low:
        bounds.append(_cmp(">=", low))
    if high < target.high:
        bounds.append(_cmp("<=", high))
    if len(bounds) == 2:
        return n.BetweenPredicate(_column(), _number(low), _number(high))
    return bounds[0] if bounds else _not_null()


def _interval(low: int, high: int, source: _Domain, target: _Domain) -> n.SearchCondition:
    """The ``target`` condition selecting the ids in ``[low, high]`` of ``source`` (clamped)."""
    low, high = max(low, source.low), min(high, source.high)
    if low > high:
        return _false()
    if high < source.wrap or low >= source.wrap:
        return _range(source.other(low), source.other(high), target)
    # The interval holds the wrap point: two pieces, each monotonic in the target.
    first = _range(source.other(low), source.other(source.wrap - 1), target)
    second = _range(source.other(source.wrap), source.other(high), target)
    return n.OrCondition((first, second))


def interval(low: int, high: int) -> n.SearchCondition:
    """The signed-column condition selecting unsigned ids in ``[low, high]`` (clamped)."""
    return _interval(low, high, _UNSIGNED, _SIGNED)


def _integer(value: p.Scalar) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _comparison(cmp: p.Comparison, source: _Domain, target: _Domain) -> n.SearchCondition | None:
    value = _integer(cmp.value)
    if value is None:
        return None
    if cmp.op in {"=", "<>"}:
        if not source.low <= value <= source.high:  # no id: "=" never holds, "<>" always
            return _false() if cmp.op == "=" else _not_null()
        return _cmp(cmp.op, source.other(value))
    low, high = {
        "<": (source.low, value - 1),
        "<=": (source.low, value),
        ">": (value + 1, source.high),
        ">=": (value, source.high),
    }[cmp.op]
    return _interval(low, high, source, target)


def _atom(cond: n.SearchCondition, source: _Domain, target: _Domain) -> n.SearchCondition | None:
    """One specobjid atom in ``target``, None when it is not a supported shape."""
    cmp = p.comparison(cond, _ID_INFO)
    if cmp is not None:
        return _comparison(cmp, source, target)
    if isinstance(cond, n.BetweenPredicate):
        bounds = p.between(n.BetweenPredicate(cond.operand, cond.low, cond.high), _ID_INFO)
        ends = (None, None) if bounds is None else (_integer(bounds[1]), _integer(bounds[2]))
        if ends[0] is None or ends[1] is None:
            return None
        inside = _interval(ends[0], ends[1], source, target)
        return n.NotCondition(inside) if cond.negated else inside
    if isinstance(cond, n.InPredicate):
        listed = p.in_list(n.InPredicate(cond.operand, cond.values), _ID_INFO)
        values = [] if listed is None else [_integer(v) for v in listed[1]]
        if listed is None or any(v is None for v in values):
            return None
        ids = [v for v in values if v is not None and source.low <= v <= source.high]
        if not ids:  # integers no id equals drop out of the list
            return _not_null() if cond.negated else _false()
        twins = tuple(_number(source.other(v)) for v in ids)
        return n.InPredicate(_column(), twins, negated=cond.negated)
    return None


def _mentions_id(cond: n.SearchCondition) -> bool:
    return any(
        isinstance(node, n.ColumnReference)
        and (node.name.name if node.name.delimited else node.name.key) == ID_COLUMN
        for node in iter_nodes(cond)
    )


def _rewrite(cond: n.SearchCondition, source: _Domain, target: _Domain) -> n.SearchCondition | None:
    if not _mentions_id(cond):
        return cond
    if isinstance(cond, n.NotCondition):
        inner = _rewrite(cond.operand, source, target)
        return None if inner is None else n.NotCondition(inner)
    if isinstance(cond, (n.AndCondition, n.OrCondition)):
        parts = [_rewrite(c, source, target) for c in cond.operands]
        if any(part is None for part in parts):
            return None
        return type(cond)(tuple(part for part in parts if part is not None))
    return _atom(cond, source, target)


def to_signed_domain(cond: n.SearchCondition) -> n.SearchCondition | None:
    """``cond`` over unsigned ids as a condition on the service's signed column.

    None when ``cond`` uses ``specobjid`` other than in the atoms above; conditions that do
    not mention it come back unchanged.
    """
    return _rewrite(cond, _UNSIGNED, _SIGNED)


def to_unsigned_domain(cond: n.SearchCondition) -> n.SearchCondition | None:
    """The inverse of :func:`to_signed_domain`: a service ``cond`` over unsigned ids."""
    return _rewrite(cond, _SIGNED, _UNSIGNED)
