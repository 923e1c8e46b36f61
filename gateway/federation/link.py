"""Rewriting the local query after UploadJoins: join on the hidden link column.

An UploadJoin's inner rows carry :func:`gateway.federation.upload_join.link_column` (the number of
the outer row they matched) and the outer rows get the same column (their row number). The
cross-match conjunct is kept and ANDed with ``outer.link = inner.link``, so each remote pair
appears once. ``*`` and ``t.*`` of the outermost SELECT are expanded to the catalogue columns,
so the hidden columns never reach the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gateway.federation.planner import ScanPlan
from gateway.federation.upload_join import link_column
from grammar import nodes as n
from grammar.printer_values import name_identifier
from grammar.walk import transform

__all__ = ["link_query"]


def _qualifier(scan: ScanPlan) -> n.TableName:
    node = scan.ref.node
    if node.alias is not None:
        return n.TableName((node.alias,))
    return n.TableName(tuple(n.Identifier(p) for p in scan.register_as))


def _column(name: str, qualifier: n.TableName) -> n.ColumnReference:
    return n.ColumnReference(name_identifier(name), qualifier)


def _expand(items: Sequence[n.SelectItem], scans: Sequence[ScanPlan]) -> tuple[n.SelectItem, ...]:
    out: list[n.SelectItem] = []
    for item in items:
        if not isinstance(item, n.Asterisk):
            out.append(item)
            continue
        for scan in scans:
            if item.qualifier is not None and not scan.ref.matches_qualifier(item.qualifier):
                continue
            qualifier = _qualifier(scan)
            out += [n.DerivedColumn(_column(c.name, qualifier)) for c in scan.ref.columns]
    return tuple(out)


def link_query(
    query: n.Query, scans: Mapping[int, ScanPlan], links: Sequence[tuple[int, int]]
) -> n.Query:
    """``query`` joined on the link columns of ``links`` ((outer ref, inner ref) pairs)."""
    if not links:
        return query
    extra: dict[int, list[n.SearchCondition]] = {}
    for outer, inner in links:
        edge = scans[inner].depends
        assert edge is not None
        column = link_column(inner)
        test = n.ComparisonPredicate(
            "=",
            _column(column, _qualifier(scans[outer])),
            _column(column, _qualifier(scans[inner])),
        )
        extra.setdefault(id(edge.condition), []).append(test)
    conditions = {id(scans[i].depends.condition): scans[i].depends.condition for _, i in links}  # type: ignore[union-attr]

    def fn(node: Any) -> Any:
        for key, condition in conditions.items():
            if node is condition:
                return n.AndCondition((node, *extra[key]))
        return node

    linked = transform(query, fn)
    body = linked.body
    if isinstance(body, n.SelectQuery) and any(isinstance(i, n.Asterisk) for i in body.items):
        top = [s for s in scans.values() if s.ref.top_level]
        top.sort(key=lambda s: s.ref.index)
        linked = replace(linked, body=replace(body, items=_expand(body.items, top)))
    return linked
