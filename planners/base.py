"""The planner contract: Trino-style negotiated pushdown, shared by every backend kind.

The federation planner hands each backend a *handle* for one scanned table and then offers it,
in turn, the WHERE conjuncts, the needed columns, the ORDER BY and the row limit. Each
``apply_*`` either returns :class:`Applied` (a new handle, plus what the gateway must still
evaluate itself) or ``None`` for "nothing changed", which is what makes the negotiation reach
a fixpoint instead of looping (Trino's ``applyFilter`` returns ``Optional.empty()`` likewise).
:meth:`Planner.render` turns the final handle into plain request values; no planner does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from grammar.nodes import OrderItem, Query, SearchCondition, TableName
from planners.sql_catalog import ColumnInfo

__all__ = [
    "Applied",
    "BackendRequest",
    "Capability",
    "Paging",
    "Planner",
    "QueryPlanner",
    "QueryPushdown",
]


class Capability(enum.Flag):
    """What a backend can evaluate itself."""

    NONE = 0
    PROJECTION = enum.auto()
    FILTER = enum.auto()
    CONE = enum.auto()
    LIMIT = enum.auto()
    ORDER = enum.auto()
    AGGREGATE = enum.auto()
    JOIN = enum.auto()
    UPLOAD_SEMIJOIN = enum.auto()
    ID_LOOKUP = enum.auto()


@dataclass(frozen=True, slots=True)
class Paging:
    """How a request pages through a result.

    ``may_overflow`` is True when the answer may be longer than ``pagesize``: the executor must
    then fetch ``page + 1``, ``page + 2``... until a short page arrives, so that nothing is cut
    silently. It is False when a pushed TOP fits in one page.
    """

    page: int
    pagesize: int
    may_overflow: bool


@dataclass(frozen=True, slots=True)
class BackendRequest:
    """One HTTP request a backend must answer, as plain values.

    ``params`` keeps order and repeated keys (HSC ``col=a&col=b`` means OR). ``uploads`` names
    the ``TAP_UPLOAD`` tables the executor must attach (TAP backends only). ``paging`` is set
    when the backend pages and the request names its page in ``params``.
    """

    method: Literal["GET", "POST"]
    url: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    response_format: str = "csv"
    uploads: tuple[str, ...] = ()
    paging: Paging | None = None

    def to_json(self) -> dict[str, object]:
        """The public JSON shape of a request (DESIGN.md ``translate``)."""
        return {
            "method": self.method,
            "url": self.url,
            "params": [[key, value] for key, value in self.params],
        }


H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Applied(Generic[H]):
    """The result of one accepted ``apply_*`` call.

    ``residual`` are the conditions the gateway must still evaluate over the rows the new
    handle returns; ``guaranteed`` says the backend enforces the pushed operation exactly
    (a limit is guaranteed when the backend returns at most ``n`` rows, so no local TOP is
    needed).
    """

    handle: H
    residual: tuple[SearchCondition, ...] = ()
    guaranteed: bool = True


class Planner(Protocol[H]):
    """One backend's rewriting rules; ``H`` is its frozen handle type."""

    @property
    def backend(self) -> str:
        """The configured backend name (``hsc``, ``spec``...)."""
        ...

    @property
    def kind(self) -> str:
        """The backend kind (``hsc``, ``tap``, ``sia``, ``spectral``, ``local``)."""
        ...

    @property
    def capabilities(self) -> Capability:
        """What this backend can take."""
        ...

    def scan(self, table: TableName) -> H:
        """A handle reading the whole of ``table``.

        Raises
        ------
        grammar.errors.AdqlSemanticError
            For a table this backend does not have, naming the closest known tables.
        """
        ...

    def columns(self, h: H) -> tuple[ColumnInfo, ...]:
        """The columns of the rows ``h`` returns, in order (every column for a fresh scan).

        A backend may return more than was asked for (the spectral service always adds its
        id column); negotiation reads the truth from here after projection.
        """
        ...

    def apply_filter(self, h: H, conjuncts: Sequence[SearchCondition]) -> Applied[H] | None:
        """Push what the backend can of a conjunction; the rest comes back as ``residual``."""
        ...

    def apply_projection(self, h: H, columns: Sequence[str]) -> Applied[H] | None:
        """Ask for only ``columns`` (catalogue names); None when already projected so."""
        ...

    def apply_order(self, h: H, items: Sequence[OrderItem]) -> Applied[H] | None:
        """Push an ORDER BY over plain columns; None when it cannot be pushed entirely."""
        ...

    def apply_limit(self, h: H, n: int) -> Applied[H] | None:
        """Push a row limit; only valid after every filter conjunct was pushed."""
        ...

    def apply_semijoin(self, h: H, upload: str, key: str) -> Applied[H] | None:
        """Restrict to rows whose ``key`` column matches the uploaded table ``upload``."""
        ...

    def render(self, h: H) -> tuple[BackendRequest, ...]:
        """The requests whose answers, concatenated, are the handle's rows. Pure."""
        ...


class QueryPushdown(Protocol):
    """A whole query sent to one service; ``local_query`` reads its answer (None: as is)."""

    @property
    def local_query(self) -> Query | None:
        """The query the gateway runs over the fetched rows, if any."""
        ...


@runtime_checkable
class QueryPlanner(Planner[Any], Protocol):
    """A planner that takes whole queries (declares :attr:`Capability.JOIN`): a TAP service.

    The federation sends a single-backend query there whole, and COUNT probes for join
    strategy choices.
    """

    def request_for(self, query: Query) -> tuple[QueryPushdown, tuple[BackendRequest, ...]]:
        """The pushed query and its requests.

        Raises
        ------
        grammar.errors.UnsupportedError
            When the service cannot take ``query``.
        """
        ...
