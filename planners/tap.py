"""The TAP planner: ADQL for a remote TAP service, as much of the query as it can take.

Two ways in:

* the :class:`~planners.base.Planner` protocol for one table (filters, projection, order,
  limit, semijoins through ``TAP_UPLOAD``), used by :func:`planners.negotiate.negotiate`;
* :meth:`TapPlanner.push_query` for a whole (sub)query whose tables all live on this service:
  joins, aggregates, subqueries, ORDER BY and TOP go over as they are.
  :func:`largest_subtrees` finds such subqueries in a federated query.

Federated names go back to the service's own (a configured schema prefix is removed). The
declared :class:`~planners.tap_features.TapCapabilities` decide what may be sent: a construct
the service lacks is rewritten (``ILIKE`` as ``LOWER(a) LIKE LOWER(b)`` when the service has
LOWER; OFFSET as ``TOP n + offset`` with the OFFSET applied locally), left to the gateway as
residual (a WHERE conjunct the local engine can evaluate), or refused with an
:class:`~grammar.errors.UnsupportedError` naming the backend, the construct and its span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from grammar import nodes as n
from grammar.errors import AdqlSemanticError, SemanticProblem, UnsupportedError
from grammar.printer import to_adql
from grammar.walk import and_of, conjuncts, iter_nodes, transform
from planners.base import Applied, BackendRequest, Capability
from planners.output_names import name_outputs
from planners.sql_catalog import ColumnInfo
from planners.tap_features import Need, TapCapabilities, needs, portable_adql, to_adql20
from planners.tap_local import local_residual_query, offset_query

__all__ = ["TapCapabilities", "TapHandle", "TapPlanner", "TapPushdown", "largest_subtrees"]


@dataclass(frozen=True, slots=True)
class TapHandle:
    """The remote query, in the service's own names.

    Table mode (``table`` set) assembles ``SELECT [TOP] columns FROM table WHERE ... ORDER BY``
    from the pushed pieces; whole-query mode (``query`` set) sends ``query`` as it is.
    """

    table: n.TableName | None = None
    where: tuple[n.SearchCondition, ...] = ()
    columns: tuple[str, ...] | None = None
    order: tuple[n.OrderItem, ...] = ()
    top: int | None = None
    uploads: tuple[str, ...] = ()
    query: n.Query | None = None

    def remote_query(self) -> n.Query:
        """The ADQL query the service runs."""
        if self.query is not None:
            return self.query
        assert self.table is not None
        items: tuple[n.SelectItem, ...] = (n.Asterisk(),)
        if self.columns is not None:
            items = tuple(n.DerivedColumn(_column(c)) for c in self.columns)
        body = n.SelectQuery(
            items, (n.TableReference(self.table),), top=self.top, where=and_of(self.where)
        )
        return n.Query(body, order_by=self.order)


@dataclass(frozen=True, slots=True)
class TapPushdown:
    """A whole query sent to one service, plus what the gateway does with the answer.

    ``local_query`` reads the fetched rows as ``rows_table`` (None: the answer is the result).
    """

    handle: TapHandle
    local_query: n.Query | None
    rows_table: tuple[str, ...] = ("fragment", "fetched")


def _column(name: str) -> n.ColumnReference:
    regular = name.isidentifier() and name.isascii()
    return n.ColumnReference(n.Identifier(name, delimited=not regular))


def _key(parts: Sequence[n.Identifier]) -> tuple[str, ...]:
    return tuple(p.key for p in parts)


@dataclass(frozen=True, slots=True)
class TapPlanner:
    """Planner for the tables of one remote TAP service.

    Parameters
    ----------
    backend
        The configured backend name.
    url
        The TAP base URL (``.../tap``); requests go to ``{url}/sync``.
    tables
        Remote ``schema.table`` names (the service's spelling) and their columns.
    schema_prefix
        Prefix added to remote schema names in the federation (``rsp_`` makes ``dp1.Object``
        appear as ``rsp_dp1.Object``).
    features
        What the service's ADQL understands.
    response_format
        The RESPONSEFORMAT to send (``votable``, ``csv``, a MIME type); None: the one the
        service's capabilities negotiated (``features.response_format``), else ``votable``.
    runid
        Sent as RUNID when set.
    """

    backend: str
    url: str
    tables: Mapping[str, tuple[ColumnInfo, ...]]
    schema_prefix: str = ""
    features: TapCapabilities = field(default_factory=TapCapabilities)
    response_format: str | None = None
    runid: str | None = None
    kind: str = field(default="tap", init=False)

    @property
    def capabilities(self) -> Capability:
        """Everything ADQL can say; uploads when the service takes them."""
        caps = Capability.PROJECTION | Capability.FILTER | Capability.CONE | Capability.LIMIT
        caps |= Capability.ORDER | Capability.AGGREGATE | Capability.JOIN
        return caps | Capability.UPLOAD_SEMIJOIN if self.features.upload else caps

    # ------------------------------------------------------------------ names

    def _federated(self) -> dict[tuple[str, ...], n.TableName]:
        out: dict[tuple[str, ...], n.TableName] = {}
        for remote in self.tables:
            parts = remote.split(".")
            fed = [self.schema_prefix + parts[0], *parts[1:]] if len(parts) > 1 else parts
            key = tuple(p.lower() for p in fed)
            out[key] = n.TableName(
                tuple(n.Identifier(p, delimited=not p.isidentifier()) for p in parts)
            )
        return out

    def remote_name(self, name: n.TableName) -> n.TableName | None:
        """The service's name of a federated table, or None if it is not on this service."""
        return self._federated().get(_key(name.parts))

    def _map_names(self, node: Any) -> Any:
        mapping = self._federated()

        def rename(x: Any) -> Any:
            if isinstance(x, n.TableName) and _key(x.parts) in mapping:
                return replace(mapping[_key(x.parts)], span=x.span)
            return x

        return transform(node, rename)

    def owns(self, node: n.Node) -> bool:
        """True if every table ``node`` reads is on this service (or an upload or a CTE)."""
        ctes = {w.name.key for q in iter_nodes(node) if isinstance(q, n.Query) for w in q.with_}
        for ref in iter_nodes(node):
            if not isinstance(ref, n.TableReference):
                continue
            parts = ref.name.parts
            if len(parts) == 1 and parts[0].key in ctes:
                continue
            if parts[0].key == "tap_upload" and len(parts) == 2:
                continue
            if self.remote_name(ref.name) is None:
                return False
        return True

    # ------------------------------------------------------------------ capability checks

    def _prepare(self, node: Any) -> Any:
        """Federated names mapped back; ILIKE rewritten when only LOWER is available.

        Unnamed expressions get the gateway's own names, so the service does not invent
        them (DaCHS makes up a new random name per query).
        """
        if isinstance(node, n.Query):
            node = name_outputs(node)
        node = self._map_names(node)
        if not self.features.allows(Need("string", "ILIKE", None)) and self.features.allows(
            Need("string", "LOWER", None)
        ):
            node = transform(node, _ilike_as_lower)
        return node

    def _missing(self, node: n.Node) -> list[Need]:
        return [need for need in needs(node) if not self.features.allows(need)]

    def _refuse(self, need: Need) -> UnsupportedError:
        return UnsupportedError(f"{need.form} ({need.group})", self.backend, need.span)

    # ------------------------------------------------------------------ protocol

    def scan(self, table: n.TableName) -> TapHandle:
        """A handle on one of the service's tables."""
        remote = self.remote_name(table)
        if remote is None:
            written = ".".join(p.name for p in table.parts)
            problem = SemanticProblem(
                f"Unknown table '{written}' on backend '{self.backend}'", table.span
            )
            raise AdqlSemanticError([problem])
        return TapHandle(table=remote)

    def columns(self, h: TapHandle) -> tuple[ColumnInfo, ...]:
        """The table's columns, or the projected ones in that order."""
        assert h.table is not None
        remote = ".".join(p.name for p in h.table.parts)
        columns = next(cols for name, cols in self.tables.items() if name == remote)
        if h.columns is None:
            return columns
        by_name = {c.name: c for c in columns}
        return tuple(by_name[c] for c in h.columns if c in by_name)

    def apply_filter(
        self, h: TapHandle, conjuncts_: Sequence[n.SearchCondition]
    ) -> Applied[TapHandle] | None:
        """Push every conjunct the service can evaluate; the rest is residual."""
        pushed: list[n.SearchCondition] = []
        residual: list[n.SearchCondition] = []
        for c in conjuncts_:
            remote = self._prepare(c)
            missing = self._missing(remote)
            if not missing:
                pushed.append(remote)
                continue
            fatal = next((m for m in missing if not m.local), None)
            if fatal is not None:
                raise self._refuse(fatal)
            residual.append(c)
        if not pushed or h.query is not None:
            return None
        return Applied(replace(h, where=h.where + tuple(pushed)), tuple(residual), not residual)

    def apply_projection(self, h: TapHandle, columns: Sequence[str]) -> Applied[TapHandle] | None:
        """SELECT only ``columns``."""
        if h.query is not None or h.columns == tuple(columns):
            return None
        return Applied(replace(h, columns=tuple(columns)))

    def apply_order(self, h: TapHandle, items: Sequence[n.OrderItem]) -> Applied[TapHandle] | None:
        """ORDER BY, when the service can evaluate every item."""
        remote = tuple(self._prepare(o) for o in items)
        if h.query is not None or h.order == remote or any(self._missing(o) for o in remote):
            return None
        return Applied(replace(h, order=remote))

    def apply_limit(self, h: TapHandle, n_rows: int) -> Applied[TapHandle] | None:
        """TOP n (and MAXREC n)."""
        if h.query is not None or (h.top is not None and h.top <= n_rows):
            return None
        return Applied(replace(h, top=n_rows))

    def apply_semijoin(self, h: TapHandle, upload: str, key: str) -> Applied[TapHandle] | None:
        """``key IN (SELECT key FROM TAP_UPLOAD.upload)``, when the service takes uploads."""
        if not self.features.upload or h.query is not None or upload in h.uploads:
            return None
        table = n.TableName((n.Identifier("TAP_UPLOAD"), n.Identifier(upload)))
        sub = n.Query(n.SelectQuery((n.DerivedColumn(_column(key)),), (n.TableReference(table),)))
        test = n.InPredicate(_column(key), sub)
        return Applied(replace(h, where=(*h.where, test), uploads=(*h.uploads, upload)))

    def render(self, h: TapHandle) -> tuple[BackendRequest, ...]:
        """One POST to ``{url}/sync``."""
        query = portable_adql(h.remote_query())
        if not self.features.adql21:
            query = to_adql20(query)
        top = query.body.top if isinstance(query.body, n.SelectQuery) else None
        maxrec = self.features.maxrec_hard or self.features.maxrec_default
        if top is not None:
            maxrec = min(top, maxrec) if maxrec is not None else top
        params = [("REQUEST", "doQuery"), ("LANG", "ADQL"), ("QUERY", to_adql(query))]
        if maxrec is not None:
            params.append(("MAXREC", str(maxrec)))
        fmt = self._format(h)
        params.append(("RESPONSEFORMAT", fmt))
        if self.runid:
            params.append(("RUNID", self.runid))
        uploads = tuple(dict.fromkeys(h.uploads + _uploads(query)))
        if uploads:
            params.append(("UPLOAD", ";".join(f"{u},param:{u}" for u in uploads)))
        url = self.url.rstrip("/") + "/sync"
        request = BackendRequest("POST", url, tuple(params), response_format=fmt, uploads=uploads)
        return (request,)

    def _format(self, h: TapHandle) -> str:
        """The RESPONSEFORMAT of one request: the configured or negotiated one, else votable.

        A whole query's output columns (expressions, joins) are not in the catalogue, so a CSV
        answer would leave their types to guessing ("007" read as 7): those go as VOTable.
        """
        if self.response_format:
            return self.response_format
        negotiated = self.features.response_format
        if negotiated is None:
            return "votable"
        if h.query is not None and negotiated.split(";", 1)[0].strip().lower() == "text/csv":
            return "votable"
        return negotiated

    # ------------------------------------------------------------------ whole queries

    def push_query(self, query: n.Query) -> TapPushdown:
        """Send ``query`` (all of whose tables are on this service) as one ADQL query.

        Raises
        ------
        grammar.errors.UnsupportedError
            A construct the service lacks that cannot be split off (named with its span).
        """
        if not self.owns(query):
            raise UnsupportedError("a table of another backend", self.backend, query.span)
        remote = self._prepare(query)
        local: n.Query | None = None
        missing = self._missing(remote)
        where_missing = _where_only(remote, missing)
        if where_missing:
            remote, local = local_residual_query(remote, where_missing, query)
            missing = self._missing(remote)
        if any(m.form == "OFFSET" and m.node is remote for m in missing):
            remote, local = offset_query(remote, local)
            missing = self._missing(remote)
        if missing:
            fatal = next((m for m in missing if not m.local), missing[0])
            raise self._refuse(fatal)
        return TapPushdown(TapHandle(query=remote, uploads=_uploads(remote)), local)

    def request_for(self, query: n.Query) -> tuple[TapPushdown, tuple[BackendRequest, ...]]:
        """:meth:`push_query` and the rendered request together."""
        pushed = self.push_query(query)
        return pushed, self.render(pushed.handle)


def _uploads(query: n.Query) -> tuple[str, ...]:
    names = [
        ref.name.parts[1].name
        for ref in iter_nodes(query)
        if isinstance(ref, n.TableReference)
        and len(ref.name.parts) == 2
        and ref.name.parts[0].key == "tap_upload"
    ]
    return tuple(dict.fromkeys(names))


def _ilike_as_lower(node: Any) -> Any:
    if isinstance(node, n.LikePredicate) and node.case_insensitive:
        lower = (n.FunctionCall("LOWER", (node.operand,)), n.FunctionCall("LOWER", (node.pattern,)))
        return replace(node, operand=lower[0], pattern=lower[1], case_insensitive=False)
    return node


def _where_only(query: n.Query, missing: list[Need]) -> list[n.SearchCondition]:
    """Top-level WHERE conjuncts holding every locally evaluable missing construct, if any.

    Only a plain single-table SELECT (no aggregate, DISTINCT, GROUP BY) can leave conjuncts to
    the gateway; otherwise the list is empty.
    """
    body = query.body
    if not missing or not isinstance(body, n.SelectQuery) or query.with_:
        return []
    if len(body.from_) != 1 or not isinstance(body.from_[0], n.TableReference):
        return []
    if body.group_by or body.having is not None or body.quantifier == "DISTINCT":
        return []
    if any(isinstance(x, n.SetFunction) for item in body.items for x in iter_nodes(item)):
        return []
    terms = conjuncts(body.where)
    inside = {id(x): t for t in terms for x in iter_nodes(t)}
    held = [inside.get(id(m.node)) for m in missing if m.form != "OFFSET"]
    if not held or any(t is None for t in held) or not all(m.local for m in missing):
        return []
    return list(dict.fromkeys(t for t in held if t is not None))


def _direct_queries(node: object) -> list[n.Query]:
    """The queries nested in ``node`` that are not nested in another nested query."""
    out: list[n.Query] = []
    stack = list(_children(node))
    while stack:
        child = stack.pop()
        if isinstance(child, n.Query):
            out.append(child)
        else:
            stack.extend(_children(child))
    return out


def _children(node: object) -> list[object]:
    values = [getattr(node, f) for f in getattr(node, "__dataclass_fields__", {}) if f != "span"]
    flat = [v for value in values for v in (value if isinstance(value, tuple) else (value,))]
    return [v for v in flat if hasattr(v, "__dataclass_fields__") and not isinstance(v, n.Span)]


def largest_subtrees(query: n.Query, planner: TapPlanner) -> list[n.Query]:
    """The maximal subqueries of ``query`` that ``planner``'s service can run on its own."""
    if planner.owns(query):
        return [query]
    out: list[n.Query] = []
    for child in _direct_queries(query):
        out += largest_subtrees(child, planner)
    return out
