"""Build :mod:`grammar.nodes` trees from the ADQL 2.1 grammar in ``adql.lark``.

The transformer runs inside the LALR parser (``Lark(..., transformer=AdqlTransformer())``), so
no parse tree is ever built. This module holds the query structure (queries, set operations,
FROM and joins, clauses, conditions); value expressions come from
:class:`grammar.transform_values.ValueTransformer`, which also documents how spans are derived.
Clause helpers return :class:`_Part` (a value with a span) so that enclosing nodes can still
cover them.
"""

# Transformer methods are named after the grammar rules in adql.lark, which documents them.
# ruff: noqa: D102

from __future__ import annotations

from typing import Any, cast

from lark import Token, v_args

from grammar import fast_lists
from grammar import nodes as n
from grammar.syntax_errors import GrammarCheckError
from grammar.transform_values import ValueTransformer, _Part, _Quantifier, _span, _values


@v_args(inline=True)
class AdqlTransformer(ValueTransformer):
    """Turn each reduced grammar rule into its node (methods are named after the rules)."""

    # ------------------------------------------------------------------ queries

    def query(
        self, with_: _Part | None, body: n.QueryBody, order: _Part | None, offset: _Part | None
    ) -> n.Query:
        return n.Query(
            body=body,
            order_by=order.value if order else (),
            offset=offset.value if offset else None,
            with_=with_.value if with_ else (),
            span=_span(with_, body, order, offset),
        )

    def inner_query(self, body: n.QueryBody, order: _Part | None, offset: _Part | None) -> n.Query:
        return self.query(None, body, order, offset)

    def with_clause(self, *items: Any) -> _Part:
        return _Part(_values(items), _span(*items))

    def with_query(self, name: n.Identifier, *rest: Any) -> n.WithQuery:
        query = rest[2]
        assert isinstance(query, n.Query)
        return n.WithQuery(name=name, query=query, span=_span(name, rest[-1]))

    def _set_operation(self, op: n.SetOperator, items: tuple[object, ...]) -> n.SetOperation:
        left, _kw, all_, right = items
        return n.SetOperation(
            op=op,
            left=cast("n.QueryBody", left),
            right=cast("n.QueryBody", right),
            all=all_ is not None,
            span=_span(left, right),
        )

    def union(self, *items: Any) -> n.SetOperation:
        return self._set_operation("UNION", items)

    def except_(self, *items: Any) -> n.SetOperation:
        return self._set_operation("EXCEPT", items)

    def intersect(self, *items: Any) -> n.SetOperation:
        return self._set_operation("INTERSECT", items)

    def paren_query(self, _lp: Token, query: n.Query, _rp: Token) -> n.Query:
        return query

    def select_query(self, *items: Any) -> n.SelectQuery:
        kw, quant, limit, select, from_, where, group, having = items
        assert isinstance(select, _Part)
        assert isinstance(from_, _Part)
        return n.SelectQuery(
            items=select.value,
            from_=from_.value,
            quantifier=cast("_Quantifier | None", quant.upper() if quant else None),
            top=limit.value if isinstance(limit, _Part) else None,
            where=where.value if isinstance(where, _Part) else None,
            group_by=group.value if isinstance(group, _Part) else (),
            having=having.value if isinstance(having, _Part) else None,
            span=_span(kw, from_, where, group, having),
        )

    def set_quantifier(self, token: Token) -> Token:
        return token

    def set_limit(self, kw: Token, count: Token) -> _Part:
        return _Part(int(count), _span(kw, count))

    def asterisk(self, star: Token) -> n.Asterisk:
        return n.Asterisk(span=_span(star))

    def select_list(self, *items: Any) -> _Part:
        return _Part(_values(items), _span(*items))

    def derived_column(
        self, expression: n.ValueExpression, alias: n.Identifier | None
    ) -> n.DerivedColumn:
        return n.DerivedColumn(expression, alias, span=_span(expression, alias))

    def as_clause(self, _as: Token | None, name: n.Identifier) -> n.Identifier:
        return name

    def qualified_asterisk(self, *items: Any) -> n.Asterisk:
        parts = tuple(i for i in items if isinstance(i, n.Identifier))
        return n.Asterisk(n.TableName(parts, span=_span(*parts)), span=_span(*items))

    # ------------------------------------------------------------------ FROM

    def from_clause(self, *items: Any) -> _Part:
        return _Part(_values(items), _span(*items))

    def _join(
        self,
        left: n.FromItem,
        right: n.FromItem,
        kind: _Part | None,
        spec: _Part | None = None,
        **fields: Any,
    ) -> n.JoinedTable:
        return n.JoinedTable(
            left=left,
            right=right,
            kind=kind.value if kind is not None else "INNER",
            span=_span(left, right, spec),
            **fields,
        )

    def qualified_join(self, *items: Any) -> n.JoinedTable:
        left, join_type, _kw, right, spec = items
        if spec is None:  # no ON/USING: every row with every row (ON TRUE)
            return self._join(left, right, join_type)
        assert isinstance(spec, _Part)
        if isinstance(spec.value, tuple):
            return self._join(left, right, join_type, using=spec.value, spec=spec)
        return self._join(left, right, join_type, condition=spec.value, spec=spec)

    def natural_join(self, *items: Any) -> n.JoinedTable:
        left, _natural, join_type, _kw, right = items
        return self._join(left, right, join_type, natural=True)

    def cross_join(
        self, left: n.FromItem, cross: Token, _kw: Token, right: n.FromItem
    ) -> n.JoinedTable:
        return self._join(left, right, _Part("CROSS", _span(cross)))

    def join_type(self, kind: Token, outer: Token | None = None) -> _Part:
        return _Part(kind.upper(), _span(kind, outer))

    def outer_join_type(self, token: Token) -> Token:
        return token

    def join_condition(self, kw: Token, condition: n.SearchCondition) -> _Part:
        return _Part(condition, _span(kw, condition))

    def named_columns_join(self, *items: Any) -> _Part:
        return _Part(_values(items), _span(*items))

    def table_ref(self, name: n.TableName, alias: n.Identifier | None) -> n.TableReference:
        return n.TableReference(name, alias, span=_span(name, alias))

    def derived_table(self, subquery: _Part, alias: n.Identifier) -> n.DerivedTable:
        return n.DerivedTable(subquery.value, alias, span=_span(subquery, alias))

    def paren_join(self, lp: Token, joined: n.FromItem, rp: Token) -> n.JoinedTable:
        # The grammar lets any table primary into the parentheses (LALR needs it); the BNF
        # only parenthesises joins.
        if not isinstance(joined, n.JoinedTable):
            msg = "parentheses in FROM may only enclose a join; remove them"
            raise GrammarCheckError(msg, _span(lp, rp))
        return joined

    def correlation_specification(self, _as: Token | None, name: n.Identifier) -> n.Identifier:
        return name

    def table_name(self, *items: Any) -> n.TableName:
        parts = tuple(i for i in items if isinstance(i, n.Identifier))
        return n.TableName(parts, span=_span(*items))

    def table_subquery(self, lp: Token, query: n.Query, rp: Token) -> _Part:
        return _Part(query, _span(lp, rp))

    def where_clause(self, kw: Token, condition: n.SearchCondition) -> _Part:
        return _Part(condition, _span(kw, condition))

    having_clause = where_clause

    def group_by_clause(self, *items: Any) -> _Part:
        return _Part(_values(items), _span(*items))

    order_by_clause = group_by_clause

    def order_by_term(self, expression: n.ValueExpression, direction: Token | None) -> n.OrderItem:
        descending = direction is not None and direction.upper() == "DESC"
        return n.OrderItem(expression, descending, span=_span(expression, direction))

    def order_by_direction(self, token: Token) -> Token:
        return token

    def offset_clause(self, kw: Token, count: Token) -> _Part:
        return _Part(int(count), _span(kw, count))

    # ------------------------------------------------------------------ conditions

    def search_condition(self, *items: Any) -> n.OrCondition:
        return n.OrCondition(_values(items), span=_span(*items))

    def boolean_term(self, *items: Any) -> n.AndCondition:
        return n.AndCondition(_values(items), span=_span(*items))

    def not_condition(self, kw: Token, operand: n.SearchCondition) -> n.NotCondition:
        return n.NotCondition(operand, span=_span(kw, operand))

    def paren_condition(self, _lp: Token, condition: n.SearchCondition, _rp: Token) -> object:
        return condition

    def comparison_predicate(
        self, left: n.ValueExpression, op: Token, right: n.ValueExpression
    ) -> n.ComparisonPredicate:
        text = "<>" if op == "!=" else str(op)
        return n.ComparisonPredicate(
            cast("n.ComparisonOperator", text), left, right, span=_span(left, right)
        )

    def comp_op(self, token: Token) -> Token:
        return token

    def between_predicate(self, *items: Any) -> n.BetweenPredicate:
        operand, negated, _kw, low, _and, high = items
        return n.BetweenPredicate(
            operand,
            low,
            high,
            negated=negated is not None,
            span=_span(operand, high),
        )

    def in_predicate(
        self, operand: n.ValueExpression, negated: Token | None, _kw: Token, values: _Part
    ) -> n.InPredicate:
        return n.InPredicate(
            operand,
            values.value,
            negated=negated is not None,
            span=_span(operand, values),
        )

    def in_value_list(self, *items: Any) -> _Part:
        prebuilt = fast_lists.LISTS.get()
        if prebuilt and (values := prebuilt.pop(items[0].start_pos, None)) is not None:
            return _Part(values, _span(*items))
        return _Part(_values(items), _span(*items))

    def like_predicate(
        self,
        operand: n.ValueExpression,
        negated: Token | None,
        op: Token,
        pattern: n.ValueExpression,
    ) -> n.LikePredicate:
        for side in (operand, pattern):
            bare = (
                isinstance(side, n.UnaryExpression) and side.span.end == side.operand.span.end
            ) or (
                isinstance(side, n.BinaryExpression)
                and side.op != "||"
                and side.span.end == side.right.span.end
            )
            if bare:
                msg = (
                    f"{op.upper()} compares character values:"
                    " put parentheses around an arithmetic operand"
                )
                raise GrammarCheckError(msg, side.span)
            # A parenthesised NULL is a character primary; its span covers the parentheses.
            if isinstance(side, n.NullLiteral) and side.span.end - side.span.start == len("NULL"):
                msg = f"{op.upper()} compares character values: a bare NULL is not one"
                raise GrammarCheckError(msg, side.span)
        return n.LikePredicate(
            operand,
            pattern,
            negated=negated is not None,
            case_insensitive=op.type == "ILIKE",
            span=_span(operand, pattern),
        )

    def null_predicate(self, *items: Any) -> n.NullPredicate:
        operand, _is, negated, null = items
        if not isinstance(operand, n.ColumnReference):
            msg = "IS [NOT] NULL applies to a column reference only in ADQL 2.1"
            raise GrammarCheckError(msg, _span(operand))
        return n.NullPredicate(operand, negated=negated is not None, span=_span(operand, null))

    def exists_predicate(self, kw: Token, subquery: _Part) -> n.ExistsPredicate:
        return n.ExistsPredicate(subquery.value, span=_span(kw, subquery))
