"""Conditions in normal form and SIA parameter groups (specs/sia-obscore.md §5, step 1).

SIA ANDs different parameters and ORs the repeats of one parameter, so a WHERE clause maps
onto SIA through its conjunctive normal form: every AND term must become *one* parameter
group, every disjunct of the term a value of that same parameter. :func:`nnf` pushes NOT
down to the predicates (De Morgan holds in SQL's three-valued logic, and ``NOT a < b`` is
``a >= b`` there too); :func:`cnf_clauses` distributes OR over AND within a size bound.
A :class:`Group` is one parameter's alternatives; :func:`render_group` turns it into SIA
values and says whether SIA then evaluates the group exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import product

from grammar import nodes as n
from planners.sia_atoms import Bound, Constraint, Kind, Value, meet
from planners.sia_obscore import INTERVAL_OVERLAP, INTERVAL_WITHIN, NONNEGATIVE, SIA_DPTYPES

__all__ = ["Group", "cnf_clauses", "merge_groups", "nnf", "render_group"]

MAX_CLAUSES = 64
"""CNF distribution gives up beyond this many clauses (it can grow exponentially)."""
MAX_ALTERNATIVES = 16
"""At most this many values of one parameter are sent."""

_NEGATE: dict[n.ComparisonOperator, n.ComparisonOperator] = {
    "=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">",
}  # fmt: skip


def nnf(c: n.SearchCondition, negate: bool = False) -> n.SearchCondition:
    """``c`` (or ``NOT c``) with negations pushed down to the predicates."""
    match c:
        case n.AndCondition() | n.OrCondition():
            parts = tuple(nnf(o, negate) for o in c.operands)
            flip = isinstance(c, n.AndCondition) == negate
            return n.OrCondition(parts, span=c.span) if flip else n.AndCondition(parts, span=c.span)
        case n.NotCondition():
            return nnf(c.operand, not negate)
        case n.ComparisonPredicate():
            return replace(c, op=_NEGATE[c.op]) if negate else c
        case n.BetweenPredicate() | n.InPredicate() | n.LikePredicate() | n.NullPredicate():
            return replace(c, negated=c.negated != negate) if negate else c
        case n.ExistsPredicate():
            return n.NotCondition(c, span=c.span) if negate else c


def _flat(
    c: n.SearchCondition, kind: type[n.AndCondition | n.OrCondition]
) -> list[n.SearchCondition]:
    if isinstance(c, kind):
        return [x for o in c.operands for x in _flat(o, kind)]
    return [c]


def conjunct_list(c: n.SearchCondition) -> list[n.SearchCondition]:
    """The AND terms of ``c`` (nested ANDs flattened)."""
    return _flat(c, n.AndCondition)


def disjunct_list(c: n.SearchCondition) -> list[n.SearchCondition]:
    """The OR terms of ``c`` (nested ORs flattened)."""
    return _flat(c, n.OrCondition)


def cnf_clauses(c: n.SearchCondition) -> list[list[n.SearchCondition]] | None:
    """``c`` (in NNF) as a list of OR-clauses of atoms; None beyond :data:`MAX_CLAUSES`."""
    if isinstance(c, n.AndCondition):
        out: list[list[n.SearchCondition]] = []
        for o in c.operands:
            sub = cnf_clauses(o)
            if sub is None:
                return None
            out += sub
        return out if len(out) <= MAX_CLAUSES else None
    if isinstance(c, n.OrCondition):
        clauses: list[list[n.SearchCondition]] = [[]]
        for o in c.operands:
            sub = cnf_clauses(o)
            if sub is None or len(clauses) * len(sub) > MAX_CLAUSES:
                return None
            clauses = [a + b for a, b in product(clauses, sub)]
        return clauses
    return [[c]]


@dataclass(frozen=True, slots=True)
class Group:
    """One parameter's alternatives (ORed); a ``set`` group holds a single frozenset."""

    param: str
    kind: Kind
    values: tuple[Value, ...]
    exact: bool

    @classmethod
    def of(cls, alternatives: list[Constraint]) -> Group | None:
        """The OR of constraints on one parameter."""
        first = alternatives[0]
        if any(a.param != first.param or a.kind != first.kind for a in alternatives):
            return None
        exact = all(a.exact for a in alternatives)
        if first.kind == "set":
            union = frozenset().union(
                *(a.value for a in alternatives if isinstance(a.value, frozenset))
            )
            return cls(first.param, "set", (union,), exact)
        values = tuple(dict.fromkeys(a.value for a in alternatives))
        return (
            cls(first.param, first.kind, values, exact) if len(values) <= MAX_ALTERNATIVES else None
        )


