"""Query analysis for the federation planner: table references, their columns and conjuncts.

Pure functions over the AST. :func:`collect_refs` numbers every table reference of a query
and says where it sits (top-level FROM or nested; preserved or null-supplying side of an
outer join); :func:`owners` tells which references a column reference may belong to;
:func:`single_table_conjuncts` splits WHERE and ON conditions into the conjuncts that read one
reference only (safe to push into that reference's fetch); :func:`needed_columns` lists the
columns of a reference the query reads anywhere (over-approximated: fetching a column too
many is harmless, one too few is not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from grammar import nodes as n
from grammar.walk import conjuncts, iter_nodes, transform
from planners.predicates import find_column
from planners.sql_catalog import ColumnInfo

__all__ = [
    "Ref",
    "collect_refs",
    "needed_columns",
    "owners",
    "single_table_conjuncts",
    "strip_qualifiers",
]


@dataclass(frozen=True, slots=True)
class Ref:
    """One table reference of the query.

    ``source`` is ``remote`` (a backend table), ``engine`` (a local backend or TAP_SCHEMA) or
    ``upload`` (``TAP_UPLOAD.x``). ``top_level`` references sit in the FROM of the outermost
    SELECT; only those receive pushed conjuncts. ``preserved`` is set on the preserved side
    of an outer join (its rows survive without a match), ``nullable`` on the null-supplying
    side.
    """

    index: int
    node: n.TableReference
    source: str
    columns: tuple[ColumnInfo, ...]
    top_level: bool
    preserved: bool = False
    nullable: bool = False

    @property
    def label(self) -> str:
        """The alias, else the table name as written."""
        if self.node.alias is not None:
            return self.node.alias.name
        return ".".join(p.name for p in self.node.name.parts)

    def matches_qualifier(self, qualifier: n.TableName) -> bool:
        """Whether ``qualifier`` (of a column reference) designates this reference."""
        if self.node.alias is not None:
            return len(qualifier.parts) == 1 and qualifier.parts[0].key == self.node.alias.key
        parts = [p.key for p in self.node.name.parts]
        wanted = [p.key for p in qualifier.parts]
        return parts[-len(wanted) :] == wanted


def _from_items(
    item: n.FromItem, *, preserved: bool, nullable: bool
) -> list[tuple[n.TableReference, bool, bool]]:
    """Table references directly in a FROM item, with their outer-join flags."""
    if isinstance(item, n.TableReference):
        return [(item, preserved, nullable)]
    if isinstance(item, n.DerivedTable):
        return []
    left_pres = preserved or item.kind in {"LEFT", "FULL"}
    right_pres = preserved or item.kind in {"RIGHT", "FULL"}
    left_null = nullable or item.kind in {"RIGHT", "FULL"}
    right_null = nullable or item.kind in {"LEFT", "FULL"}
    return _from_items(item.left, preserved=left_pres, nullable=left_null) + _from_items(
        item.right, preserved=right_pres, nullable=right_null
    )


def collect_refs(
    query: n.Query, classify: Callable[[n.TableName], tuple[str, tuple[ColumnInfo, ...]] | None]
) -> list[Ref]:
    """Every table reference of ``query`` (CTE names excluded), numbered in tree order.

    ``classify`` returns ``(source, columns)`` for a table name, or None for a CTE name
    (which is not a table of any backend).
    """
    top: dict[int, tuple[bool, bool]] = {}
    if isinstance(query.body, n.SelectQuery):
        for item in query.body.from_:
            for ref, pres, null in _from_items(item, preserved=False, nullable=False):
                top[id(ref)] = (pres, null)
    ctes = {w.name.key for q in iter_nodes(query) if isinstance(q, n.Query) for w in q.with_}
    out: list[Ref] = []
    for node in iter_nodes(query):
        if not isinstance(node, n.TableReference):
            continue
        if len(node.name.parts) == 1 and node.name.parts[0].key in ctes:
            continue
        found = classify(node.name)
        if found is None:
            continue
        source, columns = found
        pres, null = top.get(id(node), (False, False))
        out.append(Ref(len(out), node, source, columns, id(node) in top, pres, null))
    return out


def owners(column: n.ColumnReference, refs: Sequence[Ref]) -> list[Ref]:
    """The references ``column`` may belong to (by qualifier, else by column name)."""
    if column.qualifier is not None:
        return [r for r in refs if r.matches_qualifier(column.qualifier)]
    return [r for r in refs if find_column(r.columns, column.name) is not None]


def _single_owner(condition: n.SearchCondition, refs: Sequence[Ref]) -> Ref | None:
    """The one top-level reference every column of ``condition`` belongs to, if any."""
    found: Ref | None = None
    for node in iter_nodes(condition):
        if isinstance(node, (n.ScalarSubquery, n.ExistsPredicate, n.Query)):
            return None
        if isinstance(node, n.SetFunction):
            return None
        if isinstance(node, n.ColumnReference):
            candidates = owners(node, refs)
            if len(candidates) != 1:
                return None
            if found is not None and candidates[0].index != found.index:
                return None
            found = candidates[0]
    return found


def _join_conditions(item: n.FromItem) -> list[tuple[n.SearchCondition, str, set[int]]]:
    """(ON condition, join kind, ids of the null-supplying side's references) per join."""
    if not isinstance(item, n.JoinedTable):
        return []
    out = _join_conditions(item.left) + _join_conditions(item.right)
    if item.condition is not None:
        side = item.right if item.kind == "LEFT" else item.left
        pushable = {id(r) for r, _, _ in _from_items(side, preserved=False, nullable=False)}
        out.append((item.condition, item.kind, pushable))
    return out


def single_table_conjuncts(
    query: n.Query, refs: Sequence[Ref]
) -> tuple[dict[int, list[n.SearchCondition]], list[n.SearchCondition]]:
    """Conjuncts each top-level reference can have pushed, and every other conjunct.

    WHERE conjuncts go to references not on a null-supplying side; ON conjuncts of inner
    joins to their single reference; ON conjuncts of LEFT (RIGHT) joins only to references on
    the right (left) side. The second value lists the multi-reference conjuncts of WHERE and
    of inner-join ON clauses (where cross-matches are looked for).
    """
    pushed: dict[int, list[n.SearchCondition]] = {}
    joint: list[n.SearchCondition] = []
    body = query.body
    if not isinstance(body, n.SelectQuery):
        return pushed, joint
    top = [r for r in refs if r.top_level]
    sources: list[tuple[n.SearchCondition, str, set[int] | None]] = [
        (c, "WHERE", None) for c in conjuncts(body.where)
    ]
    for item in body.from_:
        for condition, kind, pushable in _join_conditions(item):
            sources += [(c, kind, pushable) for c in conjuncts(condition)]
    for condition, kind, side in sources:
        owner = _single_owner(condition, top)
        if owner is None:
            if kind in {"WHERE", "INNER"}:
                joint.append(condition)
            continue
        if kind == "WHERE":
            ok = not owner.nullable
        elif kind == "INNER":
            ok = True
        else:
            ok = side is not None and id(owner.node) in side
        if ok:
            pushed.setdefault(owner.index, []).append(condition)
    return pushed, joint


def needed_columns(query: n.Query, ref: Ref, refs: Sequence[Ref]) -> tuple[str, ...] | None:
    """Catalogue names of ``ref``'s columns the query reads; None when it needs them all."""
    names: list[str] = []
    for node in iter_nodes(query):
        if isinstance(node, n.Asterisk):
            if node.qualifier is None or ref.matches_qualifier(node.qualifier):
                return None
        elif isinstance(node, n.JoinedTable) and (node.natural or node.using):
            if node.natural:
                return None
            for ident in node.using or ():
                found = find_column(ref.columns, ident)
                if found is not None:
                    names.append(found.name)
        elif isinstance(node, n.ColumnReference) and any(
            r.index == ref.index for r in owners(node, refs)
        ):
            found = find_column(ref.columns, node.name)
            if found is not None:
                names.append(found.name)
    ordered = [c.name for c in ref.columns if c.name in set(names)]
    if not ordered:
        ordered = [ref.columns[0].name] if ref.columns else []
    return tuple(ordered) if len(ordered) < len(ref.columns) else None


def _unqualify(node: Any) -> Any:
    if isinstance(node, (n.ColumnReference, n.Asterisk)) and node.qualifier is not None:
        return replace(node, qualifier=None)
    return node


def strip_qualifiers(condition: n.SearchCondition) -> n.SearchCondition:
    """The condition with every column qualifier removed (single-table conjuncts only)."""
    return transform(condition, _unqualify)


def qualify(condition: n.SearchCondition, alias: str) -> n.SearchCondition:
    """Every column reference of ``condition`` qualified by ``alias``."""

    def fn(node: Any) -> Any:
        if isinstance(node, n.ColumnReference):
            return replace(node, qualifier=n.TableName((n.Identifier(alias),)))
        return node

    return transform(condition, fn)
