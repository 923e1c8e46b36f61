"""Value-expression printing for the canonical ADQL printer.

Literals, identifiers, column references, operators with their precedence, function calls,
casts and geometry constructors. :mod:`grammar.printer` builds conditions, FROM clauses and
queries on top of these, and registers its own node types in :data:`PRINTERS`, which the
dispatch here shares (a scalar subquery is a value that prints a whole query).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from grammar import nodes as n
from grammar.keywords import is_reserved

_REGULAR = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_LEVEL = {"|": 1, "^": 2, "&": 3, "+": 4, "-": 4, "*": 5, "/": 5}
"""Binding strength of the numeric binary operators (``||`` is handled apart)."""


def is_regular(name: str) -> bool:
    """True if ``name`` may be written unquoted: a regular identifier that is not reserved."""
    return _REGULAR.match(name) is not None and not is_reserved(name)


def name_identifier(name: str) -> n.Identifier:
    """The identifier for a catalogue name: regular where ADQL allows one, delimited otherwise."""
    return n.Identifier(name, delimited=not is_regular(name))


@lru_cache(maxsize=4096)
def _regular(name: str) -> str:
    if not is_regular(name):
        msg = f"{name!r} is not a regular ADQL identifier; build it with delimited=True"
        raise ValueError(msg)
    return name


def identifier(node: n.Identifier) -> str:
    """An identifier, quoted if delimited; ``ValueError`` if a regular one is not valid."""
    if node.delimited:
        return '"' + node.name.replace('"', '""') + '"'
    return _regular(node.name)


def _string(node: n.StringLiteral) -> str:
    return "'" + node.value.replace("'", "''") + "'"


def table_name(node: n.TableName) -> str:
    """A dotted (possibly schema- or catalogue-qualified) table name."""
    return ".".join(identifier(part) for part in node.parts)


def _column(node: n.ColumnReference) -> str:
    name = identifier(node.name)
    return name if node.qualifier is None else f"{table_name(node.qualifier)}.{name}"


# --------------------------------------------------------------------------- value expressions


def not_null(node: n.ValueExpression) -> str:
    """``node`` where the BNF wants a typed (numeric, character or geometry) value.

    A bare NULL is not one: there NULL is written as the primary ``(NULL)``.
    """
    return "(NULL)" if isinstance(node, n.NullLiteral) else value(node)


def _binary_needs_parens(parent: str, child: object, *, right: bool) -> bool:
    """Whether ``child`` needs parentheses as an operand of the binary operator ``parent``."""
    if parent == "||":
        # Concatenation joins primaries only; a concatenation chain nests leftwards.
        if isinstance(child, n.UnaryExpression):
            return True
        return isinstance(child, n.BinaryExpression) and (right or child.op != "||")
    if not isinstance(child, n.BinaryExpression):
        return False  # signs and ~ bind tighter than any binary operator
    if child.op == "||":
        return True
    parent_level, child_level = _LEVEL[parent], _LEVEL[child.op]
    return child_level < parent_level or (right and child_level == parent_level)


def _binary(node: n.BinaryExpression) -> str:
    spine: list[n.BinaryExpression] = [node]
    left = node.left
    while isinstance(left, n.BinaryExpression) and not _binary_needs_parens(
        spine[-1].op, left, right=False
    ):
        spine.append(left)
        left = left.left
    text = _operand(spine[-1].op, left, right=False)
    for part in reversed(spine):
        text = f"{text} {part.op} {_operand(part.op, part.right, right=True)}"
    return text


def _operand(parent: str, child: n.ValueExpression, *, right: bool) -> str:
    text = not_null(child)
    return f"({text})" if _binary_needs_parens(parent, child, right=right) else text


def _unary(node: n.UnaryExpression) -> str:
    operand = not_null(node.operand)
    # A sign applies to a primary only (``-(-a)``); ``~`` applies to any factor (``~-a``).
    if isinstance(node.operand, n.BinaryExpression) or (
        isinstance(node.operand, n.UnaryExpression) and node.op != "~"
    ):
        operand = f"({operand})"
    return node.op + operand


def arguments(
    args: tuple[n.ValueExpression | n.Coordinates, ...], *, bare_null: bool = True
) -> str:
    """Comma-separated arguments; ``bare_null=False`` writes a NULL argument as ``(NULL)``."""
    print_one = value if bare_null else not_null
    return ", ".join(
        _coordinates(a) if isinstance(a, n.Coordinates) else print_one(a) for a in args
    )


def _function(node: n.FunctionCall) -> str:
    # Of the built-ins only COALESCE takes <value_expression> arguments, which may be NULL.
    name = node.name.upper()
    return f"{name}({arguments(node.args, bare_null=name == 'COALESCE')})"


def _udf(node: n.UserDefinedFunction) -> str:
    if _REGULAR.match(node.name) is None:
        msg = f"{node.name!r} is not a valid user-defined function name"
        raise ValueError(msg)
    return f"{node.name}({arguments(node.args)})"


def _set_function(node: n.SetFunction) -> str:
    if node.argument is None:
        return f"{node.name}(*)"
    quantifier = f"{node.quantifier} " if node.quantifier else ""
    return f"{node.name}({quantifier}{value(node.argument)})"


def _cast_target(node: n.CastTarget) -> str:
    name = node.name.upper()
    return name if node.length is None else f"{name}({node.length})"


def _cast(node: n.Cast) -> str:
    return f"CAST({value(node.operand)} AS {_cast_target(node.target)})"


def _coordinates(node: n.Coordinates) -> str:
    return f"{not_null(node.lon)}, {not_null(node.lat)}"


def _geometry(
    name: str,
    coord_sys: n.StringLiteral | n.NullLiteral | None,
    args: tuple[n.ValueExpression | n.Coordinates, ...],
) -> str:
    if isinstance(coord_sys, n.StringLiteral):
        prefix = f"{_string(coord_sys)}, "
    else:
        prefix = "" if coord_sys is None else "NULL, "
    return f"{name}({prefix}{arguments(args, bare_null=False)})"


def _point(node: n.Point) -> str:
    return _geometry("POINT", node.coord_sys, (node.lon, node.lat))


def _circle(node: n.Circle) -> str:
    return _geometry("CIRCLE", node.coord_sys, (node.center, node.radius))


def _box(node: n.Box) -> str:
    return _geometry("BOX", node.coord_sys, (node.center, node.width, node.height))


def _polygon(node: n.Polygon) -> str:
    return _geometry("POLYGON", node.coord_sys, node.vertices)


def value(node: n.ValueExpression) -> str:
    """Any value expression, dispatched on its node type through :data:`PRINTERS`."""
    printer: Callable[[Any], str] = PRINTERS[type(node)]
    return printer(node)


PRINTERS: dict[type, Callable[[Any], str]] = {
    n.Identifier: identifier,
    n.TableName: table_name,
    n.ColumnReference: _column,
    n.NumericLiteral: lambda node: node.text,
    n.StringLiteral: _string,
    n.NullLiteral: lambda _node: "NULL",
    n.UnaryExpression: _unary,
    n.BinaryExpression: _binary,
    n.FunctionCall: _function,
    n.UserDefinedFunction: _udf,
    n.SetFunction: _set_function,
    n.CastTarget: _cast_target,
    n.Cast: _cast,
    n.Coordinates: _coordinates,
    n.Point: _point,
    n.Circle: _circle,
    n.Box: _box,
    n.Polygon: _polygon,
    n.Region: lambda node: f"REGION({_string(node.text)})",
}
"""Printer of each node type; :mod:`grammar.printer` adds conditions, FROM items and queries."""
