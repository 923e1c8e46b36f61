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
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import pyarrow as pa

from gateway.columns import ColumnMeta
from gateway.errors import classify
from gateway.query_service import QueryResult
from gateway.responses import PARTIAL_INFO

__all__ = ["LOGGER_NAME", "LoggedResult", "QueryLog"]

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

    def counted(self, result: QueryResult) -> LoggedResult:
        """``result`` whose rows are counted; its end (or failure) writes the line."""
        return LoggedResult(result, self)

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


class LoggedResult:
    """A query result whose delivery is watched by a :class:`QueryLog`.

    The line is written when the batches are exhausted (``OK`` or ``OVERFLOW``), when reading
    them fails (``ERROR``), or when the reader stops early (``ERROR``: the client went away).
    """

    def __init__(self, result: QueryResult, record: QueryLog) -> None:
        self._result = result
        self._record = record
        self.columns: Sequence[ColumnMeta] = result.columns
        # The federated service's backend INFOs travel with the result.
        self.infos: Sequence[tuple[str, str, str]] = getattr(result, "infos", ())
        self.batches: Iterator[pa.RecordBatch] = self._count(iter(result.batches))

    def _count(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches:
                self._record.add_rows(batch.num_rows)
                yield batch
        except GeneratorExit:
            self._record.abandoned()
            raise
        except BaseException as exc:
            self._record.failed(exc)
            raise
        incomplete = any(info[0] == PARTIAL_INFO for info in self.infos)
        self._record.finished(overflow=self._result.overflow or incomplete)

    @property
    def overflow(self) -> bool:
        """The wrapped result's overflow flag (valid once the batches are consumed)."""
        return self._result.overflow

    def cancel(self) -> None:
        """Stop the wrapped result."""
        self._result.cancel()
