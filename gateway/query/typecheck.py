"""Bind-time type checking: type mistakes rejected before any backend or engine is asked.

``CI LIKE '1%'`` (LIKE on a number), ``z = 'abc'``, ``LOWER(z)``, ``h.MatchID = s.class``,
arithmetic on strings, geometry functions on plain numbers: each becomes one
:class:`~grammar.errors.SemanticProblem` with the line and column of the offending
expression, and all of a query's problems are raised at once as an
:class:`~grammar.errors.AdqlSemanticError` (HTTP 400, a DALI error document).

Types come from the catalogue the client sees (TAP_SCHEMA: every table of the federation,
plus the query's uploads), through :func:`catalogue_tables`. The checker is deliberately
lenient (see :mod:`gateway.query.adql_types`): a name it cannot resolve, NULL, a user-defined
function or an untyped column is ``unknown`` and never an error, because unknown names and
ambiguities are reported by the planners, and a query must not be refused on a guess.
A string literal spelling a number compares with a number (``id = '42'``): every SQL engine
behind a TAP service reads such a literal as the number, as ADQL users expect.

Runtime faults that a literal makes certain are reported here too, with their position:
``x / 0``, ``MOD(x, 0)`` and ``CAST('abc' AS INTEGER)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.query.adql_types import (
    ARITY,
    DOUBLE,
    GEOMETRY_FUNCTIONS,
    INTEGER,
    KEEP_INTEGER,
    NUMBER,
    NUMERIC_FUNCTIONS,
    POINT,
    STRING,
    UNKNOWN,
    AdqlType,
    cast_result,
    comparable,
    geometry,
)
from gateway.query.typecheck_scope import (
    Columns,
    Outputs,
    Range,
    Scope,
    TableColumns,
    as_columns,
    catalogue_tables,
    expand,
    typed_columns,
)
from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem
from grammar.printer import to_adql

__all__ = ["TableColumns", "catalogue_tables", "check_types", "excerpt"]


def check_types(query: n.Query, tables: TableColumns) -> None:
    """Raise :class:`AdqlSemanticError` listing every type mistake in ``query``."""
    checker = _Checker(tables)
    checker.query(query, None, {})
    if checker.problems:
        raise AdqlSemanticError(checker.problems)


def excerpt(node: n.Node) -> str:
    """The ADQL of ``node`` for a message, cut at 60 characters."""
    text = to_adql(node)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self, tables: TableColumns) -> None:
        self.tables = tables
        self.problems: list[SemanticProblem] = []

    def problem(self, message: str, node: n.Node) -> None:
        self.problems.append(SemanticProblem(message, getattr(node, "span", None)))

    # ------------------------------------------------------------------ queries

    def query(self, query: n.Query, parent: Scope | None, ctes: Mapping[str, Columns]) -> Outputs:
        ctes = dict(ctes)
        for cte in query.with_:
            ctes[cte.name.key.lower()] = as_columns(self.query(cte.query, None, ctes))
        outputs, scope = self.body(query.body, parent, ctes)
        order_scope = scope or Scope(parent, ctes)
        for item in query.order_by:
            self.value(item.expression, order_scope)
        return outputs

    def body(
        self, body: n.QueryBody, parent: Scope | None, ctes: Mapping[str, Columns]
    ) -> tuple[Outputs, Scope | None]:
        if isinstance(body, n.SetOperation):
            left, _ = self.body(body.left, parent, ctes)
            right, _ = self.body(body.right, parent, ctes)
            if left is not None and right is not None and len(left) != len(right):
                self.problem(
                    f"{body.op} combines {len(left)} column(s) with {len(right)} column(s)", body
                )
            elif left is not None and right is not None:
                for i, ((_, a), (_, b)) in enumerate(zip(left, right, strict=True), start=1):
                    if not comparable(a, b):
                        self.problem(
                            f"{body.op} combines column {i} of {a.describe()} with {b.describe()}",
                            body,
                        )
            return left, None
        if isinstance(body, n.Query):
            return self.query(body, parent, ctes), None
        return self.select(body, parent, ctes)

    def select(
        self, select: n.SelectQuery, parent: Scope | None, ctes: Mapping[str, Columns]
    ) -> tuple[Outputs, Scope]:
        scope = Scope(parent, ctes)
        for source in select.from_:
            self.from_item(source, scope)
        if select.where is not None:
            self.condition(select.where, scope)
        for expr in select.group_by:
            self.value(expr, scope)
        if select.having is not None:
            self.condition(select.having, scope)
        outputs: list[tuple[str | None, AdqlType]] = []
        known = True
        for item in select.items:
            if isinstance(item, n.Asterisk):
                expanded = expand(scope, item.qualifier)
                known = known and expanded is not None
                outputs += expanded or []
                continue
            typ = self.value(item.expression, scope)
            name = item.alias.name if item.alias is not None else None
            if name is None and isinstance(item.expression, n.ColumnReference):
                name = item.expression.name.name
            outputs.append((name, typ))
        return (outputs if known else None), scope

    def from_item(self, item: n.FromItem, scope: Scope) -> None:
        match item:
            case n.TableReference():
                parts = tuple(p.name.lower() for p in item.name.parts)
                alias = item.alias.name.lower() if item.alias is not None else None
                columns: Columns
                if len(parts) == 1 and parts[0] in scope.ctes:
                    columns = scope.ctes[parts[0]]
                else:
                    metas = self.tables(item.name)
                    columns = None if metas is None else typed_columns(metas)
                scope.ranges.append(Range(alias, parts, columns))
            case n.DerivedTable():
                outputs = self.query(item.query, None, scope.ctes)
                scope.ranges.append(Range(item.alias.name.lower(), (), as_columns(outputs)))
            case n.JoinedTable():
                self.from_item(item.left, scope)
                self.from_item(item.right, scope)
                if item.condition is not None:
                    self.condition(item.condition, scope)

    # ------------------------------------------------------------------ conditions

    def condition(self, cond: n.SearchCondition, scope: Scope) -> None:
        match cond:
            case n.AndCondition() | n.OrCondition():
                for operand in cond.operands:
                    self.condition(operand, scope)
            case n.NotCondition():
                self.condition(cond.operand, scope)
            case n.ComparisonPredicate():
                self.compare(cond.left, cond.right, scope, cond)
            case n.BetweenPredicate():
                self.compare(cond.operand, cond.low, scope, cond)
                self.compare(cond.operand, cond.high, scope, cond)
            case n.InPredicate():
                if isinstance(cond.values, n.Query):
                    outputs = self.query(cond.values, scope, scope.ctes)
                    left = self.value(cond.operand, scope)
                    if outputs is not None and len(outputs) != 1:
                        self.problem(
                            f"The subquery of IN returns {len(outputs)} columns, not one",
                            cond.values,
                        )
                    elif outputs and not comparable(left, outputs[0][1]):
                        self.problem(
                            f"IN compares {excerpt(cond.operand)}, {left.describe()}, with a "
                            f"subquery returning {outputs[0][1].describe()}",
                            cond,
                        )
                else:
                    for value in cond.values:
                        self.compare(cond.operand, value, scope, value)
            case n.LikePredicate():
                word = "ILIKE" if cond.case_insensitive else "LIKE"
                for side in (cond.operand, cond.pattern):
                    typ = self.value(side, scope)
                    if typ.kind in {"number", "geometry"}:
                        self.problem(
                            f"{word} needs character strings, but {excerpt(side)} is "
                            f"{typ.describe()}",
                            side,
                        )
            case n.NullPredicate():
                self.value(cond.operand, scope)
            case n.ExistsPredicate():
                self.query(cond.query, scope, scope.ctes)

    def compare(
        self, left: n.ValueExpression, right: n.ValueExpression, scope: Scope, at: n.Node
    ) -> None:
        a, b = self.value(left, scope), self.value(right, scope)
        if comparable(a, b) or _numeric_literal_pair(left, a, right, b):
            return
        self.problem(
            f"Cannot compare {excerpt(left)}, {a.describe()}, "
            f"with {excerpt(right)}, {b.describe()}",
            at,
        )

    # ------------------------------------------------------------------ values

    def value(self, node: n.ValueExpression, scope: Scope) -> AdqlType:
        match node:
            case n.ColumnReference():
                return scope.resolve(node)
            case n.NumericLiteral():
                return INTEGER if node.is_integer else DOUBLE
            case n.StringLiteral():
                return STRING
            case n.NullLiteral():
                return UNKNOWN
            case n.UnaryExpression():
                typ = self.value(node.operand, scope)
                self.need_number(node.operand, typ, f"the sign '{node.op}'", integer=node.op == "~")
                return typ if node.op != "~" else INTEGER
            case n.BinaryExpression():
                return self.binary(node, scope)
            case n.FunctionCall():
                return self.function(node, scope)
            case n.UserDefinedFunction():
                for arg in node.args:
                    self.value(arg, scope)
                return UNKNOWN
            case n.SetFunction():
                return self.aggregate(node, scope)
            case n.Cast():
                return self.cast(node, scope)
            case n.Point():
                self.need_number(node.lon, self.value(node.lon, scope), "POINT")
                self.need_number(node.lat, self.value(node.lat, scope), "POINT")
                return POINT
            case n.Circle():
                self.centre(node.center, scope, "CIRCLE")
                self.need_number(node.radius, self.value(node.radius, scope), "CIRCLE")
                return geometry("circle")
            case n.Box():
                self.centre(node.center, scope, "BOX")
                self.need_number(node.width, self.value(node.width, scope), "BOX")
                self.need_number(node.height, self.value(node.height, scope), "BOX")
                return geometry("polygon")
            case n.Polygon():
                for vertex in node.vertices:
                    self.centre(vertex, scope, "POLYGON")
                return geometry("polygon")
            case n.Region():
                return geometry("region")
            case n.ScalarSubquery():
                outputs = self.query(node.query, scope, scope.ctes)
                return outputs[0][1] if outputs and len(outputs) == 1 else UNKNOWN

    def binary(self, node: n.BinaryExpression, scope: Scope) -> AdqlType:
        a, b = self.value(node.left, scope), self.value(node.right, scope)
        if node.op == "||":
            for side, typ in ((node.left, a), (node.right, b)):
                if typ.kind == "geometry":
                    self.problem(
                        f"'||' joins character strings, but {excerpt(side)} is {typ.describe()}",
                        side,
                    )
            return STRING
        bitwise = node.op in {"&", "|", "^"}
        what = f"the operator '{node.op}'"
        self.need_number(node.left, a, what, integer=bitwise)
        self.need_number(node.right, b, what, integer=bitwise)
        if node.op == "/" and _is_zero(node.right):
            self.problem(f"Division by zero in {excerpt(node)}", node.right)
        return INTEGER if bitwise else _arithmetic_result(a, b)

    def function(self, node: n.FunctionCall, scope: Scope) -> AdqlType:
        name, args = node.name.upper(), node.args
        allowed = ARITY.get(name)
        if allowed is not None and len(args) not in allowed:
            want = " or ".join(str(k) for k in sorted(allowed))
            self.problem(f"{name} takes {want} argument(s), not {len(args)}", node)
            return UNKNOWN
        types = [self.value(a, scope) for a in args]
        if name in NUMERIC_FUNCTIONS:
            for arg, typ in zip(args, types, strict=True):
                self.need_number(arg, typ, name)
            if name == "MOD" and _is_zero(args[1]):
                self.problem(f"MOD by zero in {excerpt(node)}", args[1])
            if name in KEEP_INTEGER:  # ABS, ROUND... of an integer; MOD of two integers
                first = types[0]
                return _arithmetic_result(first, types[1] if name == "MOD" else first)
            return DOUBLE
        if name in GEOMETRY_FUNCTIONS or (name == "DISTANCE" and len(args) == 2):
            for arg, typ in zip(args, types, strict=True):
                self.need_geometry(arg, typ, name)
            return GEOMETRY_FUNCTIONS.get(name, DOUBLE)
        if name == "DISTANCE":
            for arg, typ in zip(args, types, strict=True):
                self.need_number(arg, typ, name)
            return DOUBLE
        if name in {"LOWER", "UPPER"}:
            if types[0].kind in {"number", "geometry", "timestamp"}:
                self.problem(
                    f"{name} needs a character string, but {excerpt(args[0])} is "
                    f"{types[0].describe()}",
                    args[0],
                )
            return STRING
        if name == "IN_UNIT":
            self.need_number(args[0], types[0], name)
            return DOUBLE
        if name == "COALESCE":
            known = [(a, t) for a, t in zip(args, types, strict=True) if t.kind != "unknown"]
            for arg, typ in known[1:]:
                if not comparable(known[0][1], typ):
                    self.problem(
                        f"COALESCE mixes {known[0][1].describe()} and {excerpt(arg)}, "
                        f"{typ.describe()}",
                        arg,
                    )
            return known[0][1] if known else UNKNOWN
        return UNKNOWN

    def aggregate(self, node: n.SetFunction, scope: Scope) -> AdqlType:
        if node.argument is None:
            return INTEGER
        typ = self.value(node.argument, scope)
        if node.name == "COUNT":
            return INTEGER
        if node.name in {"SUM", "AVG"}:
            self.need_number(node.argument, typ, node.name)
            return _arithmetic_result(typ, typ) if node.name == "SUM" else DOUBLE
        return typ

    def cast(self, node: n.Cast, scope: Scope) -> AdqlType:
        operand = self.value(node.operand, scope)
        target = cast_result(node.target.name)
        if {operand.kind, target.kind} == {"number", "geometry"}:
            self.problem(
                f"CAST of {excerpt(node.operand)}, {operand.describe()}, to {node.target.name}",
                node.operand,
            )
        literal = node.operand
        parse = int if target.integer else float
        if (
            target.kind == "number"
            and isinstance(literal, n.StringLiteral)
            and not _spells(literal.value, parse)
        ):
            self.problem(
                f"CAST of '{literal.value}' to {node.target.name}: not "
                f"{'an integer' if target.integer else 'a number'}",
                literal,
            )
        return target

    # ------------------------------------------------------------------ argument kinds

    def centre(self, centre: n.Coordinates | n.ValueExpression, scope: Scope, what: str) -> None:
        if isinstance(centre, n.Coordinates):
            self.need_number(centre.lon, self.value(centre.lon, scope), what)
            self.need_number(centre.lat, self.value(centre.lat, scope), what)
        else:
            self.need_geometry(centre, self.value(centre, scope), what)

    def need_number(
        self, node: n.ValueExpression, typ: AdqlType, what: str, *, integer: bool = False
    ) -> None:
        if typ.kind in {"string", "geometry"}:
            self.problem(f"{what} needs numbers, but {excerpt(node)} is {typ.describe()}", node)
        elif integer and typ.floating:
            self.problem(f"{what} needs integers, but {excerpt(node)} is {typ.describe()}", node)

    def need_geometry(self, node: n.ValueExpression, typ: AdqlType, what: str) -> None:
        if typ.kind in {"number", "string", "timestamp"}:
            self.problem(
                f"{what} needs geometries (POINT, CIRCLE, BOX, POLYGON, REGION or a geometry "
                f"column), but {excerpt(node)} is {typ.describe()}",
                node,
            )


def _is_zero(node: n.ValueExpression) -> bool:
    return isinstance(node, n.NumericLiteral) and node.value == 0


def _arithmetic_result(a: AdqlType, b: AdqlType) -> AdqlType:
    """Integer op integer is an integer; with an approximate operand it is approximate."""
    if a.integer and b.integer:
        return INTEGER
    return DOUBLE if a.floating or b.floating else NUMBER


def _spells(text: str, kind: Callable[[str], object]) -> bool:
    """Whether ``text`` is the decimal spelling of an integer or a number."""
    try:
        kind(text.strip())
    except ValueError:
        return False
    return True


def _numeric_literal_pair(
    left: n.ValueExpression, a: AdqlType, right: n.ValueExpression, b: AdqlType
) -> bool:
    """A number compared with a string literal spelling a number (``id = '42'``)."""
    for node, other in ((left, b), (right, a)):
        if isinstance(node, n.StringLiteral) and other.kind == "number":
            return _spells(node.value, float)
    return False
