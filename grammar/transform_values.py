"""Value-expression half of the node builder: literals, names, operators, function calls.

:class:`ValueTransformer` builds :mod:`grammar.nodes` value expressions from the rules of the
"values" section of ``adql.lark``; :class:`grammar.transformer.AdqlTransformer` extends it with
queries, FROM and conditions. The span helpers shared by both halves live here.

Lark does not pass ``meta`` to a transformer run inside the parser, so spans are computed from
the children: the grammar keeps every token, so a node's span runs from its first token to its
last. Shapes the LALR grammar cannot express (which geometry arguments are coordinates) are
checked here and reported with :class:`GrammarCheckError`.
"""

# Transformer methods are named after the grammar rules in adql.lark, which documents them.
# ruff: noqa: D102

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, NamedTuple, TypeAlias, cast

from lark import Token, Transformer, v_args

from grammar import nodes as n
from grammar.syntax_errors import GrammarCheckError

_Quantifier: TypeAlias = Literal["DISTINCT", "ALL"]


class _Part(NamedTuple):
    """An intermediate value (a clause, a list) with the span of the text it came from."""

    value: Any
    span: n.Span


def _start(item: object) -> n.Span | None:
    if isinstance(item, Token):
        return n.Span(
            item.start_pos or 0,
            item.end_pos or 0,
            item.line or 0,
            item.column or 0,
            item.end_line or 0,
            item.end_column or 0,
        )
    span = getattr(item, "span", None)
    return span if isinstance(span, n.Span) else None


def _span(*items: Any) -> n.Span:
    """The span from the first positioned item to the last one (None items are skipped)."""
    spans = [s for s in map(_start, items) if s is not None and s.line]
    if not spans:
        return n.NO_SPAN
    first, last = spans[0], spans[-1]
    return n.Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


def _values(items: tuple[Any, ...]) -> tuple[Any, ...]:
    """Children without punctuation/keyword tokens and absent optional items."""
    return tuple(i for i in items if i is not None and not isinstance(i, Token))


def canonical_number(text: str) -> str:
    """Canonical lexeme of a numeric literal: ``0x`` + upper-case digits, exponent as ``E``."""
    if text[:2].lower() == "0x":
        return "0x" + text[2:].upper()
    return text.replace("e", "E")


def _decode_quoted(text: str, quote: str) -> str:
    return text[1:-1].replace(quote * 2, quote)


def _is_coord_value(value: object) -> bool:
    # <coord_value> ::= <point> | <column_reference>
    return isinstance(value, n.Point | n.ColumnReference)


def _is_point_value(value: object) -> bool:
    # <polygon_vertices> take <coord_value>s, where <point_value> includes CENTROID(...)
    centroid = isinstance(value, n.FunctionCall) and value.name == "CENTROID"
    return centroid or _is_coord_value(value)


def _is_geometry(value: object) -> bool:
    """A geometry constructor or CENTROID (never a character value)."""
    shapes = n.Point | n.Circle | n.Box | n.Polygon | n.Region
    return isinstance(value, shapes) or (
        isinstance(value, n.FunctionCall) and value.name == "CENTROID"
    )


def _polygon_points(rest: tuple[Any, ...]) -> bool:
    """Whether POLYGON's arguments are vertices (points) rather than lon, lat pairs.

    Three or more point values are vertices, except that an even number of six or more bare
    column references reads as ADQL 2.0 coordinate pairs: the parser cannot see column types,
    and numeric coordinates are by far the common case (grey case in the corpus).
    """
    if len(rest) < 3 or not all(map(_is_point_value, rest)):
        return False
    pairs_possible = len(rest) >= 6 and len(rest) % 2 == 0
    return not pairs_possible or not all(isinstance(a, n.ColumnReference) for a in rest)


