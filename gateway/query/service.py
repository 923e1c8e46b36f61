"""What the TAP layer needs from whatever answers queries: metadata and a way to run ADQL.

The local DuckDB service implements it; the federated service implements it over remote
backends. Handlers, the job body and the Python facade only see this protocol. ``run`` is a
coroutine on the caller's event loop: blocking steps (type check, planning, DuckDB) go to
worker threads, backend fetches are awaited on the loop. A service owns loop-bound resources
(the HTTP client): ``start()`` on the loop that will run queries, ``aclose()`` on the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from gateway.engine.local import QueryResult
from gateway.query.cancellation import Cancellation
from gateway.query.options import RunOptions
from gateway.table_meta import SchemaMeta
from gateway.tap.examples import Example
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query

__all__ = ["QueryResult", "QueryService"]


class QueryService(Protocol):
    """Answers ADQL queries and describes the tables it can answer them over."""

    def schemas(self) -> Sequence[SchemaMeta]:
        """Every schema clients can query, TAP_SCHEMA included."""
        ...

    def examples(self) -> Sequence[Example]:
        """Example queries that run against the configured tables."""
        ...

    async def start(self) -> None:
        """Acquire what is bound to the running event loop (before the first ``run``)."""
        ...

    async def run(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation,
        options: RunOptions,
    ) -> QueryResult:
        """Type-check and execute a parsed query; the rows stream from the result.

        ``cancellation`` stops the work from any thread, before or after rows flow; a caller
        cancelled while it awaits stops it too. Reading the batches blocks (read them in a
        worker thread).
        """
        ...

    async def aclose(self) -> None:
        """Release resources (database connections, HTTP clients) on the loop of ``start``."""
        ...
