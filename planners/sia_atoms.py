"""Recognising ADQL predicates on ObsCore as SIAv2 constraints (specs/sia-obscore.md §5).

An *atom* (one predicate) maps to at most one :class:`Constraint`: the parameter it speaks
to, a value of that parameter's kind, and whether SIA evaluates it exactly. Values of one
parameter combine by :func:`meet` (AND) and by collecting alternatives (OR, a repeated
parameter). Kinds:

``box``
    Per-column intervals (:class:`Bound`). BAND/TIME (``em_min``/``em_max``,
    ``t_min``/``t_max``), the within-interval parameters (FOV, SPATRES, SPECRP, EXPTIME,
    TIMERES), and ``POS`` ranges derived from ``s_ra``/``s_dec`` bounds.
``set``
    The allowed values of an equality parameter (COLLECTION, CALIB, ID, POL, ...).
``shape``
    One POS value (``CIRCLE ...`` / ``POLYGON ...``) as SIA text.

Assumed ObsCore invariants, used only to push *supersets* (the exact test stays residual):
``em_min <= em_max`` and ``t_min <= t_max`` with both ends NULL together, and the position
``(s_ra, s_dec)`` lies inside a non-NULL ``s_region``. Literal shapes become POS text in
:mod:`planners.sia_shapes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from grammar import nodes as n
from grammar.walk import NotALiteralError, literal_value
from planners.sia_obscore import (
    CALIB_LEVELS,
    EQUALITY_PARAMS,
    INTERVAL_OVERLAP,
    INTERVAL_WITHIN,
    POL_STATES,
)
from planners.sia_shapes import (
    TINY_RADIUS,  # noqa: F401 (re-exported: it lived here)
    shape_text,
)
from planners.sia_shapes import literal_number as _number

__all__ = ["Bound", "Constraint", "PosMode", "atom_constraint", "meet"]

PosMode = Literal["region", "centre"]
"""How the backend evaluates POS: against ``s_region`` (the standard) or the centre only."""

_FLIP: dict[n.ComparisonOperator, n.ComparisonOperator] = {
    "<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>",
}  # fmt: skip
_BOX_COLUMNS: dict[str, str] = {
    **{col: name for name, cols in INTERVAL_OVERLAP.items() for col in cols},
    **{col: name for name, col in INTERVAL_WITHIN.items()},
    "s_ra": "POS",
    "s_dec": "POS",
}
_SET_COLUMNS = {col: name for name, col in EQUALITY_PARAMS.items()}


@dataclass(frozen=True, slots=True)
class Bound:
    """An interval on one column; NULL never satisfies it."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_strict: bool = False
    hi_strict: bool = False

    def meet(self, other: Bound) -> Bound:
        """The intersection of two intervals."""
        if other.lo > self.lo or (other.lo == self.lo and other.lo_strict):
            lo, lo_strict = other.lo, other.lo_strict
        else:
            lo, lo_strict = self.lo, self.lo_strict
        if other.hi < self.hi or (other.hi == self.hi and other.hi_strict):
            hi, hi_strict = other.hi, other.hi_strict
        else:
            hi, hi_strict = self.hi, self.hi_strict
        return Bound(lo, hi, lo_strict, hi_strict)

    @property
    def empty(self) -> bool:
        """True if no value satisfies the interval."""
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_strict or self.hi_strict))

    @property
    def strict(self) -> bool:
        """True if either end is strict (SIA intervals are inclusive)."""
        return self.lo_strict or self.hi_strict


Box: TypeAlias = tuple[tuple[str, Bound], ...]
"""Column -> interval, sorted by column name."""
SetValue: TypeAlias = frozenset[str]
Value: TypeAlias = Box | SetValue | str
Kind = Literal["box", "set", "shape"]


@dataclass(frozen=True, slots=True)
class Constraint:
    """What one atom (or a conjunction of atoms on one parameter) says in SIA terms."""

    param: str
    kind: Kind
    value: Value
    exact: bool


