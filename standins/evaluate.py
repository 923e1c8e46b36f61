"""A small vectorised evaluator of ADQL search conditions over the columns of an Arrow table.

The spectral stand-in accepts a SQL-like ``constraint`` from clients. It is never run as SQL:
the text is parsed by our ADQL grammar and the resulting AST is evaluated here with NumPy,
over an allow-list of columns. Anything outside the supported subset raises
:class:`ConstraintError` (a ``ValueError``), which the services turn into HTTP 400.

Supported: column references (case-insensitive), numeric/string/NULL literals, unary ``+ - ~``,
``+ - * /``, ``||``, bitwise ``& | ^`` on integers, ``ABS SQRT LOG10 LOWER UPPER``, comparisons,
``[NOT] BETWEEN``, ``[NOT] IN (list)``, ``[NOT] LIKE/ILIKE``, ``IS [NOT] NULL``, ``AND OR NOT``
with SQL three-valued logic, and user-defined functions supplied by the caller. Division is
always floating point and a division by zero yields NULL rather than an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from grammar import nodes as n

Kind = Literal["num", "str"]


class ConstraintError(ValueError):
    """The constraint uses something the evaluator does not allow or cannot type-check."""


@dataclass(frozen=True, slots=True)
class Value:
    """A column or scalar: data (broadcastable to the row count), NULL mask and kind."""

    data: np.ndarray
    null: np.ndarray
    kind: Kind


@dataclass(frozen=True, slots=True)
class Truth:
    """Three-valued truth per row: ``true`` and ``unknown`` (NULL); the rest is false."""

    true: np.ndarray
    unknown: np.ndarray

    def negate(self) -> Truth:
        """SQL ``NOT``: true <-> false, unknown stays unknown."""
        return Truth(~self.true & ~self.unknown, self.unknown)


UdfHandler = Callable[[list[Value]], Value]


def column_value(column: pa.ChunkedArray | pa.Array) -> Value:
    """Convert an Arrow column into a :class:`Value` (strings as an object array)."""
    null = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    kind: Kind = (
        "str" if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) else "num"
    )
    if kind == "str":
        data = np.asarray(column.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
    elif pa.types.is_boolean(column.type):
        data = np.asarray(
            column.fill_null(value=False).to_numpy(zero_copy_only=False), dtype=np.int64
        )
    elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        data = np.asarray(column.fill_null(0).to_numpy(zero_copy_only=False))
    else:
        raise ConstraintError(f"columns of type {column.type} cannot be used in a constraint")
    return Value(data, null, kind)


class TableColumns:
    """Case-insensitive, allow-listed access to the columns of an Arrow table, converted once."""

    def __init__(self, table: pa.Table, allowed: Iterable[str] | None = None) -> None:
        names = table.column_names if allowed is None else list(allowed)
        self.table = table
        self._by_key = {name.lower(): name for name in names if name in table.column_names}
        self._cache: dict[str, Value] = {}

    @property
    def num_rows(self) -> int:
        """Number of rows of the table."""
        return int(self.table.num_rows)

    def resolve(self, name: str) -> str:
        """The table's spelling of an allowed column name; :class:`ConstraintError` if none."""
        try:
            return self._by_key[name.lower()]
        except KeyError:
            raise ConstraintError(f"unknown column '{name}'") from None

    def value(self, name: str) -> Value:
        """The column as a :class:`Value`."""
        real = self.resolve(name)
        if real not in self._cache:
            self._cache[real] = column_value(self.table.column(real))
        return self._cache[real]


def _scalar(data: object, kind: Kind) -> Value:
    return Value(
        np.asarray(data, dtype=object if kind == "str" else None), np.asarray(a=False), kind
    )


_NUMERIC_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ABS": np.abs,
    "SQRT": np.sqrt,
    "LOG10": np.log10,
}


