"""Generic tree walking, pure rewriting and the condition helpers."""

from __future__ import annotations

import dataclasses

import pytest

from grammar import nodes as n
from grammar.walk import NotALiteralError, and_of, conjuncts, iter_nodes, literal_value, transform

SPAN = n.Span(0, 1, 1, 1, 1, 2)


def col(name: str) -> n.ColumnReference:
    return n.ColumnReference(n.Identifier(name))


def eq(name: str, value: str = "1") -> n.ComparisonPredicate:
    return n.ComparisonPredicate("=", col(name), n.NumericLiteral(value))


def test_iter_nodes_is_pre_order_in_field_order() -> None:
    expr = n.BinaryExpression("+", col("a"), n.NumericLiteral("2"), span=SPAN)
    kinds = [type(node).__name__ for node in iter_nodes(expr)]
    assert kinds == ["BinaryExpression", "ColumnReference", "Identifier", "NumericLiteral"]


def test_iter_nodes_visits_tuples_and_optional_children() -> None:
    query = n.Query(
        n.SelectQuery(
            (n.DerivedColumn(col("a")), n.Asterisk()),
            (n.TableReference(n.TableName((n.Identifier("s"), n.Identifier("t")))),),
            where=n.AndCondition((eq("b"), eq("c"))),
        )
    )
    names = [node.name for node in iter_nodes(query) if isinstance(node, n.Identifier)]
    assert names == ["a", "s", "t", "b", "c"]
    assert not any(isinstance(node, n.Span) for node in iter_nodes(query))


def test_iter_nodes_deep_tree_without_recursion() -> None:
    expr: n.ValueExpression = col("a")
    for _ in range(10000):
        expr = n.UnaryExpression("-", expr)
    assert sum(1 for _ in iter_nodes(expr)) == 10002


def test_transform_rewrites_bottom_up_and_keeps_original() -> None:
    cond = n.AndCondition((eq("a"), eq("b")), span=SPAN)
    seen: list[str] = []

    def rename(node: object) -> object:
        seen.append(type(node).__name__)
        if isinstance(node, n.Identifier) and node.name == "a":
            return dataclasses.replace(node, name="z")
        return node

    new = transform(cond, rename)
    assert new == n.AndCondition((eq("z"), eq("b")))
    assert cond == n.AndCondition((eq("a"), eq("b")))
    assert new.span == SPAN
    assert new.operands[1] is cond.operands[1]  # unchanged subtrees are shared
    assert seen[0] == "Identifier"
    assert seen[-1] == "AndCondition"


def test_transform_identity_returns_same_object() -> None:
    cond = n.OrCondition((eq("a"), eq("b")))
    assert transform(cond, lambda node: node) is cond


def test_conjuncts_flattens_nested_ands() -> None:
    a, b, c, d = eq("a"), eq("b"), eq("c"), eq("d")
    cond = n.AndCondition((a, n.AndCondition((b, c)), n.OrCondition((c, d))))
    assert conjuncts(cond) == (a, b, c, n.OrCondition((c, d)))
    assert conjuncts(a) == (a,)
    assert conjuncts(None) == ()


def test_and_of() -> None:
    a, b, c = eq("a"), eq("b"), eq("c")
    assert and_of([]) is None
    assert and_of([a]) is a
    assert and_of([a, n.AndCondition((b, c))]) == n.AndCondition((a, b, c))


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        (n.NumericLiteral("12"), 12),
        (n.NumericLiteral("0x1F"), 31),
        (n.NumericLiteral("1.5E2"), 150.0),
        (n.UnaryExpression("-", n.NumericLiteral("74.3")), -74.3),
        (n.UnaryExpression("-", n.UnaryExpression("-", n.NumericLiteral("2"))), 2),
        (n.UnaryExpression("+", n.NumericLiteral("2")), 2),
        (n.StringLiteral("F475W"), "F475W"),
        (n.NullLiteral(), None),
    ],
)
def test_literal_value(expr: n.ValueExpression, value: object) -> None:
    result = literal_value(expr)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    "expr",
    [
        col("a"),
        n.UnaryExpression("-", col("a")),
        n.UnaryExpression("~", n.NumericLiteral("1")),
        n.UnaryExpression("-", n.StringLiteral("x")),
        n.BinaryExpression("+", n.NumericLiteral("1"), n.NumericLiteral("2")),
    ],
)
def test_literal_value_refuses_non_constants(expr: n.ValueExpression) -> None:
    with pytest.raises(NotALiteralError):
        literal_value(expr)
