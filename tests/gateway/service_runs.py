"""Running a query service from synchronous test code: one event loop per query.

The service's HTTP client belongs to the loop it was started on, so each call starts the
service on a fresh loop, runs the query, reads every row, and closes it again.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import anyio.to_thread
import pyarrow as pa

from gateway.engine.local import QueryResult
from gateway.query.cancellation import Cancellation
from gateway.query.options import RunOptions
from gateway.query.service import QueryService
from gateway.tap.uploads import UploadedTable
from grammar import parse


def run_query(
    service: QueryService,
    adql: str,
    *,
    uploads: Mapping[str, UploadedTable] | None = None,
    maxrec: int = 1_000_000,
    options: RunOptions | None = None,
    cancellation: Cancellation | None = None,
) -> tuple[pa.Table, QueryResult]:
    """Every row of ``adql`` on ``service`` (empty table without rows), and the result."""

    async def go() -> tuple[pa.Table, QueryResult]:
        await service.start()
        try:
            result = await service.run(
                parse(adql),
                uploads=uploads or {},
                maxrec=maxrec,
                cancellation=cancellation or Cancellation(),
                options=options or RunOptions(),
            )
            batches = await anyio.to_thread.run_sync(list, result.batches)
        finally:
            await service.aclose()
        return (pa.Table.from_batches(batches) if batches else pa.table({})), result

    return anyio.run(go)