def meet(a: Constraint, b: Constraint) -> Constraint | None:
    """Both constraints at once (AND), or None when SIA cannot say that with one value."""
    if a.param != b.param or a.kind != b.kind:
        return None
    exact = a.exact and b.exact
    if isinstance(a.value, tuple) and isinstance(b.value, tuple):
        merged = dict(a.value)
        for col, bound in b.value:
            merged[col] = merged[col].meet(bound) if col in merged else bound
        return Constraint(a.param, "box", tuple(sorted(merged.items())), exact)
    if isinstance(a.value, frozenset) and isinstance(b.value, frozenset):
        return Constraint(a.param, "set", a.value & b.value, exact)
    return None


# --------------------------------------------------------------------------- atoms


def _column(expr: n.ValueExpression, known: frozenset[str]) -> str | None:
    if not isinstance(expr, n.ColumnReference):
        return None
    ident = expr.name
    name = ident.name if ident.delimited else ident.name.lower()
    return name if name in known else None


def _string(expr: n.ValueExpression) -> str | None:
    try:
        value = literal_value(expr)
    except NotALiteralError:
        return None
    return value if isinstance(value, str) else None


def _bound(op: str, value: float) -> Bound | None:
    return {
        "=": Bound(value, value),
        "<": Bound(hi=value, hi_strict=True),
        "<=": Bound(hi=value),
        ">": Bound(lo=value, lo_strict=True),
        ">=": Bound(lo=value),
    }.get(op)


def _box(col: str, bound: Bound) -> Constraint:
    return Constraint(_BOX_COLUMNS[col], "box", ((col, bound),), not bound.strict)


def _set_value(col: str, value: n.ValueExpression) -> str | None:
    """The SIA text of an equality value, or None if the value cannot match at all."""
    if col == "calib_level":
        number = _number(value)
        if number is None or not number.is_integer():
            return None
        return str(int(number)) if int(number) in CALIB_LEVELS else None
    return _string(value)


def _equality(col: str, values: tuple[n.ValueExpression, ...]) -> Constraint | None:
    texts: set[str] = set()
    for value in values:
        if isinstance(value, n.NullLiteral):
            continue  # NULL never equals anything
        text = _set_value(col, value)
        if text is None:
            if col != "calib_level" or _number(value) is None:
                return None  # not a literal: not pushable
            continue  # a calibration level SIA cannot hold
        texts.add(text)
    param = _SET_COLUMNS[col]
    # ID matches case-insensitively at the service: keep the exact test as residual.
    return Constraint(param, "set", frozenset(texts), param != "ID")


def _lower_id(expr: n.ValueExpression, known: frozenset[str]) -> bool:
    return (
        isinstance(expr, n.FunctionCall)
        and expr.name.upper() == "LOWER"
        and len(expr.args) == 1
        and _column(expr.args[0], known) == "obs_publisher_did"
    )


def _lowered_literal(expr: n.ValueExpression) -> str | None:
    """``LOWER('x')`` -> ``x`` lower-cased; a plain literal is returned as written."""
    if isinstance(expr, n.FunctionCall) and expr.name.upper() == "LOWER" and len(expr.args) == 1:
        inner = _string(expr.args[0])
        return None if inner is None else inner.lower()
    return _string(expr)


def _lower_id_constraint(values: tuple[n.ValueExpression, ...]) -> Constraint | None:
    texts: set[str] = set()
    for value in values:
        text = _lowered_literal(value)
        if text is None:
            return None
        if text == text.lower():  # an upper-case letter can never equal LOWER(...)
            texts.add(text)
    return Constraint("ID", "set", frozenset(texts), exact=True)


def _comparison(p: n.ComparisonPredicate, known: frozenset[str], pos: PosMode) -> Constraint | None:
    left, right, op = p.left, p.right, p.op
    if _column(left, known) is None and not _lower_id(left, known):
        left, right, op = right, left, _FLIP[op]
    if op == "=" and _lower_id(left, known):
        return _lower_id_constraint((right,))
    col = _column(left, known)
    if col in _BOX_COLUMNS:
        value = _number(right)
        bound = None if value is None else _bound(op, value)
        if bound is None:
            return None
        box = _box(col, bound)
        return Constraint("POS", "box", box.value, exact=False) if box.param == "POS" else box
    if col in _SET_COLUMNS and op == "=":
        return _equality(col, (right,))
    return _geometry(p, known, pos)


