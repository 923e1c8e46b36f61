"""SIAv2 query parameters -> an ADQL query on ObsCore (specs/sia-obscore.md §4).

One parenthesised OR group per parameter name (repeats of a parameter are ORed), AND across
groups, ``MAXREC`` -> ``TOP``. Absent (``±Inf``) bounds drop their comparison. The query is
built as AST nodes from validated values: no parameter text is spliced into ADQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

from grammar import nodes as n
from grammar.errors import ParamError
from grammar.params import table_name
from planners.sia_obscore import (
    CALIB_LEVELS,
    EQUALITY_PARAMS,
    INTERVAL_OVERLAP,
    INTERVAL_WITHIN,
    PARAM_ORDER,
    POL_STATES,
)

__all__ = ["NonFiniteNumberError", "dali_number", "sia_params_to_query"]

IGNORED = frozenset({"RESPONSEFORMAT", "REQUEST", "VERSION"})
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+Z?)?\Z")

Params = Mapping[str, str | Sequence[str]] | str


def _group(params: Params) -> dict[str, tuple[str, list[str]]]:
    """Upper-cased name -> (name as written, values), in first-seen order."""
    if isinstance(params, str):
        items = parse_qsl(params.lstrip("?"), keep_blank_values=True)
    else:
        items = []
        for key, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            items += [(key, v) for v in values]
    out: dict[str, tuple[str, list[str]]] = {}
    for key, value in items:
        out.setdefault(key.upper(), (key, []))[1].append(value)
    return out


class NonFiniteNumberError(ValueError):
    """A number DALI does not allow: NaN, or infinity not spelled ``-Inf``/``+Inf``/``Inf``."""


def dali_number(text: str) -> float:
    """A DALI number: decimal text, or ``-Inf``/``+Inf``/``Inf`` (any case) for open bounds.

    Raises
    ------
    NonFiniteNumberError
        NaN, or an infinity written any other way (``1e999``, ``infinity``).
    ValueError
        The text is not a number at all.
    """
    lowered = text.strip().lower()
    if lowered in {"-inf", "+inf", "inf"}:
        return -math.inf if lowered.startswith("-") else math.inf
    value = float(lowered)
    if not math.isfinite(value):
        raise NonFiniteNumberError(text)
    return value


def _number(text: str, key: str) -> float:
    try:
        return dali_number(text)
    except NonFiniteNumberError:
        raise ParamError(f"{text!r} is not a finite number", key) from None
    except ValueError:
        raise ParamError(f"{text!r} is not a number", key) from None


def _literal(value: float, written: str | None = None) -> n.ValueExpression:
    """A numeric literal; the text as written when it is ADQL, negatives get a unary minus."""
    text = (written or "").strip().lstrip("+-")
    if _NUMBER.match(text) is None or float(text) != abs(value):
        text = str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    literal = n.NumericLiteral(text.lstrip("-").upper())
    return n.UnaryExpression("-", literal) if value < 0 else literal


def _col(name: str) -> n.ColumnReference:
    return n.ColumnReference(n.Identifier(name))


def _cmp(
    op: n.ComparisonOperator, left: n.ValueExpression, right: n.ValueExpression
) -> n.ComparisonPredicate:
    return n.ComparisonPredicate(op, left, right)


def _and(parts: list[n.SearchCondition]) -> n.SearchCondition | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else n.AndCondition(tuple(parts))


def _interval(text: str, key: str, nonnegative: bool) -> tuple[float, float, str, str]:
    words = text.split()
    if len(words) not in {1, 2}:
        raise ParamError(f"{text!r} is not an interval ('lo hi' or one number)", key)
    lo, hi = _number(words[0], key), _number(words[-1], key)
    if lo > hi:
        raise ParamError(f"{text!r}: the lower bound is above the upper bound", key)
    if nonnegative and any(math.isfinite(v) and v < 0 for v in (lo, hi)):
        raise ParamError(f"{text!r}: bounds must not be negative", key)
    if len(words) == 1 and math.isinf(lo):
        raise ParamError(f"{text!r}: a single value must be finite", key)
    return lo, hi, words[0], words[-1]


def _pos(text: str, key: str) -> n.SearchCondition:
    words = text.split()
    if not words:
        raise ParamError("empty POS value", key)
    shape, numbers = words[0].upper(), [_number(w, key) for w in words[1:]]
    lit = [_literal(v, w) for v, w in zip(numbers, words[1:], strict=True)]
    icrs = n.StringLiteral("ICRS")
    region = _col("s_region")
    if shape == "CIRCLE":
        if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
            raise ParamError(f"{text!r}: CIRCLE needs ra dec radius", key)
        _check_lonlat(numbers[0], numbers[1], text, key)
        if not 0 < numbers[2] <= 180:
            raise ParamError(f"{text!r}: the radius must be in (0, 180] deg", key)
        circle = n.Circle(icrs, n.Coordinates(lit[0], lit[1]), lit[2])
        return _cmp("=", n.FunctionCall("INTERSECTS", (region, circle)), n.NumericLiteral("1"))
    if shape == "POLYGON":
        if len(numbers) < 6 or len(numbers) % 2:
            raise ParamError(f"{text!r}: POLYGON needs at least 3 ra dec pairs", key)
        pairs = list(zip(numbers[0::2], numbers[1::2], strict=True))
        for ra, dec in pairs:
            _check_lonlat(ra, dec, text, key)
        return _polygon_test(pairs, lit)
    if shape == "RANGE":
        if len(numbers) != 4:
            raise ParamError(f"{text!r}: RANGE needs lon1 lon2 lat1 lat2", key)
        return _range(numbers, text, key)
    raise ParamError(f"{text!r}: the shape must be CIRCLE, RANGE or POLYGON", key)


def _polygon_test(
    pairs: list[tuple[float, float]], lit: list[n.ValueExpression] | None = None
) -> n.SearchCondition:
    flat = lit or [_literal(v) for pair in pairs for v in pair]
    vertices = tuple(n.Coordinates(a, d) for a, d in zip(flat[0::2], flat[1::2], strict=True))
    polygon = n.Polygon(n.StringLiteral("ICRS"), vertices)
    test = n.FunctionCall("INTERSECTS", (_col("s_region"), polygon))
    return _cmp("=", test, n.NumericLiteral("1"))


def _range(numbers: list[float], text: str, key: str) -> n.SearchCondition:
    """RANGE: a polygon when finite and narrower than 180°, else s_ra/s_dec bounds.

    The polygon's edges are great circles while RANGE's latitude edges are small circles, so
    either form approximates the SIA semantics (spec §4); the s_ra/s_dec form tests the
    image centre rather than its footprint.
    """
    lon1 = 0.0 if numbers[0] == -math.inf else numbers[0]
    lon2 = 360.0 if numbers[1] == math.inf else numbers[1]
    lat1, lat2 = max(numbers[2], -90.0), min(numbers[3], 90.0)
    if not (0 <= lon1 <= 360 and 0 <= lon2 <= 360 and -90 <= lat1 <= lat2 <= 90):
        raise ParamError(f"{text!r}: RANGE bounds out of order or out of range", key)
    width = (lon2 - lon1) % 360.0 if lon2 - lon1 < 360.0 else 360.0
    if 0 < width < 180 and lat1 > -90 and lat2 < 90:
        return _polygon_test([(lon1, lat1), (lon2, lat1), (lon2, lat2), (lon1, lat2)])
    parts: list[n.SearchCondition] = []
    if width < 360.0:
        lo, hi = _literal(lon1 % 360.0), _literal(lon2 if lon2 == 360.0 else lon2 % 360.0)
        if lon1 % 360.0 <= lon2:
            parts.append(n.BetweenPredicate(_col("s_ra"), lo, hi))
        else:
            parts.append(
                n.OrCondition((_cmp(">=", _col("s_ra"), lo), _cmp("<=", _col("s_ra"), hi)))
            )
    if lat1 > -90 or lat2 < 90:
        parts.append(n.BetweenPredicate(_col("s_dec"), _literal(lat1), _literal(lat2)))
    return _and(parts) or n.NullPredicate(_col("s_region"), negated=True)


def _check_lonlat(ra: float, dec: float, text: str, key: str) -> None:
    if not (math.isfinite(ra) and math.isfinite(dec) and 0 <= ra <= 360 and -90 <= dec <= 90):
        raise ParamError(f"{text!r}: ra must be in [0, 360] and dec in [-90, 90]", key)


def _overlap(name: str, text: str, key: str) -> n.SearchCondition:
    lo, hi, lo_text, hi_text = _interval(text, key, nonnegative=name == "BAND")
    cmin, cmax = INTERVAL_OVERLAP[name]
    parts: list[n.SearchCondition] = []
    if math.isfinite(hi):
        parts.append(_cmp("<=", _col(cmin), _literal(hi, hi_text)))
    if math.isfinite(lo):
        parts.append(_cmp(">=", _col(cmax), _literal(lo, lo_text)))
    return _and(parts) or n.NullPredicate(_col(cmin), negated=True)


def _within(name: str, text: str, key: str) -> n.SearchCondition:
    lo, hi, lo_text, hi_text = _interval(text, key, nonnegative=True)
    column = _col(INTERVAL_WITHIN[name])
    low, high = _literal(lo, lo_text), _literal(hi, hi_text)
    if math.isfinite(lo) and math.isfinite(hi):
        if lo == hi:
            return _cmp("=", column, low)
        return n.BetweenPredicate(column, low, high)
    if math.isfinite(lo):
        return _cmp(">=", column, low)
    if math.isfinite(hi):
        return _cmp("<=", column, high)
    return n.NullPredicate(column, negated=True)


def _equality(name: str, values: list[str], key: str) -> n.SearchCondition:
    column: n.ValueExpression = _col(EQUALITY_PARAMS[name])
    literals: list[n.ValueExpression] = []
    for value in values:
        if name == "CALIB":
            if not value.strip().isdigit() or int(value) not in CALIB_LEVELS:
                raise ParamError(f"{value!r} is not a calibration level 0-4", key)
            literals.append(n.NumericLiteral(str(int(value))))
        elif name == "ID":
            literals.append(n.FunctionCall("LOWER", (n.StringLiteral(value),)))
        else:
            literals.append(n.StringLiteral(value))
    if name == "ID":
        column = n.FunctionCall("LOWER", (column,))
    unique = list(dict.fromkeys(literals))
    if len(unique) == 1:
        return _cmp("=", column, unique[0])
    return n.InPredicate(column, tuple(unique))


def _release(text: str, key: str) -> n.SearchCondition:
    words = text.split()
    if len(words) not in {1, 2} or not all(_ISO_DATE.match(w) for w in words):
        raise ParamError(f"{text!r}: one or two ISO-8601 dates expected", key)
    column = _col("obs_release_date")
    if len(words) == 1:
        return _cmp("=", column, n.StringLiteral(words[0]))
    return n.BetweenPredicate(column, n.StringLiteral(words[0]), n.StringLiteral(words[1]))


def _one(name: str, value: str, key: str) -> n.SearchCondition:
    if name == "POS":
        return _pos(value, key)
    if name in INTERVAL_OVERLAP:
        return _overlap(name, value, key)
    if name in INTERVAL_WITHIN:
        return _within(name, value, key)
    if name == "POL":
        if value not in POL_STATES:
            raise ParamError(f"{value!r} is not a polarization state", key)
        return n.LikePredicate(_col("pol_states"), n.StringLiteral(f"%/{value}/%"))
    return _release(value, key)


def _maxrec(values: list[str], key: str) -> int:
    if len(values) > 1:
        raise ParamError("MAXREC may be given only once", key)
    text = values[0].strip()
    if not text.isdigit():
        raise ParamError(f"{text!r} is not a non-negative integer", key)
    return int(text)


def sia_params_to_query(params: Params, *, table: str = "ivoa.obscore") -> n.Query:
    """The ADQL query on ObsCore equivalent to an SIAv2 request.

    Parameters
    ----------
    params
        A mapping (a value may be a list for repeated parameters) or a query string such as
        ``"POS=CIRCLE 10 20 0.5&CALIB=2&CALIB=3"``. Names are case-insensitive.
    table
        The ObsCore table to query, ``schema.table``.

    Returns
    -------
    grammar.nodes.Query
        ``SELECT [TOP maxrec] * FROM table WHERE ...``; print it with ``grammar.to_adql``.

    Raises
    ------
    grammar.errors.ParamError
        For an unknown parameter or an invalid value; ``key`` names the parameter as written
        (``table`` for an invalid table name).
    """
    groups = _group(params)
    unknown = [k for k in groups if k not in PARAM_ORDER and k not in IGNORED and k != "MAXREC"]
    if unknown:
        written = groups[unknown[0]][0]
        raise ParamError(f"unknown SIAv2 parameter {written!r}", written)
    conditions: list[n.SearchCondition] = []
    for name in PARAM_ORDER:
        if name not in groups:
            continue
        key, values = groups[name]
        if name in EQUALITY_PARAMS:
            conditions.append(_equality(name, values, key))
            continue
        disjuncts = list(dict.fromkeys(_one(name, v, key) for v in values))
        conditions.append(disjuncts[0] if len(disjuncts) == 1 else n.OrCondition(tuple(disjuncts)))
    top = _maxrec(groups["MAXREC"][1], groups["MAXREC"][0]) if "MAXREC" in groups else None
    where = _and(conditions)
    if isinstance(where, n.AndCondition):
        # AndCondition flattening: a parameter's own AND (BAND's two bounds) stays grouped.
        where = n.AndCondition(tuple(conditions))
    from_name = table_name(table)
    body = n.SelectQuery((n.Asterisk(),), (n.TableReference(from_name),), top=top, where=where)
    return n.Query(body)