class Evaluator:
    """Evaluates conditions against one :class:`TableColumns`."""

    def __init__(self, columns: TableColumns, udfs: Mapping[str, UdfHandler] | None = None) -> None:
        self.columns = columns
        self.udfs = {k.lower(): v for k, v in (udfs or {}).items()}

    # ----------------------------------------------------------------- conditions

    def select(self, condition: n.SearchCondition) -> np.ndarray:
        """Boolean row mask where ``condition`` is true (NULL counts as not selected)."""
        truth = self.condition(condition)
        return np.broadcast_to(truth.true, (self.columns.num_rows,)).copy()

    def condition(self, node: n.SearchCondition) -> Truth:
        """Evaluate a search condition with three-valued logic."""
        match node:
            case n.AndCondition(operands=ops):
                parts = [self.condition(op) for op in ops]
                false = np.logical_or.reduce([~p.true & ~p.unknown for p in parts])
                true = np.logical_and.reduce([p.true for p in parts])
                return Truth(true, ~false & ~true)
            case n.OrCondition(operands=ops):
                parts = [self.condition(op) for op in ops]
                true = np.logical_or.reduce([p.true for p in parts])
                unknown = np.logical_or.reduce([p.unknown for p in parts])
                return Truth(true, unknown & ~true)
            case n.NotCondition(operand=op):
                return self.condition(op).negate()
            case n.ComparisonPredicate(op=op, left=left, right=right):
                return self._compare(op, self.value(left), self.value(right))
            case n.BetweenPredicate(operand=operand, low=low, high=high, negated=neg):
                v = self.value(operand)
                lo = self._compare(">=", v, self.value(low))
                hi = self._compare("<=", v, self.value(high))
                false = (~lo.true & ~lo.unknown) | (~hi.true & ~hi.unknown)
                truth = Truth(lo.true & hi.true, ~false & ~(lo.true & hi.true))
                return truth.negate() if neg else truth
            case n.InPredicate(operand=operand, values=values, negated=neg):
                if isinstance(values, n.Query):
                    raise ConstraintError("subqueries are not allowed in a constraint")
                v = self.value(operand)
                parts = [self._compare("=", v, self.value(item)) for item in values]
                true = np.logical_or.reduce([p.true for p in parts])
                unknown = np.logical_or.reduce([p.unknown for p in parts]) & ~true
                truth = Truth(true, unknown)
                return truth.negate() if neg else truth
            case n.LikePredicate(
                operand=operand, pattern=pattern, negated=neg, case_insensitive=ci
            ):
                return self._like(self.value(operand), pattern, neg, ci)
            case n.NullPredicate(operand=operand, negated=neg):
                null = self.value(operand).null
                return Truth(~null if neg else null.copy(), np.zeros_like(null))
            case n.ExistsPredicate():
                raise ConstraintError("EXISTS subqueries are not allowed in a constraint")

    def _compare(self, op: str, left: Value, right: Value) -> Truth:
        if left.kind != right.kind:
            raise ConstraintError(f"cannot compare a {left.kind} with a {right.kind} using '{op}'")
        ops: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
            "=": np.equal,
            "<>": np.not_equal,
            "<": np.less,
            ">": np.greater,
            "<=": np.less_equal,
            ">=": np.greater_equal,
        }
        result = np.asarray(ops[op](left.data, right.data), dtype=bool)
        null = left.null | right.null
        return Truth(result & ~null, null)

    def _like(self, operand: Value, pattern: n.ValueExpression, neg: bool, ci: bool) -> Truth:
        if not isinstance(pattern, n.StringLiteral) or operand.kind != "str":
            raise ConstraintError("LIKE needs a string column and a string literal pattern")
        # SQL wildcards: % any run, _ one character; everything else literal.
        regex = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern.value
        )
        compiled = re.compile(regex, re.IGNORECASE | re.DOTALL if ci else re.DOTALL)
        data = np.broadcast_to(operand.data, (self.columns.num_rows,))
        match = np.fromiter((compiled.fullmatch(s) is not None for s in data), bool, data.size)
        truth = Truth(match & ~operand.null, operand.null & np.ones_like(match))
        return truth.negate() if neg else truth

    # ----------------------------------------------------------------- values

    def value(self, node: n.ValueExpression) -> Value:
        """Evaluate a value expression to a :class:`Value`."""
        match node:
            case n.ColumnReference(name=ident, qualifier=qualifier):
                if qualifier is not None:
                    raise ConstraintError("qualified column names are not allowed in a constraint")
                return self.columns.value(ident.name)
            case n.NumericLiteral():
                return _scalar(node.value, "num")
            case n.StringLiteral(value=text):
                return _scalar(text, "str")
            case n.NullLiteral():
                return Value(np.asarray(0), np.asarray(a=True), "num")
            case n.UnaryExpression(op="-", operand=n.NumericLiteral() as literal):
                # Negate the exact number: -9223372036854775808 is a signed bigint, while
                # its magnitude alone only fits uint64, whose negation would wrap.
                return _scalar(-literal.value, "num")
            case n.UnaryExpression(op=op, operand=operand):
                v = self._numeric(self.value(operand), op)
                data = (
                    -v.data
                    if op == "-"
                    else np.invert(self._integral(v, op))
                    if op == "~"
                    else v.data
                )
                return Value(data, v.null, "num")
            case n.BinaryExpression(op=op, left=left, right=right):
                return self._binary(op, self.value(left), self.value(right))
            case n.FunctionCall(name=name, args=args):
                return self._function(name.upper(), [self.value(a) for a in args])
            case n.UserDefinedFunction(name=name, args=args):
                handler = self.udfs.get(name.lower())
                if handler is None:
                    raise ConstraintError(f"function '{name}' is not allowed in a constraint")
                return handler([self.value(a) for a in args])
            case _:
                raise ConstraintError(f"{type(node).__name__} is not allowed in a constraint")

    @staticmethod
    def _numeric(v: Value, op: str) -> Value:
        if v.kind != "num":
            raise ConstraintError(f"operator '{op}' needs numbers")
        return v

    @staticmethod
    def _integral(v: Value, op: str) -> np.ndarray:
        if not np.issubdtype(v.data.dtype, np.integer):
            raise ConstraintError(f"operator '{op}' needs integers")
        return v.data

    def _binary(self, op: str, left: Value, right: Value) -> Value:
        null = left.null | right.null
        if op == "||":
            if left.kind != "str" or right.kind != "str":
                raise ConstraintError("'||' needs strings")
            return Value(
                np.char.add(left.data.astype(str), right.data.astype(str)).astype(object),
                null,
                "str",
            )
        a, b = self._numeric(left, op).data, self._numeric(right, op).data
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if op in "&|^":
                ia, ib = self._integral(left, op), self._integral(right, op)
                funcs = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor}
                return Value(funcs[op](ia, ib), null, "num")
            if op == "/":
                quotient = np.true_divide(a.astype(float), b.astype(float))
                return Value(quotient, null | ~np.isfinite(quotient), "num")
            arith = {"+": np.add, "-": np.subtract, "*": np.multiply}
            return Value(arith[op](a, b), null, "num")

    def _function(self, name: str, args: list[Value]) -> Value:
        if len(args) != 1:
            raise ConstraintError(f"function {name} is not allowed with {len(args)} arguments")
        (arg,) = args
        if name in _NUMERIC_FUNCTIONS:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = _NUMERIC_FUNCTIONS[name](self._numeric(arg, name).data.astype(float))
            return Value(out, arg.null | ~np.isfinite(out), "num")
        if name in {"LOWER", "UPPER"} and arg.kind == "str":
            fold = str.lower if name == "LOWER" else str.upper
            data = np.frompyfunc(fold, 1, 1)(arg.data)
            return Value(np.asarray(data, dtype=object), arg.null, "str")
        raise ConstraintError(f"function {name} is not allowed in a constraint")
