"""ADQL scalar functions (math, trig, string, COALESCE, IN_UNIT) and user-defined functions.

Names differ between ADQL and SQL engines in small but wrong-answer ways: ADQL ``LOG`` is the
natural logarithm while DuckDB's ``LOG`` is base 10, ADQL ``TRUNCATE(x, n)`` is ``TRUNC``,
``CEILING`` is ``CEIL``. Geometry functions are handled by the compiler with
:mod:`planners.sql_geometry`, because their arguments are geometries, not values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sqlglot import exp

from grammar.errors import UnsupportedError
from grammar.nodes import Span
from planners.sql_catalog import DOUBLE, LONG, TEXT, Typed, UnitConverter, numeric_result, scalar
from planners.sql_geometry import call

_DOUBLE_FUNCTIONS = {
    "ACOS": 1, "ASIN": 1, "ATAN": 1, "ATAN2": 2, "COS": 1, "SIN": 1, "TAN": 1, "COT": 1,
    "EXP": 1, "SQRT": 1, "DEGREES": 1, "RADIANS": 1, "LOG10": 1,
}  # fmt: skip
"""Functions with the same name in ADQL and every target, returning double precision."""


def _arity(name: str, args: Sequence[Typed], allowed: set[int], span: Span) -> None:
    if len(args) not in allowed:
        want = " or ".join(str(n) for n in sorted(allowed))
        raise UnsupportedError(
            f"{name} with {len(args)} arguments (ADQL allows {want})", location=span
        )


def _unit_of_angle(name: str, arg: Typed) -> str | None:
    if name == "DEGREES":
        return "deg"
    if name == "RADIANS":
        return "rad"
    return None if name not in {"ABS", "CEILING", "FLOOR", "ROUND", "TRUNCATE"} else arg.type.unit


def _in_domain(name: str, arg: exp.Expr, value: exp.Expr) -> exp.Expr:
    """``value`` where ``arg`` is in the function's real domain, else NULL.

    Outside it, engines disagree (DuckDB: NaN or -inf, which compare greater or smaller than
    every number; PostgreSQL: an error ending the query). The gateway's choice, the same for
    every target: SQRT of a negative, LOG and LOG10 of zero or a negative, ACOS and ASIN
    outside [-1, 1] are NULL, like any other undefined value, so a WHERE on them is not true.
    """
    domain = _DOMAINS.get(name)
    if domain is None:
        return value
    test = domain(exp.Paren(this=arg.copy()))
    return exp.Case(ifs=[exp.If(this=test, true=value)])


_DOMAINS: dict[str, Callable[[exp.Expr], exp.Expr]] = {
    "SQRT": lambda x: exp.GTE(this=x, expression=exp.Literal.number(0)),
    "LOG": lambda x: exp.GT(this=x, expression=exp.Literal.number(0)),
    "LOG10": lambda x: exp.GT(this=x, expression=exp.Literal.number(0)),
    "ACOS": lambda x: exp.Between(this=x, low=exp.Literal.number(-1), high=exp.Literal.number(1)),
    "ASIN": lambda x: exp.Between(this=x, low=exp.Literal.number(-1), high=exp.Literal.number(1)),
}


def builtin(name: str, args: Sequence[Typed], span: Span) -> Typed:
    """SQL for a non-geometric ADQL built-in function."""
    sql = [a.sql for a in args]
    if name in _DOUBLE_FUNCTIONS:
        _arity(name, args, {_DOUBLE_FUNCTIONS[name]}, span)
        value = _in_domain(name, sql[0], call(name, *sql))
        return Typed(value, scalar("double", _unit_of_angle(name, args[0])))
    if name == "LOG":
        _arity(name, args, {1}, span)
        return Typed(_in_domain(name, sql[0], exp.Ln(this=sql[0])), DOUBLE)
    if name in {"ABS", "CEILING", "FLOOR"}:
        _arity(name, args, {1}, span)
        node: exp.Expr = {"ABS": exp.Abs, "CEILING": exp.Ceil, "FLOOR": exp.Floor}[name](
            this=sql[0]
        )
        return Typed(node, args[0].type)
    if name in {"ROUND", "TRUNCATE"}:
        _arity(name, args, {1, 2}, span)
        cls = exp.Round if name == "ROUND" else exp.Trunc
        decimals = sql[1] if len(sql) == 2 else None
        return Typed(cls(this=sql[0], decimals=decimals), args[0].type)
    if name == "MOD":
        _arity(name, args, {2}, span)
        return Typed(
            exp.Mod(this=sql[0], expression=sql[1]), numeric_result(args[0].type, args[1].type)
        )
    if name == "POWER":
        _arity(name, args, {2}, span)
        return Typed(exp.Pow(this=sql[0], expression=sql[1]), DOUBLE)
    if name == "PI":
        _arity(name, args, {0}, span)
        return Typed(call("PI"), DOUBLE)
    if name == "RAND":
        # A seeded RAND has no per-call equivalent in DuckDB (setseed is session state).
        _arity(name, args, {0}, span)
        return Typed(exp.Rand(), DOUBLE)
    if name in {"LOWER", "UPPER"}:
        _arity(name, args, {1}, span)
        cls2 = exp.Lower if name == "LOWER" else exp.Upper
        return Typed(cls2(this=sql[0]), TEXT)
    if name == "COALESCE":
        if not args:
            _arity(name, args, {2}, span)
        known = next((a.type for a in args if a.type.datatype is not None), args[0].type)
        return Typed(exp.Coalesce(this=sql[0], expressions=sql[1:]), known)
    raise UnsupportedError(f"function {name}", location=span)


def in_unit(value: Typed, target: str, converter: UnitConverter | None, span: Span) -> Typed:
    """``IN_UNIT(value, 'unit')``: multiply by the conversion factor of the value's unit."""
    source = value.type.unit
    if converter is None:
        raise UnsupportedError("IN_UNIT without a unit converter", location=span)
    if not source:
        raise UnsupportedError(
            f"IN_UNIT to '{target}' of a value whose unit is unknown", location=span
        )
    try:
        factor = converter(source, target)
    except ValueError as err:
        msg = f"IN_UNIT from '{source}' to '{target}' ({err})"
        raise UnsupportedError(msg, location=span) from err
    product = exp.Mul(this=exp.Paren(this=value.sql), expression=exp.Literal.number(repr(factor)))
    return Typed(product, scalar("double", target))


