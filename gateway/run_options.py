"""Per-query options beyond the QueryService protocol: gateway extension parameters.

``PARTIAL=true`` (return the healthy part of a federated query, one INFO per failed backend),
``XMATCH_ALLSKY=true`` (allow a federated positional cross-match with no spatial restriction),
``FETCH_WHOLE=true`` (allow fetching a remote table whole above the configured row estimate)
and the job's RUNID reach services that understand them through :func:`run_query`; other
services (the local one) run the query as the protocol says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from gateway.cancellation import Cancellation
from gateway.query_service import QueryResult, QueryService
from gateway.typecheck import catalogue_tables, check_types
from gateway.uploads import UploadedTable
from grammar.nodes import Query

__all__ = ["OptionAwareService", "ProgressReport", "RunOptions", "run_query"]

#: ``(backend name, rows just fetched from it)``; called from the fetching thread.
ProgressReport: TypeAlias = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Gateway extensions of one query request."""

    partial: bool = False
    allow_allsky: bool = False
    run_id: str | None = None
    authorization: str | None = None
    fetch_whole: bool = False
    """``FETCH_WHOLE=true``: allow fetching a remote table whole above the configured limit."""
    progress: ProgressReport | None = None
    """Told ``(backend, rows)`` each time rows arrive from a backend (async job progress)."""


@runtime_checkable
class OptionAwareService(Protocol):
    """A query service that takes :class:`RunOptions`."""

    def run_with_options(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation | None,
        options: RunOptions,
    ) -> QueryResult:
        """Run ``query`` honouring ``options``."""
        ...


def run_query(
    service: QueryService,
    query: Query,
    *,
    uploads: Mapping[str, UploadedTable],
    maxrec: int,
    cancellation: Cancellation | None,
    options: RunOptions,
) -> QueryResult:
    """Run ``query`` on ``service``, with ``options`` when the service takes them.

    The query is type-checked first against the service's TAP_SCHEMA and the uploads: a type
    mistake is an ``AdqlSemanticError`` with its position, before any backend is asked.
    """
    columns = {name: upload.columns for name, upload in uploads.items()}
    check_types(query, catalogue_tables(service.schemas(), columns))
    if isinstance(service, OptionAwareService):
        return service.run_with_options(
            query, uploads=uploads, maxrec=maxrec, cancellation=cancellation, options=options
        )
    return service.run(query, uploads=uploads, maxrec=maxrec, cancellation=cancellation)
