"""Negotiated pushdown of a single-table query into one backend, Trino style.

:func:`negotiate` offers the backend's :class:`~planners.base.Planner` the WHERE conjuncts,
then the columns it must return, then the ORDER BY, then the row limit, each until the
planner answers ``None`` ("nothing changed"). The result is a :class:`Fragment`: the backend
requests plus ``local_query``, the ADQL the gateway still runs over the fetched rows (named
``fragment.fetched`` by default). Invariant: running ``local_query`` over the rows the requests
return gives exactly the rows of the original query; ``local_query`` is None when the
backend's answer already is the result.

Order of the steps, and why:

1. filter first: what stays residual decides which columns and which limit are safe;
2. projection: the select list plus every column the residual, GROUP BY, HAVING and ORDER BY
   read (a ``SELECT *`` asks for nothing, the backend's default is every column);
3. ORDER BY only when it can matter, i.e. with no residual and no aggregation;
4. TOP only with no residual, no aggregation or DISTINCT, and the ORDER BY fully pushed; with
   OFFSET the backend is asked for TOP + OFFSET rows and the OFFSET stays local.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem, UnsupportedError
from grammar.fold import fold_conditions
from grammar.printer import to_adql
from grammar.suggestions import suggestion
from grammar.walk import and_of, conjuncts, iter_nodes, transform
from planners.base import BackendRequest, Planner
from planners.predicates import find_column, normalise_contains

H = TypeVar("H")

ROWS_TABLE = ("fragment", "fetched")
"""Default name of the table holding a fragment's fetched rows in ``local_query``."""

_MAX_ROUNDS = 8
"""Filter rounds before giving up on a fixpoint (a well-behaved planner needs two)."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """What one backend must be asked, and what the gateway still does with the answer.

    ``columns`` are the columns of the fetched rows (catalogue spelling, in order) and
    ``rows_table`` the name ``local_query`` reads them under. ``filtered`` says the backend
    took some filter, exact (listed in ``pushed``) or a superset of a conjunct that stays in
    ``residual`` (a cone around a BOX): without it and without a limit, the whole table comes.
    """

    backend: str
    kind: str
    requests: tuple[BackendRequest, ...]
    residual: n.SearchCondition | None
    pushed: tuple[str, ...]
    local_query: n.Query | None
    columns: tuple[str, ...]
    rows_table: tuple[str, ...] = ROWS_TABLE
    filtered: bool = False

    def to_json(self) -> dict[str, object]:
        """The fragment as in DESIGN.md's ``translate`` output."""
        return {
            "backend": self.backend,
            "kind": self.kind,
            "requests": [r.to_json() for r in self.requests],
            "residual": None if self.residual is None else to_adql(self.residual),
        }


def _single_select(query: n.Query, backend: str) -> tuple[n.SelectQuery, n.TableReference]:
    body = query.body
    if query.with_ or not isinstance(body, n.SelectQuery):
        raise UnsupportedError("WITH, set operations or nested queries", backend, query.span)
    if len(body.from_) != 1 or not isinstance(body.from_[0], n.TableReference):
        raise UnsupportedError("a join or a subquery in FROM", backend, body.span)
    for node in iter_nodes(body):
        if isinstance(node, (n.ScalarSubquery, n.ExistsPredicate)) or (
            isinstance(node, n.InPredicate) and isinstance(node.values, n.Query)
        ):
            raise UnsupportedError("a subquery", backend, node.span)
    return body, body.from_[0]


def _strip(node: Any) -> Any:
    """Drop column and asterisk qualifiers: the rows table is the only table left."""
    if isinstance(node, n.ColumnReference) and node.qualifier is not None:
        return replace(node, qualifier=None)
    if isinstance(node, n.Asterisk) and node.qualifier is not None:
        return replace(node, qualifier=None)
    return node


def _references(nodes: Iterable[n.Node | None]) -> list[n.ColumnReference]:
    return [
        ref
        for node in nodes
        if node is not None
        for ref in iter_nodes(node)
        if isinstance(ref, n.ColumnReference)
    ]


def _aliases(select: n.SelectQuery) -> set[str]:
    return {
        item.alias.key for item in select.items if isinstance(item, n.DerivedColumn) and item.alias
    }


def _needed_columns(
    query: n.Query,
    select: n.SelectQuery,
    residual: tuple[n.SearchCondition, ...],
    catalogue: tuple[str, ...],
    resolve: Any,
) -> tuple[str, ...]:
    """Catalogue names the local query reads, select-list columns first."""
    if any(isinstance(item, n.Asterisk) for item in select.items):
        return catalogue
    aliases = _aliases(select)
    names: list[str] = []
    late = [*residual, *select.group_by, select.having, *(o.expression for o in query.order_by)]
    for ref in _references([*select.items, *late]):
        column = resolve(ref)
        if column is not None:
            names.append(column)
        elif ref.name.key not in aliases:
            msg = f"column {ref.name.name} was not resolved"  # _check_columns ran first
            raise AssertionError(msg)
    return tuple(dict.fromkeys(names))