def _geometry(
    name: str, null_sys: n.NullLiteral | None, args: tuple[Any, ...], span: n.Span
) -> n.ValueExpression:
    """Sort out the argument shapes of POINT, CIRCLE, BOX, POLYGON, REGION and DISTANCE.

    The (deprecated) coordinate system is ``null_sys`` (a bare leading NULL, which the grammar
    separates from a parenthesised ``(NULL)`` coordinate) or else a leading string literal; the
    rest are either bare ``lon, lat`` pairs (ADQL 2.0 form) or points (ADQL 2.1 form).
    """
    coord_sys: n.StringLiteral | n.NullLiteral | None = null_sys
    rest = args
    if coord_sys is None and args and isinstance(args[0], n.StringLiteral):
        coord_sys, rest = args[0], args[1:]
    count = len(rest)
    if name == "POINT" and count == 2:
        return n.Point(coord_sys, rest[0], rest[1], span=span)
    if name == "REGION" and isinstance(coord_sys, n.StringLiteral) and count == 0:
        return n.Region(coord_sys, span=span)
    if name == "DISTANCE" and coord_sys is None and count == 4:
        return n.FunctionCall(name, rest, span=span)
    if name == "DISTANCE" and coord_sys is None and count == 2 and all(map(_is_coord_value, rest)):
        return n.FunctionCall(name, rest, span=span)
    if name == "CIRCLE" and count == 3:
        return n.Circle(coord_sys, _pair(rest[0], rest[1]), rest[2], span=span)
    if name == "CIRCLE" and count == 2 and _is_coord_value(rest[0]):
        return n.Circle(coord_sys, rest[0], rest[1], span=span)
    if name == "BOX" and count == 4:
        return n.Box(coord_sys, _pair(rest[0], rest[1]), rest[2], rest[3], span=span)
    if name == "BOX" and count == 3 and _is_coord_value(rest[0]):
        return n.Box(coord_sys, rest[0], rest[1], rest[2], span=span)
    if name == "POLYGON" and _polygon_points(rest):
        return n.Polygon(coord_sys, rest, span=span)
    if name == "POLYGON" and count >= 6 and count % 2 == 0:
        pairs = tuple(_pair(rest[i], rest[i + 1]) for i in range(0, count, 2))
        return n.Polygon(coord_sys, pairs, span=span)
    raise GrammarCheckError(f"{name} takes {_GEOMETRY_FORMS[name]}", span)


def _pair(lon: n.ValueExpression, lat: n.ValueExpression) -> n.Coordinates:
    return n.Coordinates(lon, lat, span=_span(lon, lat))


_GEOMETRY_FORMS = {
    "POINT": "([coordsys,] lon, lat)",
    "CIRCLE": "([coordsys,] lon, lat, radius) or ([coordsys,] point, radius)",
    "BOX": "([coordsys,] lon, lat, width, height) or ([coordsys,] point, width, height)",
    "POLYGON": (
        "([coordsys,] lon1, lat1, lon2, lat2, lon3, lat3, ...) or ([coordsys,] point1, point2,"
        " point3, ...); a point is POINT(...), CENTROID(...) or a column"
    ),
    "REGION": "one string literal (not NULL)",
    "DISTANCE": "(point, point) or (lon1, lat1, lon2, lat2); a point is POINT(...) or a column",
}


