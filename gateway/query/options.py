"""Per-query options beyond ADQL: gateway extension parameters, and the type check.

``PARTIAL=true`` (return the healthy part of a federated query, one INFO per failed backend),
``XMATCH_ALLSKY=true`` (allow a federated positional cross-match with no spatial restriction),
``FETCH_WHOLE=true`` (allow fetching a remote table whole above the configured row estimate),
the job's RUNID and the caller's Authorization reach every query service; the local one has
no backends and ignores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from gateway.query.typecheck import catalogue_tables, check_types
from gateway.table_meta import SchemaMeta
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query

__all__ = ["ProgressReport", "RunOptions", "check_query"]

#: ``(backend name, rows just fetched from it)``; called on the event loop of the fetches.
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


def check_query(
    query: Query, schemas: Sequence[SchemaMeta], uploads: Mapping[str, UploadedTable]
) -> None:
    """Type-check ``query`` against a service's TAP_SCHEMA and the uploads (blocking).

    A type mistake is an ``AdqlSemanticError`` with its position, before any backend is asked.
    """
    columns = {name: upload.columns for name, upload in uploads.items()}
    check_types(query, catalogue_tables(schemas, columns))