def _check_columns(
    query: n.Query, select: n.SelectQuery, table: str, names: tuple[str, ...], resolve: Any
) -> None:
    """Every column reference resolves, or is an alias used in GROUP BY/HAVING/ORDER BY."""
    aliases = _aliases(select)
    outer = [*select.group_by, select.having, *(o.expression for o in query.order_by)]
    outer_refs = {id(r) for r in _references(outer)}
    problems = []
    for ref in _references([*select.items, select.where, *outer]):
        if resolve(ref) is None and not (id(ref) in outer_refs and ref.name.key in aliases):
            hint = suggestion(ref.name.name, names)
            message = f"Unknown column '{ref.name.name}' in table {table}{hint}"
            problems.append(SemanticProblem(message, ref.span))
    if problems:
        raise AdqlSemanticError(problems)


def _is_final(
    query: n.Query,
    select: n.SelectQuery,
    projected: tuple[str, ...],
    catalogue: tuple[str, ...],
    resolve: Any,
) -> bool:
    """Whether the backend rows, as fetched, are the result (no local pass needed)."""
    if select.quantifier == "DISTINCT" or select.group_by or select.having is not None:
        return False
    if query.offset is not None:
        return False
    if len(select.items) == 1 and isinstance(select.items[0], n.Asterisk):
        return projected == catalogue
    plain = []
    for item in select.items:
        if not isinstance(item, n.DerivedColumn) or item.alias is not None:
            return False
        if not isinstance(item.expression, n.ColumnReference):
            return False
        plain.append(resolve(item.expression))
    return tuple(plain) == projected


def negotiate(planner: Planner[H], query: n.Query) -> Fragment:
    """Push as much of a single-table ``query`` as ``planner`` takes.

    Raises
    ------
    AdqlSemanticError
        Unknown table (from ``planner.scan``) or unknown columns, with close matches.
    UnsupportedError
        Joins, subqueries, set operations and WITH: those are the federation planner's work.
    """
    # A radius or bound written as ``1.0/3600`` must be pushed like the literal it is.
    query = fold_conditions(query)
    select, ref = _single_select(query, planner.backend)
    handle = planner.scan(ref.name)
    columns = planner.columns(handle)
    names = tuple(c.name for c in columns)

    def resolve(col: n.ColumnReference) -> str | None:
        found = find_column(columns, col.name)
        return None if found is None else found.name

    written = ".".join(p.name for p in ref.name.parts)
    _check_columns(query, select, written, names, resolve)
    original = tuple(normalise_contains(c) for c in conjuncts(select.where))
    residual = original
    filtered, scanned = False, handle
    for _ in range(_MAX_ROUNDS):
        applied = planner.apply_filter(handle, residual) if residual else None
        if applied is None:
            break
        handle, residual, filtered = applied.handle, applied.residual, True
    pushed = [f"filter: {to_adql(c)}" for c in original if c not in residual]
    # A residual conjunct the backend still takes alone was sent as a superset (a cone around
    # a BOX, the closed cone of DISTANCE < r): say so, the exact test runs here.
    pushed += [
        f"filter (superset, the exact test stays local): {to_adql(c)}"
        for c in residual
        if filtered and planner.apply_filter(scanned, (c,)) is not None
    ]
    aggregate = (
        bool(select.group_by)
        or select.having is not None
        or any(
            isinstance(node, n.SetFunction) for item in select.items for node in iter_nodes(item)
        )
    )

    needed = _needed_columns(query, select, residual, names, resolve)
    if needed != names:
        applied_p = planner.apply_projection(handle, needed)
        if applied_p is not None:
            handle = applied_p.handle
            pushed.append(f"projection: {', '.join(needed)}")

    order_pushed = not query.order_by
    aliases = _aliases(select)
    if query.order_by and not residual and not aggregate:
        shadowed = any(
            isinstance(o.expression, n.ColumnReference) and o.expression.name.key in aliases
            for o in query.order_by
        )
        applied_o = None if shadowed else planner.apply_order(handle, query.order_by)
        if applied_o is not None and applied_o.guaranteed:
            handle, order_pushed = applied_o.handle, True
            pushed.append("order: " + ", ".join(to_adql(o) for o in query.order_by))

    limit_pushed = select.top is None
    simple = not residual and not aggregate and select.quantifier != "DISTINCT"
    if select.top is not None and simple and order_pushed:
        wanted = select.top + (query.offset or 0)
        applied_l = planner.apply_limit(handle, wanted)
        if applied_l is not None:
            handle, limit_pushed = applied_l.handle, applied_l.guaranteed
            pushed.append(f"limit: {wanted}")

    fetched = tuple(c.name for c in planner.columns(handle))
    final = (
        not residual
        and order_pushed
        and limit_pushed
        and _is_final(query, select, fetched, names, resolve)
    )
    residual_condition = and_of(list(residual))
    local = None
    if not final:
        stripped = transform(query, _strip)
        body = stripped.body
        assert isinstance(body, n.SelectQuery)  # checked by _single_select
        rows = n.TableReference(n.TableName(tuple(n.Identifier(p) for p in ROWS_TABLE)))
        where = None if residual_condition is None else transform(residual_condition, _strip)
        local = replace(stripped, body=replace(body, from_=(rows,), where=where))
    return Fragment(
        backend=planner.backend,
        kind=planner.kind,
        requests=planner.render(handle),
        residual=None if residual_condition is None else transform(residual_condition, _strip),
        pushed=tuple(pushed),
        local_query=local,
        columns=fetched,
        filtered=filtered,
    )