@v_args(inline=True)
class ValueTransformer(Transformer[Token, object]):
    """Value expressions (methods are named after the rules)."""

    def concatenation(self, *items: Any) -> n.ValueExpression:
        operands = _values(items)
        for operand in operands:
            # BNF: || joins <character_factor>s, which a geometry value is not.
            if _is_geometry(operand):
                msg = "|| joins character values; a geometry cannot be concatenated"
                raise GrammarCheckError(msg, _span(operand))
        result = operands[0]
        for right in operands[1:]:
            result = n.BinaryExpression("||", result, right, span=_span(result, right))
        return cast("n.ValueExpression", result)

    def binary(
        self, left: n.ValueExpression, op: Token, right: n.ValueExpression
    ) -> n.BinaryExpression:
        return n.BinaryExpression(
            cast("n.BinaryOperator", str(op)), left, right, span=_span(left, right)
        )

    def unary(self, op: Token, operand: n.ValueExpression) -> n.UnaryExpression:
        return n.UnaryExpression(cast("n.UnaryOperator", str(op)), operand, span=_span(op, operand))

    def paren_value(self, lp: Token, value: n.ValueExpression, rp: Token) -> object:
        # No node for parentheses, but the span grows to cover them: that is how the LIKE
        # check below tells "(a + 1) LIKE x" (allowed) from "a + 1 LIKE x" (not ADQL).
        return replace(value, span=_span(lp, rp))

    def null_literal(self, token: Token) -> n.NullLiteral:
        return n.NullLiteral(span=_span(token))

    def unsigned_numeric_literal(self, token: Token) -> n.NumericLiteral:
        return n.NumericLiteral(canonical_number(token), span=_span(token))

    def character_string_literal(self, *pieces: Token) -> n.StringLiteral:
        value = "".join(_decode_quoted(p, "'") for p in pieces)
        return n.StringLiteral(value, span=_span(*pieces))

    def column_reference(self, *items: Any) -> n.ColumnReference:
        parts = tuple(i for i in items if isinstance(i, n.Identifier))
        qualifier = n.TableName(parts[:-1], span=_span(*parts[:-1])) if len(parts) > 1 else None
        return n.ColumnReference(parts[-1], qualifier, span=_span(*items))

    def identifier(self, token: Token) -> n.Identifier:
        if token.type == "DELIMITED_IDENTIFIER":
            return n.Identifier(_decode_quoted(token, '"'), delimited=True, span=_span(token))
        return n.Identifier(str(token), span=_span(token))

    def count_star(self, kw: Token, *rest: Token) -> n.SetFunction:
        return n.SetFunction("COUNT", None, span=_span(kw, rest[-1]))

    def general_set_function(self, *items: Any) -> n.SetFunction:
        name, _lp, quant, argument, rp = items
        assert isinstance(name, Token)
        return n.SetFunction(
            cast("n.SetFunctionName", name.upper()),
            argument,
            cast("_Quantifier | None", quant.upper() if quant else None),
            span=_span(name, rp),
        )

    def _call(self, name: Token, items: tuple[object, ...]) -> n.FunctionCall:
        return n.FunctionCall(name.upper(), _values(items), span=_span(name, *items))

    def function_1(self, name: Token, *rest: Any) -> n.FunctionCall:
        call = self._call(name, rest)
        if call.name in {"COORD1", "COORD2"} and not _is_coord_value(call.args[0]):
            msg = f"{call.name} takes a POINT or a column reference"
            raise GrammarCheckError(msg, _span(call.args[0]))
        return call

    def function_2(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def function_0(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def function_rand(self, name: Token, *rest: Any) -> n.FunctionCall:
        call = self._call(name, rest)
        if call.args and not (
            isinstance(seed := call.args[0], n.NumericLiteral) and seed.text.isdigit()
        ):
            raise GrammarCheckError("RAND takes an unsigned integer seed", _span(seed))
        return call

    def function_round(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def signed_integer(self, sign: Token | None, digits: Token) -> n.ValueExpression:
        literal = n.NumericLiteral(str(digits), span=_span(digits))
        if sign is None:
            return literal
        return n.UnaryExpression(
            cast("n.UnaryOperator", str(sign)), literal, span=_span(sign, digits)
        )

    def function_name_1(self, token: Token) -> Token:
        return token

    function_name_2 = function_name_round = set_function_type = geometry_name = function_name_1

    def string_function(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def geometry_function(
        self, name: Token, _lp: Token, null_sys: n.NullLiteral | None, *rest: Any
    ) -> n.ValueExpression:
        return _geometry(name.upper(), null_sys, _values(rest), _span(name, *rest))

    def cast_specification(self, *items: Any) -> n.Cast:
        kw, _lp, operand, _as, target, rp = items
        return n.Cast(operand, target, span=_span(kw, rp))

    def cast_target(self, *items: Any) -> n.CastTarget:
        words = [t.upper() for t in items if isinstance(t, Token) and t.type != "UNSIGNED_INTEGER"]
        words = [w for w in words if w not in {"(", ")"}]
        lengths = [int(t) for t in items if isinstance(t, Token) and t.type == "UNSIGNED_INTEGER"]
        return n.CastTarget(" ".join(words), lengths[0] if lengths else None, span=_span(*items))

    def coalesce_expression(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def in_unit_function(self, name: Token, *rest: Any) -> n.FunctionCall:
        return self._call(name, rest)

    def user_defined_function(self, name: Token, *rest: Any) -> n.UserDefinedFunction:
        return n.UserDefinedFunction(str(name), _values(rest), span=_span(name, *rest))
