"""Driving a query service from a synchronous benchmark: one event loop thread for its life.

The service's HTTP client belongs to the loop it is started on; a blocking portal keeps that
loop for the whole benchmark, so connections are reused from one run to the next, as in a
serving gateway.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping

import anyio.from_thread

from gateway.engine.local import QueryResult
from gateway.query.cancellation import Cancellation
from gateway.query.options import RunOptions
from gateway.query.service import QueryService
from gateway.tap.uploads import UploadedTable
from grammar import parse

#: ``run(adql, uploads, maxrec, options)``: the result, its rows still to be read (blocking).
Runner = Callable[[str, Mapping[str, UploadedTable], int, RunOptions], QueryResult]


@contextlib.contextmanager
def started(service: QueryService) -> Iterator[Runner]:
    """Start ``service`` on a loop thread; yield a blocking runner; close it at the end."""
    with anyio.from_thread.start_blocking_portal() as portal:
        portal.call(service.start)

        def run(
            adql: str, uploads: Mapping[str, UploadedTable], maxrec: int, options: RunOptions
        ) -> QueryResult:
            call = functools.partial(
                service.run, parse(adql), uploads=uploads, maxrec=maxrec,
                cancellation=Cancellation(), options=options,
            )  # fmt: skip
            return portal.call(call)

        try:
            yield run
        finally:
            portal.call(service.aclose)