def merge_groups(a: Group, b: Group) -> Group | None:
    """Both groups at once (AND), or None when one SIA parameter cannot say it."""
    if a.param != b.param or a.kind != b.kind or a.kind == "shape":
        return None
    values: list[Value] = []
    for x, y in product(a.values, b.values):
        both = meet(
            Constraint(a.param, a.kind, x, exact=True), Constraint(b.param, b.kind, y, exact=True)
        )
        if both is None:
            return None
        if not (isinstance(both.value, tuple) and any(bd.empty for _, bd in both.value)):
            values.append(both.value)
    if len(values) > MAX_ALTERNATIVES:
        return None
    return Group(a.param, a.kind, tuple(dict.fromkeys(values)), a.exact and b.exact)


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _interval(param: str, lo: float, hi: float, exact: bool) -> tuple[str, bool] | None:
    if param in NONNEGATIVE:
        if hi < 0:
            return None
        if math.isfinite(lo) and lo < 0:
            lo, exact = -math.inf, False
    return f"{_num(lo)} {_num(hi)}", exact


def _render_box(param: str, box: dict[str, Bound]) -> tuple[str, bool] | None:
    if param in INTERVAL_WITHIN:
        b = box.get(INTERVAL_WITHIN[param], Bound())
        return _interval(param, b.lo, b.hi, not b.strict)
    if param in INTERVAL_OVERLAP:
        cmin_name, cmax_name = INTERVAL_OVERLAP[param]
        cmin, cmax = box.get(cmin_name, Bound()), box.get(cmax_name, Bound())
        lo, hi = max(cmax.lo, cmin.lo), min(cmin.hi, cmax.hi)
        exact = (
            cmin.lo == -math.inf
            and cmax.hi == math.inf
            and math.isfinite(cmin.hi)
            and math.isfinite(cmax.lo)
            and not (cmin.strict or cmax.strict)
        )
        if lo > hi:  # the data interval must contain [hi, lo]: it then also overlaps it
            lo, hi, exact = hi, lo, False
        return _interval(param, lo, hi, exact)
    ra, dec = box.get("s_ra", Bound()), box.get("s_dec", Bound())
    lon1, lon2 = max(ra.lo, 0.0), min(ra.hi, 360.0)
    lat1, lat2 = max(dec.lo, -90.0), min(dec.hi, 90.0)
    if lon1 > lon2 or lat1 > lat2 or (lon1, lon2, lat1, lat2) == (0.0, 360.0, -90.0, 90.0):
        return None
    return f"RANGE {_num(lon1)} {_num(lon2)} {_num(lat1)} {_num(lat2)}", False


def render_group(g: Group) -> tuple[tuple[str, ...], bool] | None:
    """SIA values of a group and whether SIA evaluates them exactly; None if unsayable.

    An empty tuple of values means no row can match (the backend contributes nothing).
    """
    if g.kind == "set":
        (allowed,) = g.values
        assert isinstance(allowed, frozenset)
        if g.param == "DPTYPE":
            allowed = allowed & SIA_DPTYPES  # an SIA service returns nothing else
        return tuple(sorted(allowed)), g.exact
    if g.kind == "shape":
        return tuple(str(v) for v in g.values), g.exact
    texts: list[str] = []
    exact = g.exact
    for value in g.values:
        assert isinstance(value, tuple)
        rendered = _render_box(g.param, dict(value))
        if rendered is None:
            return None
        texts.append(rendered[0])
        exact = exact and rendered[1]
    return tuple(dict.fromkeys(texts)), exact
