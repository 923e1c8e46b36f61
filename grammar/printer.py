"""The canonical ADQL printer: AST nodes back to text.

The output is canonical: keywords and built-in function names in upper case, single spaces,
no redundant parentheses. Parentheses leave no node in the tree, so the printer puts them back
where operator precedence or associativity needs them; the contract is
``parse(to_adql(q)) == q`` for every parseable ``q``.

Identifiers are never spliced blindly: a regular (non-delimited) identifier that is not a
valid ADQL regular identifier (or is a reserved word) makes :func:`to_adql` raise
``ValueError``, because printing it would change the query's meaning or inject text.

Long left-associative chains (``a + b + c + ...``, ``q1 UNION q2 UNION ...``, join chains) are
printed iteratively along their left spine, so their length does not consume Python stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grammar import nodes as n
from grammar.printer_values import PRINTERS
from grammar.printer_values import arguments as _args
from grammar.printer_values import identifier as _identifier
from grammar.printer_values import not_null as _not_null
from grammar.printer_values import table_name as _table_name
from grammar.printer_values import value as _value

_SET_LEVEL = {"UNION": 1, "EXCEPT": 1, "INTERSECT": 2}


# --------------------------------------------------------------------------- search conditions


def _in(node: n.InPredicate) -> str:
    values = _query(node.values) if isinstance(node.values, n.Query) else _args(node.values)
    return f"{_value(node.operand)}{' NOT' if node.negated else ''} IN ({values})"


def _character_operand(node: n.ValueExpression) -> str:
    # LIKE compares character values: an arithmetic operand (or NULL) must be parenthesised.
    text = _not_null(node)
    if isinstance(node, n.UnaryExpression) or (
        isinstance(node, n.BinaryExpression) and node.op != "||"
    ):
        return f"({text})"
    return text


def _like(node: n.LikePredicate) -> str:
    keyword = "ILIKE" if node.case_insensitive else "LIKE"
    negation = "NOT " if node.negated else ""
    return (
        f"{_character_operand(node.operand)} {negation}{keyword} {_character_operand(node.pattern)}"
    )


def _between(node: n.BetweenPredicate) -> str:
    negation = "NOT " if node.negated else ""
    return f"{_value(node.operand)} {negation}BETWEEN {_value(node.low)} AND {_value(node.high)}"


def _null(node: n.NullPredicate) -> str:
    return f"{_value(node.operand)} IS {'NOT ' if node.negated else ''}NULL"


def _comparison(node: n.ComparisonPredicate) -> str:
    return f"{_value(node.left)} {node.op} {_value(node.right)}"


def _exists(node: n.ExistsPredicate) -> str:
    return f"EXISTS ({_query(node.query)})"


def _not(node: n.NotCondition) -> str:
    operand = _condition(node.operand)
    if isinstance(node.operand, (n.AndCondition, n.OrCondition, n.NotCondition)):
        operand = f"({operand})"
    return f"NOT {operand}"


def _and(node: n.AndCondition) -> str:
    parts = []
    for operand in node.operands:
        text = _condition(operand)
        parts.append(f"({text})" if isinstance(operand, (n.AndCondition, n.OrCondition)) else text)
    return " AND ".join(parts)


def _or(node: n.OrCondition) -> str:
    parts = []
    for operand in node.operands:
        text = _condition(operand)
        parts.append(f"({text})" if isinstance(operand, n.OrCondition) else text)
    return " OR ".join(parts)


def _condition(node: n.SearchCondition) -> str:
    printer: Callable[[Any], str] = _PRINTERS[type(node)]
    return printer(node)


# --------------------------------------------------------------------------- FROM clause


def _table_reference(node: n.TableReference) -> str:
    name = _table_name(node.name)
    return name if node.alias is None else f"{name} AS {_identifier(node.alias)}"


def _derived_table(node: n.DerivedTable) -> str:
    return f"({_query(node.query)}) AS {_identifier(node.alias)}"


def _join_operator(node: n.JoinedTable) -> str:
    natural = "NATURAL " if node.natural else ""
    kind = "" if node.kind == "INNER" else f"{node.kind} "
    return f"{natural}{kind}JOIN"


def _joined_table(node: n.JoinedTable) -> str:
    spine: list[n.JoinedTable] = [node]
    while isinstance(spine[-1].left, n.JoinedTable):
        spine.append(spine[-1].left)
    text = _from_item(spine[-1].left)
    for join in reversed(spine):
        right = _from_item(join.right)
        if isinstance(join.right, n.JoinedTable):
            right = f"({right})"
        text = f"{text} {_join_operator(join)} {right}"
        if join.condition is not None:
            text += f" ON {_condition(join.condition)}"
        elif join.using is not None:
            text += f" USING ({', '.join(_identifier(c) for c in join.using)})"
    return text


def _from_item(node: n.FromItem) -> str:
    printer: Callable[[Any], str] = _PRINTERS[type(node)]
    return printer(node)


# --------------------------------------------------------------------------- queries


def _asterisk(node: n.Asterisk) -> str:
    return "*" if node.qualifier is None else f"{_table_name(node.qualifier)}.*"


def _derived_column(node: n.DerivedColumn) -> str:
    text = _value(node.expression)
    return text if node.alias is None else f"{text} AS {_identifier(node.alias)}"


def _select(node: n.SelectQuery) -> str:
    parts = ["SELECT"]
    if node.quantifier is not None:
        parts.append(node.quantifier)
    if node.top is not None:
        parts.append(f"TOP {node.top}")
    parts.append(", ".join(_PRINTERS[type(item)](item) for item in node.items))
    if node.from_:
        parts.append("FROM " + ", ".join(_from_item(item) for item in node.from_))
    if node.where is not None:
        parts.append("WHERE " + _condition(node.where))
    if node.group_by:
        parts.append("GROUP BY " + ", ".join(_value(e) for e in node.group_by))
    if node.having is not None:
        parts.append("HAVING " + _condition(node.having))
    return " ".join(parts)


def _set_operand(parent: n.SetOperation, child: n.QueryBody, *, right: bool) -> str:
    if isinstance(child, n.Query):
        return f"({_query(child)})"
    if isinstance(child, n.SetOperation):
        parent_level, child_level = _SET_LEVEL[parent.op], _SET_LEVEL[child.op]
        if child_level < parent_level or (right and child_level == parent_level):
            return f"({_body(child)})"
    return _body(child)


def _set_operation(node: n.SetOperation) -> str:
    spine: list[n.SetOperation] = [node]
    left = node.left
    while isinstance(left, n.SetOperation) and _SET_LEVEL[left.op] >= _SET_LEVEL[spine[-1].op]:
        spine.append(left)
        left = left.left
    text = _set_operand(spine[-1], left, right=False)
    for op in reversed(spine):
        keyword = f"{op.op} ALL" if op.all else op.op
        text = f"{text} {keyword} {_set_operand(op, op.right, right=True)}"
    return text


def _body(node: n.QueryBody) -> str:
    if isinstance(node, n.Query):
        return f"({_query(node)})"
    if isinstance(node, n.SetOperation):
        return _set_operation(node)
    return _select(node)


def _order_item(node: n.OrderItem) -> str:
    return _value(node.expression) + (" DESC" if node.descending else "")


def _with_query(node: n.WithQuery) -> str:
    return f"{_identifier(node.name)} AS ({_query(node.query)})"


def _query(node: n.Query) -> str:
    parts = []
    if node.with_:
        parts.append("WITH " + ", ".join(_with_query(w) for w in node.with_))
    parts.append(_body(node.body))
    if node.order_by:
        parts.append("ORDER BY " + ", ".join(_order_item(o) for o in node.order_by))
    if node.offset is not None:
        parts.append(f"OFFSET {node.offset}")
    return " ".join(parts)


def _scalar_subquery(node: n.ScalarSubquery) -> str:
    return f"({_query(node.query)})"


_PRINTERS = PRINTERS
_PRINTERS.update(
    {
        n.ScalarSubquery: _scalar_subquery,
        n.ComparisonPredicate: _comparison,
        n.BetweenPredicate: _between,
        n.InPredicate: _in,
        n.LikePredicate: _like,
        n.NullPredicate: _null,
        n.ExistsPredicate: _exists,
        n.NotCondition: _not,
        n.AndCondition: _and,
        n.OrCondition: _or,
        n.TableReference: _table_reference,
        n.DerivedTable: _derived_table,
        n.JoinedTable: _joined_table,
        n.Asterisk: _asterisk,
        n.DerivedColumn: _derived_column,
        n.SelectQuery: _select,
        n.SetOperation: _set_operation,
        n.OrderItem: _order_item,
        n.WithQuery: _with_query,
        n.Query: _query,
    }
)


def to_adql(node: n.Node) -> str:
    """Print any AST node as canonical ADQL.

    Parameters
    ----------
    node
        A whole :class:`~grammar.nodes.Query` or any part of one (a condition, a value, a
        table reference...).

    Returns
    -------
    str
        One line of canonical ADQL; for a query, ``parse(to_adql(q)) == q``.

    Raises
    ------
    ValueError
        If a non-delimited identifier or a user-defined function name is not a valid regular
        identifier (it would otherwise be spliced into the text unchecked).
    """
    try:
        printer = _PRINTERS[type(node)]
    except KeyError:
        msg = f"not an ADQL node: {type(node).__name__}"
        raise TypeError(msg) from None
    return printer(node)
