"""Whole-table fetches: saying when and why a remote table is fetched whole, and refusing big ones.

A fragment whose backend took no filter and no row limit asks for every row of the table: the
query put no condition on it, or only conditions the backend cannot evaluate (the gateway
then filters the fetched rows). Against a real archive that is a catalogue download, so the
federation planner names every such fetch in words (EXPLAIN) and refuses one whose row
estimate is above ``whole_max_rows`` unless the client opts in with ``FETCH_WHOLE=true``.

Row estimates come from the configuration (``table_rows`` of a backend: a row count per
federated table name, ``"*"`` for the others); a table without an estimate is fetched (there is
nothing to compare) and EXPLAIN says its size is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.federation.catalog import CatalogTable
from gateway.federation.xmatch import FederationOptions
from grammar import nodes as n
from grammar.errors import AdqlError
from grammar.printer import to_adql
from planners.negotiate import Fragment

__all__ = [
    "WholeFetch",
    "WholeFetchRefused",
    "check_whole_fetches",
    "fetch_nothing",
    "row_estimate",
    "wants_no_rows",
    "whole_fetch",
]

OPT_IN = "FETCH_WHOLE=true"
"""The TAP request parameter (gateway extension) that allows a refused whole fetch."""

NOTHING_FETCHED = "limit: 0 (TOP 0: nothing is fetched, the columns come from the catalogue)"
"""What a fragment of a ``TOP 0`` query says it pushed (EXPLAIN shows it)."""


class WholeFetchRefused(AdqlError):
    """A remote table would be fetched whole and is estimated above the configured limit."""

    def __init__(self, fetch: WholeFetch, max_rows: int) -> None:
        span = fetch.span
        where = f" at line {span.line}, column {span.column}" if span.line else ""
        message = (
            f"{fetch.table}{where} would be fetched whole from backend '{fetch.backend}' "
            f"(about {fetch.estimate or 0:,} rows, above the limit of {max_rows:,}): "
            f"{fetch.reason}. Add a condition the backend can evaluate (a cone such as "
            "CONTAINS(POINT(ra, dec), CIRCLE(ra0, dec0, r)) = 1, a range, TOP n), "
            f"or opt in with {OPT_IN}"
        )
        super().__init__(message, span)
        self.backend = fetch.backend


@dataclass(frozen=True, slots=True)
class WholeFetch:
    """One remote table fetched whole: who, why, and how many rows that is thought to be."""

    label: str
    table: str
    backend: str
    kind: str
    reason: str
    estimate: int | None
    span: n.Span

    def describe(self, options: FederationOptions | None = None) -> str:
        """The fetch in words, for EXPLAIN (with ``options``: whether running it is refused)."""
        size = (
            "row estimate unknown (set table_rows of the backend to have it checked)"
            if self.estimate is None
            else f"about {self.estimate:,} rows"
        )
        text = (
            f"{self.label}: {self.table} is fetched whole from {self.backend} ({self.kind}), "
            f"{size}: {self.reason}"
        )
        if options is not None and self.refused(options.whole_max_rows) and not options.allow_whole:
            text += (
                f"; above the limit of {options.whole_max_rows:,} rows, so running the query "
                f"is refused unless it comes with {OPT_IN}"
            )
        return text

    def refused(self, max_rows: int) -> bool:
        """Whether the estimate is above ``max_rows`` (an unknown size is not refused)."""
        return self.estimate is not None and self.estimate > max_rows


def row_estimate(table: CatalogTable) -> int | None:
    """The configured row count of ``table`` (its own entry, else the backend's ``"*"``)."""
    rows = {k.lower(): v for k, v in table.backend.table_rows.items()}
    return rows.get(table.meta.table_name.lower(), rows.get("*"))


def _is_whole(fragment: Fragment) -> bool:
    limited = any(p.startswith(("limit:", "query:")) for p in fragment.pushed)
    return not fragment.filtered and not limited


def whole_fetch(
    label: str,
    table: CatalogTable,
    fragment: Fragment,
    offered: Sequence[n.SearchCondition],
    span: n.Span,
) -> WholeFetch | None:
    """The whole fetch ``fragment`` makes, or None when the backend restricts it.

    ``offered`` are the conjuncts the planner offered the backend (all stayed residual when
    the fetch is whole): they say why.
    """
    if not _is_whole(fragment):
        return None
    if offered:
        written = "; ".join(to_adql(c) for c in offered)
        reason = (
            f"the {fragment.kind} backend cannot evaluate its conditions ({written}), "
            "so the gateway filters every row"
        )
    else:
        reason = "no condition of the query restricts this table"
    return WholeFetch(
        label,
        table.meta.table_name,
        fragment.backend,
        fragment.kind,
        reason,
        row_estimate(table),
        span,
    )


def check_whole_fetches(fetches: Sequence[WholeFetch], max_rows: int, *, allowed: bool) -> None:
    """Refuse the first fetch estimated above ``max_rows`` rows, unless ``allowed``.

    Raises
    ------
    WholeFetchRefused
        Naming the table, its estimate, the limit and the opt-in.
    """
    if allowed:
        return
    for fetch in fetches:
        if fetch.refused(max_rows):
            raise WholeFetchRefused(fetch, max_rows)


def wants_no_rows(query: n.Query) -> bool:
    """Whether the answer of ``query`` has no rows whatever the data (an outermost ``TOP 0``).

    ``SELECT TOP 0 ...`` is how clients ask for a result's columns without its rows.
    """
    return isinstance(query.body, n.SelectQuery) and query.body.top == 0


def fetch_nothing(fragment: Fragment) -> Fragment:
    """``fragment`` sending no request: its rows are an empty table of the expected columns.

    Backends such as HSC REST take no zero-row limit, so a ``TOP 0`` left to them would
    download the whole table for the engine to discard every row.
    """
    return replace(fragment, requests=(), pushed=(*fragment.pushed, NOTHING_FETCHED))
