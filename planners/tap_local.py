"""The gateway's share of a query sent to a TAP service: ADQL over the fetched rows.

Two splits are possible when the service lacks something:

* :func:`local_residual_query`: WHERE conjuncts the service cannot evaluate stay with the
  gateway; the service gets the rest of the WHERE clause, the columns those conjuncts read,
  and no TOP/OFFSET (a limit before the residual filter would cut rows that pass it);
* :func:`offset_query`: a service without OFFSET gets ``TOP n + offset``; the gateway skips the
  first ``offset`` rows, ordered again by the ORDER BY when its items are plain columns.

The local query reads the fetched rows as ``fragment.fetched`` with qualifiers stripped (the
fetched rows are a single table).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from grammar import nodes as n
from grammar.walk import and_of, conjuncts, iter_nodes, transform

__all__ = ["ROWS", "local_residual_query", "offset_query"]

ROWS = n.TableName((n.Identifier("fragment"), n.Identifier("fetched")))


def _strip(node: Any) -> Any:
    if isinstance(node, n.ColumnReference | n.Asterisk) and node.qualifier is not None:
        return replace(node, qualifier=None)
    return node


def _plain_order(order: tuple[n.OrderItem, ...]) -> tuple[n.OrderItem, ...]:
    """The ORDER BY items the local query can repeat (columns and positions), else ()."""
    ok = all(
        isinstance(o.expression, n.ColumnReference)
        or (isinstance(o.expression, n.NumericLiteral) and o.expression.is_integer)
        for o in order
    )
    return tuple(transform(o, _strip) for o in order) if ok else ()


def local_residual_query(
    remote: n.Query, terms: list[n.SearchCondition], original: n.Query
) -> tuple[n.Query, n.Query | None]:
    """Split ``terms`` off ``remote``'s WHERE; the second value is the local query.

    ``remote`` is returned unchanged (and no local query) when the select list is not plain
    columns or ``*``.
    """
    del original
    body = remote.body
    assert isinstance(body, n.SelectQuery)
    star = any(isinstance(i, n.Asterisk) for i in body.items)
    plain = all(
        isinstance(i, n.DerivedColumn)
        and i.alias is None
        and isinstance(i.expression, n.ColumnReference)
        for i in body.items
    )
    if not (star or plain):
        return remote, None
    keep = tuple(c for c in conjuncts(body.where) if c not in terms)
    items = body.items
    if not star:
        have = {
            i.expression.name.key
            for i in body.items
            if isinstance(i, n.DerivedColumn) and isinstance(i.expression, n.ColumnReference)
        }
        extra: list[n.SelectItem] = []
        late = [*terms, *(o.expression for o in remote.order_by)]
        for ref in (r for t in late for r in iter_nodes(t) if isinstance(r, n.ColumnReference)):
            if ref.name.key not in have:
                have.add(ref.name.key)
                extra.append(n.DerivedColumn(ref))
        items = (*items, *extra)
    sent = replace(body, items=items, where=and_of(list(keep)), top=None)
    remote_out = replace(remote, body=sent, offset=None)
    out_items = (n.Asterisk(),) if star else tuple(transform(i, _strip) for i in body.items)
    local_body = n.SelectQuery(
        out_items,
        (n.TableReference(ROWS),),
        top=body.top,
        where=transform(and_of(terms), _strip) if terms else None,
    )
    order = tuple(transform(o, _strip) for o in remote.order_by)
    return remote_out, n.Query(local_body, order_by=order, offset=remote.offset)


def offset_query(remote: n.Query, local: n.Query | None) -> tuple[n.Query, n.Query]:
    """``TOP n + offset`` for the service; the OFFSET applied by the gateway."""
    assert remote.offset is not None
    body = remote.body
    if isinstance(body, n.SelectQuery) and body.top is not None:
        body = replace(body, top=body.top + remote.offset)
    sent = replace(remote, body=body, offset=None)
    if local is not None:
        return sent, replace(local, offset=remote.offset)
    local_body = n.SelectQuery((n.Asterisk(),), (n.TableReference(ROWS),))
    return sent, n.Query(local_body, order_by=_plain_order(remote.order_by), offset=remote.offset)
