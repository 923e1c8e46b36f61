"""Finding a query's runtime fault before the response starts, where the data allows it.

An HTTP status can only be chosen before the first byte: once a 200 and the VOTable header
are out, a fault can only be told in the trailer. :func:`prefetched` reads the first batch
(in a worker thread), before the response exists, so that whatever the engine finds while
producing it (every fault of an aggregate or a sort, which compute everything first; the
first rows of a scan) becomes a proper DALI error with its status. Later faults end the
VOTable with ``QUERY_STATUS=ERROR`` (``error_text`` of
:func:`gateway.formats.votable.write_votable`).
"""

from __future__ import annotations

import itertools

from gateway.engine.local import QueryResult


def prefetched(result: QueryResult) -> QueryResult:
    """``result`` with its first batch already read (blocking: call from a worker thread).

    Raises
    ------
    Exception
        Whatever producing the first batch raised; the result's resources are released by
        its own stream, which the exception ended.
    """
    rest = iter(result.batches)
    first = next(rest, None)
    return result.with_batches(rest if first is None else itertools.chain((first,), rest))
