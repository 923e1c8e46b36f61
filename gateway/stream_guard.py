"""Finding a query's runtime fault before the response starts, where the data allows it.

An HTTP status can only be chosen before the first byte: once a 200 and the VOTable header
are out, a fault can only be told in the trailer. :class:`PrefetchedResult` reads the first batch in
the worker thread, before the response exists, so that whatever the engine finds while
producing it (every fault of an aggregate or a sort, which compute everything first; the
first rows of a scan) becomes a proper DALI error with its status. Later faults end the
VOTable with ``QUERY_STATUS=ERROR`` (``error_text`` of :func:`gateway.votable.write_votable`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pyarrow as pa

from gateway.columns import ColumnMeta
from gateway.query_service import QueryResult


class PrefetchedResult:
    """``result`` with its first batch already read (blocking: call from a worker thread).

    Raises
    ------
    Exception
        Whatever producing the first batch raised; the result's resources are released by
        its own stream, which the exception ended.
    """

    def __init__(self, result: QueryResult) -> None:
        self._result = result
        self.columns: Sequence[ColumnMeta] = result.columns
        # The federated service's backend INFOs travel with the result.
        self.infos: Sequence[tuple[str, str, str]] = getattr(result, "infos", ())
        rest = iter(result.batches)
        first = next(rest, None)
        self.batches: Iterator[pa.RecordBatch] = (
            rest if first is None else itertools.chain((first,), rest)
        )

    @property
    def overflow(self) -> bool:
        """The wrapped result's overflow flag (valid once the batches are consumed)."""
        return self._result.overflow

    def cancel(self) -> None:
        """Stop the wrapped result."""
        self._result.cancel()