def atom_constraint(
    atom: n.SearchCondition, known: frozenset[str], pos: PosMode
) -> Constraint | None:
    """The SIA constraint one predicate amounts to, or None if SIA cannot help with it.

    Parameters
    ----------
    atom
        A predicate in negation normal form (no AND/OR inside).
    known
        The column names of the table (lower case), used to recognise column references.
    pos
        How the backend evaluates POS.
    """
    match atom:
        case n.ComparisonPredicate():
            return _comparison(atom, known, pos)
        case n.BetweenPredicate(negated=False):
            col = _column(atom.operand, known)
            lo, hi = _number(atom.low), _number(atom.high)
            if col not in _BOX_COLUMNS or lo is None or hi is None:
                return None
            box = _box(col, Bound(lo, hi))
            return Constraint("POS", "box", box.value, exact=False) if box.param == "POS" else box
        case n.InPredicate(negated=False, values=tuple() as values):
            if _lower_id(atom.operand, known):
                return _lower_id_constraint(values)
            col = _column(atom.operand, known)
            return _equality(col, values) if col in _SET_COLUMNS else None
        case n.LikePredicate(negated=False, case_insensitive=False):
            pattern = _string(atom.pattern)
            if _column(atom.operand, known) != "pol_states" or pattern is None:
                return None
            state = pattern[2:-2] if pattern.startswith("%/") and pattern.endswith("/%") else ""
            return (
                Constraint("POL", "set", frozenset({state}), exact=True)
                if state in POL_STATES
                else None
            )
        case _:
            return None


# --------------------------------------------------------------------------- geometry


def _is_centre(expr: n.ValueExpression, known: frozenset[str]) -> bool:
    return (
        isinstance(expr, n.Point)
        and _column(expr.lon, known) == "s_ra"
        and _column(expr.lat, known) == "s_dec"
    )


def _geometry(p: n.ComparisonPredicate, known: frozenset[str], pos: PosMode) -> Constraint | None:
    fn, other, op = p.left, p.right, p.op
    if not isinstance(fn, n.FunctionCall):
        fn, other, op = p.right, p.left, _FLIP[p.op]
    if not isinstance(fn, n.FunctionCall):
        return None
    name = fn.name.upper()
    if name in {"CONTAINS", "INTERSECTS"} and op == "=" and _number(other) == 1.0:
        return _predicate(name, fn.args[0], fn.args[1], known, pos)
    if name == "DISTANCE" and op in {"<", "<="}:
        radius = _number(other)
        args = fn.args
        if len(args) == 4:
            args = (n.Point(None, args[0], args[1]), n.Point(None, args[2], args[3]))
        if radius is None or radius <= 0 or len(args) != 2:
            return None
        probe, centre = (args[0], args[1]) if _is_centre(args[0], known) else (args[1], args[0])
        if not _is_centre(probe, known) or not isinstance(centre, n.Point):
            return None
        text = shape_text(n.Circle(None, centre, n.NumericLiteral(repr(min(radius, 180.0)))))
        exact = pos == "centre" and op == "<="
        return None if text is None else Constraint("POS", "shape", text, exact)
    return None


def _predicate(
    name: str, a: n.ValueExpression, b: n.ValueExpression, known: frozenset[str], pos: PosMode
) -> Constraint | None:
    region_a, region_b = _column(a, known) == "s_region", _column(b, known) == "s_region"
    if name == "INTERSECTS" and (region_a or region_b):
        text = shape_text(b if region_a else a)
        if text is None or pos != "region":
            return None  # a centre-based POS would miss regions reaching into the shape
        exact = not isinstance(b if region_a else a, n.Point)
        return Constraint("POS", "shape", text, exact)
    if name == "CONTAINS" and _is_centre(a, known):
        text = shape_text(b)
        exact = pos == "centre" and isinstance(b, n.Circle)
        return None if text is None else Constraint("POS", "shape", text, exact)
    if name == "CONTAINS" and (region_a or region_b) and pos == "region":
        # s_region inside the shape, or the shape (or a point) inside s_region: both intersect.
        text = shape_text(b if region_a else a)
        return None if text is None else Constraint("POS", "shape", text, exact=False)
    return None
