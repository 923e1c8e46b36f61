"""Value expressions and search conditions: ADQL nodes to sqlglot expressions with types.

ADQL arithmetic follows SQL: ``integer / integer`` is integer division truncating toward
zero (SQL-92 exact-numeric division, PostgreSQL's behaviour). DuckDB's ``/`` always divides in
floating point, so integer operands get DuckDB's ``//`` (which truncates toward zero too);
PostgreSQL and SQLite already divide integers exactly that way with ``/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem, UnsupportedError
from planners import sql_functions, sql_geometry
from planners.sql_catalog import (
    CAST_TARGETS,
    CIRCLE_TYPE,
    DOUBLE,
    INT,
    LONG,
    POINT_TYPE,
    POLYGON_TYPE,
    TEXT,
    UNKNOWN,
    ColumnInfo,
    Typed,
    numeric_result,
    scalar,
)
from planners.sql_dialects import geometry_ops
from planners.sql_geometry import Geo, constant, num

if TYPE_CHECKING:
    from planners.sql import SqlTarget
    from planners.sql_scope import Scope

_GEO_TYPES = {
    "point": POINT_TYPE,
    "circle": CIRCLE_TYPE,
    "polygon": POLYGON_TYPE,
    "box": POLYGON_TYPE,
}
_COMPARISON = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, ">": exp.GT, "<=": exp.LTE, ">=": exp.GTE}
_PREDICATE_GEOMETRY = {"CONTAINS", "INTERSECTS"}


class ValueCompiler:
    """Compiles expressions within a :class:`Scope`; subclassed by the query compiler."""

    def __init__(self, target: SqlTarget) -> None:
        self.target = target
        self.problems: list[SemanticProblem] = []
        self.geo = geometry_ops(target.dialect)

    # Implemented by the query compiler (subqueries inside expressions).
    def subquery(self, query: n.Query, parent: Scope) -> tuple[exp.Expr, list[ColumnInfo]]:
        """Compile a nested query seeing ``parent`` for correlated references."""
        raise NotImplementedError

    def fail(self) -> None:
        """Raise every semantic problem found so far, at once."""
        if self.problems:
            raise AdqlSemanticError(self.problems)

    # ------------------------------------------------------------------ values

    def value(self, node: n.ValueExpression, scope: Scope) -> Typed | Geo:
        """A value or, for geometry constructors and geometry columns, a :class:`Geo`."""
        match node:
            case n.Point() | n.Circle() | n.Box() | n.Polygon():
                return self.geometry(node, scope)
            case n.FunctionCall(name="CENTROID"):
                return self.geo.centroid(self.geometry(node.args[0], scope), node.span)
            case n.ColumnReference():
                found = scope.resolve(node, self.problems)
                if found is None:
                    return Typed(exp.Null(), UNKNOWN)
                sql, info = found
                return Typed(sql, info)
            case _:
                return self.scalar(node, scope)

    def scalar(self, node: n.ValueExpression, scope: Scope) -> Typed:
        """A value as SQL; geometries become DALI arrays."""
        match node:
            case n.NumericLiteral():
                value = node.value
                if isinstance(value, int):
                    return Typed(
                        exp.Literal.number(str(value)), INT if abs(value) < 2**31 else LONG
                    )
                literal: exp.Expr = exp.Literal.number(node.text)
                if self.target.dialect == "duckdb":
                    # DuckDB reads 0.37 as DECIMAL; ADQL approximate values are doubles.
                    literal = exp.Cast(this=literal, to=exp.DataType.build("DOUBLE"))
                return Typed(literal, DOUBLE)
            case n.StringLiteral():
                return Typed(exp.Literal.string(node.value), TEXT)
            case n.NullLiteral():
                return Typed(exp.Null(), UNKNOWN)
            case n.ColumnReference() | n.Point() | n.Circle() | n.Box() | n.Polygon():
                got = self.value(node, scope)
                return got if isinstance(got, Typed) else self.as_array(got)
            case n.UnaryExpression():
                operand = self.scalar(node.operand, scope)
                if node.op == "-":
                    return Typed(exp.Neg(this=sql_geometry.paren(operand.sql)), operand.type)
                if node.op == "~":
                    return Typed(exp.BitwiseNot(this=sql_geometry.paren(operand.sql)), LONG)
                return operand
            case n.BinaryExpression():
                return self.binary(node, scope)
            case n.Cast():
                return self.cast(node, scope)
            case n.SetFunction():
                return self.aggregate(node, scope)
            case n.FunctionCall():
                return self.function(node, scope)
            case n.UserDefinedFunction():
                return self.udf(node, scope)
            case n.ScalarSubquery():
                sql, cols = self.subquery(node.query, scope)
                return Typed(exp.Subquery(this=sql), cols[0] if cols else UNKNOWN)
            case n.Region():
                raise UnsupportedError("REGION", location=node.span)

    def as_array(self, g: Geo) -> Typed:
        """A geometry as the DALI array a result column carries."""
        return Typed(self.geo.value(g), _GEO_TYPES[g.kind])

    def binary(self, node: n.BinaryExpression, scope: Scope) -> Typed:
        """Arithmetic, concatenation and bitwise operators with ADQL typing."""
        left, right = self.scalar(node.left, scope), self.scalar(node.right, scope)
        a, b = sql_geometry.paren(left.sql), sql_geometry.paren(right.sql)
        if node.op == "||":
            return Typed(exp.DPipe(this=a, expression=b, safe=False), TEXT)
        if node.op in {"&", "|", "^"}:
            cls = {"&": exp.BitwiseAnd, "|": exp.BitwiseOr, "^": exp.BitwiseXor}[node.op]
            return Typed(cls(this=a, expression=b), LONG)
        result = numeric_result(left.type, right.type)
        if node.op == "/":
            if left.type.is_integer and right.type.is_integer:
                if self.target.dialect == "duckdb":
                    return Typed(exp.IntDiv(this=a, expression=b), result)
                return Typed(exp.Div(this=a, expression=b, typed=True), result)
            unknown = left.type.datatype is None or right.type.datatype is None
            if unknown and self.target.dialect != "duckdb":
                # Pass-through: the target knows the types; its own "/" is SQL's (and ADQL's).
                return Typed(exp.Div(this=a, expression=b, typed=True), result)
            if self.target.dialect == "duckdb":
                b = _nonzero(b)
            return Typed(exp.Div(this=a, expression=b), result)
        cls2 = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
        return Typed(cls2(this=a, expression=b), result)

    def cast(self, node: n.Cast, scope: Scope) -> Typed:
        """CAST to an ADQL type; lengths are kept for character targets."""
        operand = self.scalar(node.operand, scope)
        name = " ".join(node.target.name.upper().split())
        if name not in CAST_TARGETS:
            raise UnsupportedError(f"CAST to {node.target.name}", location=node.target.span)
        votype, sqltype = CAST_TARGETS[name]
        if node.target.length is not None:
            sqltype = f"{sqltype}({node.target.length})"
        info = ColumnInfo(
            name="",
            datatype=votype,
            unit=operand.type.unit,
            arraysize="*" if votype == "char" else None,
            xtype="timestamp" if name == "TIMESTAMP" else None,
        )
        return Typed(exp.Cast(this=operand.sql, to=exp.DataType.build(sqltype)), info)

    def aggregate(self, node: n.SetFunction, scope: Scope) -> Typed:
        """COUNT/SUM/AVG/MIN/MAX with DISTINCT."""
        if node.argument is None:
            return Typed(exp.Count(this=exp.Star()), LONG)
        arg = self.scalar(node.argument, scope)
        inner: exp.Expr = arg.sql
        if node.quantifier == "DISTINCT":
            inner = exp.Distinct(expressions=[inner])
        cls = {"COUNT": exp.Count, "SUM": exp.Sum, "AVG": exp.Avg, "MIN": exp.Min, "MAX": exp.Max}[
            node.name
        ]
        if node.name == "COUNT":
            return Typed(cls(this=inner), LONG)
        if node.name == "AVG":
            return Typed(cls(this=inner), scalar("double", arg.type.unit))
        if node.name == "SUM":
            kind = "long" if arg.type.is_integer else arg.type.datatype and "double"
            return Typed(cls(this=inner), scalar(kind, arg.type.unit))
        return Typed(cls(this=inner), arg.type)

    # ------------------------------------------------------------------ geometry

    def geometry(self, node: n.ValueExpression | n.Coordinates, scope: Scope) -> Geo:
        """A geometry-valued expression as a :class:`Geo`."""
        match node:
            case n.Point():
                return self._geo("point", [node.lon, node.lat], scope)
            case n.Circle():
                return self._geo("circle", [*self._centre(node.center), node.radius], scope)
            case n.Box():
                return self._geo(
                    "box", [*self._centre(node.center), node.width, node.height], scope
                )
            case n.Polygon():
                coords: list[n.ValueExpression] = []
                for v in node.vertices:
                    coords += self._centre(v)
                if len(coords) < 6:
                    raise UnsupportedError("POLYGON with fewer than 3 vertices", location=node.span)
                polygon = self._geo("polygon", coords, scope)
                problem = polygon.consts and sql_geometry.polygon_problem(polygon.consts)
                if problem:
                    self.problems.append(SemanticProblem(f"POLYGON: {problem}", node.span))
                return polygon
            case n.FunctionCall(name="CENTROID"):
                return self.geo.centroid(self.geometry(node.args[0], scope), node.span)
            case _:
                pass
        got = self.value(node, scope) if not isinstance(node, n.Coordinates) else None
        if isinstance(got, Typed) and got.type.xtype in _GEO_TYPES:
            xtype = got.type.xtype
            kind: sql_geometry.GeoKind = (
                "point" if xtype == "point" else "circle" if xtype == "circle" else "polygon"
            )
            return self.geo.column(kind, got.sql)
        if isinstance(got, Geo):
            return got
        if isinstance(got, Typed) and got.type.datatype is None:
            untyped = self.geo.untyped_column(got.sql)
            if untyped is not None:
                return untyped
        span = node.span
        if isinstance(got, Typed) and got.type.datatype is None and not self.problems:
            raise UnsupportedError("a geometry argument of unknown type", location=span)
        self.problems.append(
            SemanticProblem(
                "Expected a geometry (POINT, CIRCLE, BOX, POLYGON or a geometry column)", span
            )
        )
        return Geo("point", (exp.Null(), exp.Null()))

    def _centre(self, centre: n.Coordinates | n.ValueExpression) -> list[n.ValueExpression]:
        if isinstance(centre, n.Coordinates):
            return [centre.lon, centre.lat]
        if isinstance(centre, n.Point):
            return [centre.lon, centre.lat]
        return [n.FunctionCall("COORD1", (centre,)), n.FunctionCall("COORD2", (centre,))]

    def _geo(self, kind: sql_geometry.GeoKind, parts: list[n.ValueExpression], scope: Scope) -> Geo:
        sql = tuple(self.scalar(p, scope).sql for p in parts)
        values = [constant(s) for s in sql]
        consts = None if any(v is None for v in values) else tuple(float(v or 0) for v in values)
        return Geo(kind, sql, consts=consts)

    def function(self, node: n.FunctionCall, scope: Scope) -> Typed:
        """Built-in functions, geometric ones included."""
        name, args = node.name.upper(), node.args
        if name in _PREDICATE_GEOMETRY:
            a, b = (self.geometry(x, scope) for x in args)
            op = self.geo.contains if name == "CONTAINS" else self.geo.intersects
            return Typed(exp.Cast(this=op(a, b, node.span), to=exp.DataType.build("INT")), INT)
        if name == "DISTANCE":
            pts: list[n.ValueExpression]
            if len(args) == 4:
                pts = [n.Point(None, args[0], args[1]), n.Point(None, args[2], args[3])]
            else:
                pts = list(args)
            p, q = (self.geometry(x, scope) for x in pts)
            return Typed(self.geo.distance(p, q), scalar("double", "deg"))
        if name in {"COORD1", "COORD2"}:
            g = self.geometry(args[0], scope)
            return Typed(self.geo.coord(g, 0 if name == "COORD1" else 1), scalar("double", "deg"))
        if name == "AREA":
            area = self.geo.area(self.geometry(args[0], scope), node.span)
            return Typed(area, scalar("double", "deg**2"))
        if name == "IN_UNIT":
            unit = args[1]
            if not isinstance(unit, n.StringLiteral):
                raise UnsupportedError("IN_UNIT with a non-literal unit", location=node.span)
            value = self.scalar(args[0], scope)
            return sql_functions.in_unit(value, unit.value, self.target.unit_converter, node.span)
        if name == "COORDSYS":
            raise UnsupportedError("COORDSYS (deprecated)", location=node.span)
        return sql_functions.builtin(name, [self.scalar(a, scope) for a in args], node.span)

    def udf(self, node: n.UserDefinedFunction, scope: Scope) -> Typed:
        """User-defined functions the gateway knows (``ivo_*``)."""
        args = list(node.args)
        if node.name.lower() == "ivo_healpix_index" and self.target.dialect != "duckdb":
            raise UnsupportedError(
                f"ivo_healpix_index (HEALPix) in {self.target.dialect} output", location=node.span
            )
        if node.name.lower() == "ivo_healpix_index" and len(args) == 2:
            point = self.geometry(args[1], scope)
            order = self.scalar(args[0], scope)
            lon, lat = point.parts[:2]
            typed = [order, Typed(lon, DOUBLE), Typed(lat, DOUBLE)]
            return sql_functions.user_defined(node.name, typed, node.span)
        values = [self.scalar(a, scope) for a in args]
        return sql_functions.user_defined(node.name, values, node.span)

    # ------------------------------------------------------------------ conditions

    def condition(self, node: n.SearchCondition, scope: Scope) -> exp.Expr:
        """A search condition as an SQL boolean expression."""
        match node:
            case n.AndCondition():
                return exp.and_(*(self.condition(c, scope) for c in node.operands))
            case n.OrCondition():
                return exp.or_(*(self.condition(c, scope) for c in node.operands))
            case n.NotCondition():
                return exp.Not(this=exp.Paren(this=self.condition(node.operand, scope)))
            case n.ComparisonPredicate():
                return self.comparison(node, scope)
            case n.BetweenPredicate():
                between = exp.Between(
                    this=self.scalar(node.operand, scope).sql,
                    low=self.scalar(node.low, scope).sql,
                    high=self.scalar(node.high, scope).sql,
                )
                return exp.Not(this=between) if node.negated else between
            case n.InPredicate():
                operand = self.scalar(node.operand, scope).sql
                if isinstance(node.values, n.Query):
                    sub, _ = self.subquery(node.values, scope)
                    inp = exp.In(this=operand, query=exp.Subquery(this=sub))
                else:
                    inp = exp.In(
                        this=operand, expressions=[self.scalar(v, scope).sql for v in node.values]
                    )
                return exp.Not(this=inp) if node.negated else inp
            case n.LikePredicate():
                cls = exp.ILike if node.case_insensitive else exp.Like
                like = cls(
                    this=self.scalar(node.operand, scope).sql,
                    expression=self.scalar(node.pattern, scope).sql,
                )
                return exp.Not(this=like) if node.negated else like
            case n.NullPredicate():
                isnull = exp.Is(this=self.scalar(node.operand, scope).sql, expression=exp.Null())
                return exp.Not(this=isnull) if node.negated else isnull
            case n.ExistsPredicate():
                sub, _ = self.subquery(node.query, scope)
                return exp.Exists(this=sub)

    def comparison(self, node: n.ComparisonPredicate, scope: Scope) -> exp.Expr:
        """Comparisons; ``CONTAINS(...) = 1`` becomes the bare spherical predicate."""
        for fn, other in ((node.left, node.right), (node.right, node.left)):
            if (
                isinstance(fn, n.FunctionCall)
                and fn.name.upper() in _PREDICATE_GEOMETRY
                and isinstance(other, n.NumericLiteral)
                and other.text in {"0", "1"}
                and node.op in {"=", "<>"}
            ):
                a, b = (self.geometry(x, scope) for x in fn.args)
                op = self.geo.contains if fn.name.upper() == "CONTAINS" else self.geo.intersects
                test = op(a, b, fn.span)
                wanted = (other.text == "1") == (node.op == "=")
                return test if wanted else exp.Not(this=exp.Paren(this=test))
        left, right = self.scalar(node.left, scope), self.scalar(node.right, scope)
        return _COMPARISON[node.op](this=left.sql, expression=right.sql)


def _nonzero(divisor: exp.Expr) -> exp.Expr:
    """A floating-point divisor that raises "division by zero" when it is 0.

    SQL (and so ADQL) makes a division by zero an error; DuckDB's floating-point ``/``
    answers Infinity or NaN instead (its integer ``//`` and ``%`` do raise). A constant
    divisor stays as it is, so that constant folding (cone radii like ``1.0/3600``) sees it;
    a constant 0 is refused before this, by the binder.
    """
    if constant(divisor) is not None:
        return divisor
    test = exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0))
    fault = exp.Anonymous(this="error", expressions=[exp.Literal.string("division by zero")])
    return exp.Case(ifs=[exp.If(this=test, true=fault)], default=divisor)


__all__ = ["ValueCompiler", "constant", "num"]