def _hasword(args: Sequence[Typed]) -> exp.Expr:
    # RegTAP: case-insensitive match of a whole word (non-word characters or ends around it).
    word = args[1].sql
    if isinstance(word, exp.Literal) and word.is_string:
        pattern: exp.Expr = exp.Literal.string(
            r"(^|[^[:alnum:]_])" + re.escape(str(word.this)) + r"([^[:alnum:]_]|$)"
        )
    else:
        raise UnsupportedError("ivo_hasword with a non-literal word")
    return call("REGEXP_MATCHES", args[0].sql, pattern, exp.Literal.string("i"))


UDF_BUILDERS: dict[str, Callable[[Sequence[Typed]], Typed]] = {
    "ivo_hasword": lambda a: Typed(
        exp.Cast(this=_hasword(a), to=exp.DataType.build("INT")), scalar("int")
    ),
    "ivo_nocasematch": lambda a: Typed(
        exp.Cast(this=exp.ILike(this=a[0].sql, expression=a[1].sql), to=exp.DataType.build("INT")),
        scalar("int"),
    ),
    "ivo_healpix_index": lambda a: Typed(call("ivo_healpix_index", *(x.sql for x in a)), LONG),
}
UDF_ARITY = {"ivo_hasword": {2}, "ivo_nocasematch": {2}, "ivo_healpix_index": {3}}


def user_defined(name: str, args: Sequence[Typed], span: Span) -> Typed:
    """SQL for a supported user-defined function; anything else is unsupported."""
    key = name.lower()
    builder = UDF_BUILDERS.get(key)
    if builder is None:
        raise UnsupportedError(f"function {name}", location=span)
    _arity(name, args, UDF_ARITY[key], span)
    return builder(args)
