"""One structured log line per query, for operators: who ran what where, how long, how it ended.

Each sync request and each async job writes exactly one INFO record on the
``adql_gateway.query`` logger when it ends, as ``key=value`` pairs in a fixed order::

    query kind=sync id=4f1c2a9be0d3 runid=- backends=hsc:120,spec:4 rows=37 ms=412
    outcome=OK error=- ref=-

``id`` is the job id for async jobs and a fresh id for sync requests; ``runid`` is the
client's RUNID; ``backends`` lists each backend that sent rows with how many; ``rows`` are
the rows of the answer; ``outcome`` is ``OK``, ``OVERFLOW`` (cut at MAXREC, a backend's limit,
or a PARTIAL answer missing a failed backend) or ``ERROR`` with the exception's class in
``error`` and, for internal failures, the reference id the client was given in ``ref``.
Nothing the client sent beyond its RUNID is logged: no query text, no credentials.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

import pyarrow as pa

from gateway.engine.local import QueryResult
from gateway.errors import classify
from gateway.tap.responses import PARTIAL_INFO

__all__ = ["LOGGER_NAME", "QueryLog"]

LOGGER_NAME = "adql_gateway.query"
log = logging.getLogger(LOGGER_NAME)

QueryKind = Literal["sync", "async"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]")


def _value(text: str | None) -> str:
    """``text`` as one key=value token: ``-`` when absent, odd characters replaced."""
    if not text:
        return "-"
    return _UNSAFE.sub("_", text)[:80]


class QueryLog:
    """Follows one query and writes its line once, from whichever thread sees the end.

    Parameters
    ----------
    kind
        ``sync`` or ``async``.
    query_id
        The job id (async); None draws a fresh id (sync).
    run_id
        The client's RUNID, if any.
    """

    def __init__(self, kind: QueryKind, query_id: str | None, run_id: str | None) -> None:
        self.kind = kind
        self.query_id = query_id or secrets.token_hex(6)
        self.run_id = run_id
        self._started = time.monotonic()
        self._backends: dict[str, int] = {}
        self._rows = 0
        self._lock = threading.Lock()
        self._written = False

    def progress(
        self, then: Callable[[str, int], None] | None = None
    ) -> Callable[[str, int], None]:
        """A progress reporter that counts rows per backend, then calls ``then`` if given."""

        def report(backend: str, rows: int) -> None:
            with self._lock:
                self._backends[backend] = self._backends.get(backend, 0) + rows
            if then is not None:
                then(backend, rows)

        return report

    def counted(self, result: QueryResult) -> QueryResult:
        """``result`` whose rows are counted; its end (or failure) writes the line."""
        return result.with_batches(_counted(result, self))

    def finished(self, *, overflow: bool) -> None:
        """The answer was delivered whole (``overflow``: cut or incomplete)."""
        self._write("OVERFLOW" if overflow else "OK", None, None)

    def failed(self, error: BaseException) -> None:
        """The query ended with ``error`` (before or while its rows were delivered)."""
        self._write("ERROR", type(error).__name__, classify(error, log_failure=False).reference)

    def abandoned(self) -> None:
        """The reader stopped before the end (the client went away)."""
        self._write("ERROR", "Disconnected", None)

    def add_rows(self, rows: int) -> None:
        """Count ``rows`` more rows of the answer."""
        self._rows += rows

    def _write(self, outcome: str, error: str | None, reference: str | None) -> None:
        with self._lock:
            if self._written:
                return  # the first end seen is the true one (a failure, then the cleanup)
            self._written = True
            backends = ",".join(f"{name}:{rows}" for name, rows in sorted(self._backends.items()))
        elapsed = round((time.monotonic() - self._started) * 1000)
        log.info(
            "query kind=%s id=%s runid=%s backends=%s rows=%d ms=%d outcome=%s error=%s ref=%s",
            self.kind,
            self.query_id,
            _value(self.run_id),
            backends or "-",
            self._rows,
            elapsed,
            outcome,
            error or "-",
            reference or "-",
        )


def _counted(result: QueryResult, record: QueryLog) -> Iterator[pa.RecordBatch]:
    """``result``'s batches, watched by ``record``.

    The line is written when the batches are exhausted (``OK`` or ``OVERFLOW``), when reading
    them fails (``ERROR``), or when the reader stops early (``ERROR``: the client went away).
    """
    try:
        for batch in result.batches:
            record.add_rows(batch.num_rows)
            yield batch
    except GeneratorExit:
        record.abandoned()
        raise
    except BaseException as exc:
        record.failed(exc)
        raise
    incomplete = any(info[0] == PARTIAL_INFO for info in result.infos)
    record.finished(overflow=result.overflow or incomplete)
