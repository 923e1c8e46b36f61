"""What the TAP layer needs from whatever answers queries: metadata and a way to run ADQL.

The local DuckDB service implements it today; the federation planner implements it over
remote backends. Handlers and the job runner only see this protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import pyarrow as pa

from gateway.cancellation import Cancellation
from gateway.columns import ColumnMeta
from gateway.examples import Example
from gateway.table_meta import SchemaMeta
from gateway.uploads import UploadedTable
from grammar.nodes import Query


class QueryResult(Protocol):
    """A streamed result: metadata first, batches as they come, overflow known at the end."""

    @property
    def columns(self) -> Sequence[ColumnMeta]:
        """Result columns in SELECT order."""
        ...

    @property
    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, in Arrow record batches."""
        ...

    @property
    def overflow(self) -> bool:
        """True once the rows were cut at MAXREC (valid after ``batches`` is exhausted)."""
        ...

    def cancel(self) -> None:
        """Stop producing rows as soon as possible (callable from any thread)."""
        ...


class QueryService(Protocol):
    """Answers ADQL queries and describes the tables it can answer them over."""

    def schemas(self) -> Sequence[SchemaMeta]:
        """Every schema clients can query, TAP_SCHEMA included."""
        ...

    def examples(self) -> Sequence[Example]:
        """Example queries that run against the configured tables."""
        ...

    def run(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation | None = None,
    ) -> QueryResult:
        """Execute a parsed query; blocking (call it from a worker thread).

        ``cancellation`` stops the work from another thread, before or after rows flow.
        """
        ...

    def close(self) -> None:
        """Release resources (database connections, HTTP clients)."""
        ...
