"""Generic walking and pure rewriting of AST trees, plus small condition helpers.

The walkers are generic over node types: they find children through
:func:`dataclasses.fields`, so a new node class needs no change here. Children are nodes,
tuples of nodes, or ``None``; spans and scalar fields (operators, names, flags) are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from grammar import nodes as n

T = TypeVar("T")


def _is_node(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, (type, n.Span))


def _children(node: object) -> Iterator[object]:
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            yield from (item for item in value if _is_node(item))
        elif _is_node(value):
            yield value


def iter_nodes(node: n.Node) -> Iterator[n.Node]:
    """Yield ``node`` and every node below it, in pre-order (parents before children).

    Children are visited in field order (``left`` before ``right``, ``items`` before
    ``from_``). The walk uses an explicit stack, so tree depth costs no Python stack.

    Parameters
    ----------
    node
        The root of the walk.

    Yields
    ------
    Node
        Each node once per occurrence in the tree.
    """
    stack: list[object] = [node]
    while stack:
        current = stack.pop()
        yield cast("n.Node", current)
        stack.extend(reversed(list(_children(current))))


def transform(node: T, fn: Callable[[Any], Any]) -> T:
    """Rewrite a tree bottom-up without touching the original.

    Every node's children are rewritten first; then ``fn`` receives the node rebuilt with the
    new children (:func:`dataclasses.replace`, span kept) and returns its replacement, or the
    node itself to keep it. Unchanged subtrees are shared, not copied.

    Parameters
    ----------
    node
        The root of the tree.
    fn
        Called once per node, children before parents. It must return a node that fits where
        the old one was (a value expression for a value expression, and so on).

    Returns
    -------
    T
        The rewritten tree (``node`` itself if ``fn`` changed nothing).
    """
    changes: dict[str, object] = {}
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            new_items = tuple(transform(item, fn) if _is_node(item) else item for item in value)
            if any(a is not b for a, b in zip(new_items, value, strict=True)):
                changes[f.name] = new_items
        elif _is_node(value):
            new_value = transform(value, fn)
            if new_value is not value:
                changes[f.name] = new_value
    rebuilt = dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]
    return cast("T", fn(rebuilt))


def conjuncts(condition: n.SearchCondition | None) -> tuple[n.SearchCondition, ...]:
    """The operands of a conjunction, nested ANDs flattened; ``()`` for ``None``.

    A condition that is not an AND is its own single conjunct.
    """
    if condition is None:
        return ()
    out: list[n.SearchCondition] = []
    stack: list[n.SearchCondition] = [condition]
    while stack:
        current = stack.pop()
        if isinstance(current, n.AndCondition):
            stack.extend(reversed(current.operands))
        else:
            out.append(current)
    return tuple(out)


def and_of(
    conditions: tuple[n.SearchCondition, ...] | list[n.SearchCondition],
) -> n.SearchCondition | None:
    """Combine conditions with AND: ``None`` for none, the condition itself for one.

    Operands that are ANDs themselves are flattened into the result, so
    ``and_of(conjuncts(c))`` is a flat conjunction equivalent to ``c``.
    """
    flat = tuple(c for condition in conditions for c in conjuncts(condition))
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return n.AndCondition(flat)


class NotALiteralError(ValueError):
    """Raised by :func:`literal_value` for an expression that is not a constant."""


def literal_value(expression: n.ValueExpression) -> int | float | str | None:
    """The Python value of a constant expression.

    Understood: numeric literals (``int`` for integers and hex, ``float`` otherwise), any
    number of signs applied to one (``-3``, ``+2.5``, ``- -1``), string literals, and ``NULL``
    (``None``).

    Parameters
    ----------
    expression
        A value expression.

    Returns
    -------
    int | float | str | None
        The value; ``None`` means the SQL ``NULL``.

    Raises
    ------
    NotALiteralError
        If the expression is anything else (a column, a function call, ``~1``...). It is a
        ``ValueError``, so planners can treat it as "not pushable".
    """
    negate = signed = False
    while isinstance(expression, n.UnaryExpression) and expression.op in "+-":
        negate ^= expression.op == "-"
        signed = True
        expression = expression.operand
    if isinstance(expression, n.NumericLiteral):
        value = expression.value
        return -value if negate else value
    if isinstance(expression, n.StringLiteral) and not signed:
        return expression.value
    if isinstance(expression, n.NullLiteral) and not signed:
        return None
    msg = f"not a constant: {type(expression).__name__}"
    raise NotALiteralError(msg)
