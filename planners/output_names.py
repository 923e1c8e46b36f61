"""Names of result columns that the query does not name itself.

ADQL leaves the name of an unaliased expression to the service (DaCHS invents a random one
per query). The gateway names them the same way everywhere — ``count``, ``max``, ``point``,
``cast``, ``expr``, made unique with ``_2``, ``_3`` — whether it computes the expression
itself or pushes the query to a TAP service, so a query's columns do not depend on where
it ran.
"""

from __future__ import annotations

from dataclasses import replace

from grammar import nodes as n
from grammar.keywords import is_reserved


def generated_name(node: n.ValueExpression) -> str:
    """The name given to an unaliased, non-column select expression."""
    match node:
        case n.SetFunction() | n.FunctionCall() | n.UserDefinedFunction():
            return node.name.lower()
        case n.Point() | n.Circle() | n.Box() | n.Polygon():
            return type(node).__name__.lower()
        case n.Cast():
            return "cast"
        case _:
            return "expr"


class UniqueNames:
    """Output names, unique case-insensitively (as ADQL regular identifiers compare)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        """``wanted``, or ``wanted_2``, ``wanted_3``... if it is taken."""
        name, i = wanted, 1
        while name.lower() in self.used:
            i += 1
            name = f"{wanted}_{i}"
        self.used.add(name.lower())
        return name


def name_outputs(query: n.Query) -> n.Query:
    """``query`` with an alias on every select expression that had no name of its own.

    Only the first SELECT of a set operation names the result, so only it is changed. A
    ``*`` expands at the service; its columns keep their own names.
    """
    body = query.body
    if isinstance(body, n.Query):
        return replace(query, body=name_outputs(body))
    if isinstance(body, n.SetOperation):
        left = body.left
        while isinstance(left, n.SetOperation):
            left = left.left
        # Rebuild the leftmost operand only; the others do not name columns.
        return replace(query, body=_replace_leftmost(body, _name_select_or_query(left)))
    return replace(query, body=_name_select(body))


def _replace_leftmost(op: n.SetOperation, new: n.QueryBody) -> n.SetOperation:
    if isinstance(op.left, n.SetOperation):
        return replace(op, left=_replace_leftmost(op.left, new))
    return replace(op, left=new)


def _name_select_or_query(body: n.QueryBody) -> n.QueryBody:
    if isinstance(body, n.SelectQuery):
        return _name_select(body)
    if isinstance(body, n.Query):
        return name_outputs(body)
    return body


def _name_select(select: n.SelectQuery) -> n.SelectQuery:
    names = UniqueNames()
    items: list[n.SelectItem] = []
    changed = False
    for item in select.items:
        if not isinstance(item, n.DerivedColumn):
            items.append(item)
            continue
        if item.alias is not None:
            names.take(item.alias.name)
        elif isinstance(item.expression, n.ColumnReference):
            names.take(item.expression.name.name)
        else:
            name = names.take(generated_name(item.expression))
            # Names such as "count" or "max" are reserved words: only delimited are they ADQL.
            alias = n.Identifier(name, delimited=is_reserved(name))
            items.append(replace(item, alias=alias))
            changed = True
            continue
        items.append(item)
    return replace(select, items=tuple(items)) if changed else select
