"""A single backend's CSV answer handed to DuckDB slice by slice while it arrives.

For a plan whose whole query goes to one backend (``plan.fragment``), the local query only
applies MAXREC and the declared column metadata, and scans the fetched rows once. When the
answer is a typed CSV that :class:`gateway.formats.decode.CsvSlices` parses in slices,
:class:`FragmentStream` passes each parsed slice on through a bounded :class:`BatchChannel`
read by DuckDB (a ``pa.RecordBatchReader``), so that rows reach the client before the
transfer ends and the whole answer is never held as one table.

Streaming starts only once the first slice parsed; before that, every outcome is today's: a
failure is the fetch's :class:`gateway.errors.BackendError`, and an answer that ended (or
could not be sliced) is decoded whole and registered as a table. After it started, a failure
ends the reader with that error (the writer ends the VOTable with ``QUERY_STATUS=ERROR``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa

from gateway.errors import BackendError, ResourceLimitError
from gateway.federation.executor import Executor
from gateway.federation.fetched import Fetched
from gateway.formats.decode import CsvSlices, Decoded, slice_columns
from planners.base import BackendRequest
from planners.sql_catalog import ColumnInfo

__all__ = ["BatchChannel", "Declare", "FragmentStream"]

CHANNEL_BATCHES = 8
"""Batches waiting for DuckDB at most (a few slices' worth: bounded memory, no stalls)."""

Declare = Callable[[pa.Table, Sequence[ColumnInfo]], tuple[pa.Table, list[ColumnInfo]]]
"""Gives fetched rows (and their fetched metadata) the catalogue's types and metadata."""


class BatchChannel:
    """A bounded queue of record batches from the event loop to one reading thread.

    The producer awaits :meth:`put` on the loop (never blocking it); the reader iterates
    :meth:`reader` in a worker thread (DuckDB's scan). :meth:`finish` ends it from the
    producer's side, with an error or not; :meth:`close` from the reader's side (query
    cancelled, result closed): queued batches are dropped and both sides wake up, so no
    thread stays blocked on a full or empty queue.
    """

    def __init__(self, schema: pa.Schema, loop: asyncio.AbstractEventLoop) -> None:
        self.schema = schema
        self._loop = loop
        self._items: collections.deque[pa.RecordBatch] = collections.deque()
        self._ready = threading.Condition()
        self._space = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    @property
    def error(self) -> BaseException | None:
        """What ended the channel, if it did not end normally."""
        return self._error

    async def put(self, batch: pa.RecordBatch) -> bool:
        """Queue ``batch`` once there is room; False when the channel was closed."""
        while True:
            with self._ready:
                if self._ended:
                    return False
                if len(self._items) < CHANNEL_BATCHES:
                    self._items.append(batch)
                    self._ready.notify_all()
                    return True
                self._space.clear()
            await self._space.wait()

    def finish(self, error: BaseException | None = None) -> None:
        """No more batches; the reader raises ``error`` after the queued ones (if given)."""
        with self._ready:
            if self._ended:
                return
            self._ended = True
            self._error = error
            self._ready.notify_all()

    def close(self) -> None:
        """The reader is gone: drop what is queued and wake the producer (any thread)."""
        with self._ready:
            self._items.clear()
            if not self._ended:
                self._ended = True
                self._error = ResourceLimitError("the query was cancelled")
            self._ready.notify_all()
        self._wake_producer()

    def reader(self) -> pa.RecordBatchReader:
        """The batches as a reader (readable once, from any one thread)."""
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        while True:
            with self._ready:
                while not self._items and not self._ended:
                    self._ready.wait()
                if self._items:
                    batch = self._items.popleft()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            self._wake_producer()
            yield batch

    def _wake_producer(self) -> None:
        # The loop may be closed when a late close() comes: nobody is left to wake.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._space.set)


class FragmentStream:
    """Fetch one CSV request and stream its slices, or decode it whole when that is safer.

    Parameters
    ----------
    executor, backend, request, expected, uploads, run_id, authorization
        What :meth:`gateway.federation.executor.Executor.fetch_slices` needs.
    declare
        Turns each slice into the declared types and metadata.
    report
        Told how many rows each slice brought (job progress).
    """

    def __init__(
        self,
        executor: Executor,
        backend: str,
        request: BackendRequest,
        *,
        expected: Sequence[ColumnInfo],
        uploads: dict[str, bytes],
        run_id: str | None,
        authorization: str | None,
        declare: Declare,
        report: Callable[[int], None],
    ) -> None:
        self._slices = CsvSlices(expected)
        self._expected = tuple(expected)
        self._arrived = asyncio.Event()
        self._slices.on_part = self._arrived.set
        self._declare = declare
        self._report = report
        self._backend = backend
        self._url = request.url
        self._loop = asyncio.get_running_loop()
        self._fetch: asyncio.Task[Decoded | None] = asyncio.ensure_future(
            executor.fetch_slices(
                backend,
                request,
                self._slices,
                run_id=run_id,
                authorization=authorization,
                expected=expected,
                uploads=uploads,
            )
        )
        self._fetch.add_done_callback(lambda _: self._arrived.set())
        self._pump: asyncio.Task[None] | None = None
        self.channel: BatchChannel | None = None
        self.columns: list[ColumnInfo] = []

    async def start(self) -> Fetched | None:
        """Wait for the first slice: None once streaming (read :attr:`channel`), else the rows.

        Raises
        ------
        BackendError
            The fetch failed before any row was passed on.
        """
        try:
            first = await self._first_slice()
        except BaseException:
            self.stop()
            raise
        if first is None:
            decoded = await self._fetch
            assert decoded is not None  # nothing was taken: decoded whole
            return Fetched(decoded.table, decoded.columns)
        table, self.columns = self._declare(first, slice_columns(first, self._expected))
        self.channel = BatchChannel(table.schema, self._loop)
        self._report(first.num_rows)
        self._pump = asyncio.ensure_future(self._pass_on(table))
        return None

    async def _first_slice(self) -> pa.Table | None:
        """The first slice, taken; None when the answer is to be decoded whole."""
        while not self._fetch.done():
            part = self._slices.peek()
            if part is None:
                await self._arrived.wait()
                self._arrived.clear()
                continue
            try:
                table = await asyncio.wrap_future(part)
            except pa.ArrowInvalid:
                return None  # CsvSlices.finish parses the whole body instead
            if self._fetch.done():
                return None  # finished meanwhile, decoded whole
            taken = self._slices.take()
            assert taken is part
            return table
        return None

    async def _pass_on(self, first: pa.Table) -> None:
        """Put every slice in the channel, in order; end it with the fetch's outcome."""
        assert self.channel is not None
        channel = self.channel
        error: BaseException | None = None
        try:
            if await self._put(first):
                await self._rest()
        except asyncio.CancelledError:
            error = ResourceLimitError("the query was cancelled while fetching from backends")
            raise
        except (BackendError, ResourceLimitError) as failure:
            error = failure
        except pa.ArrowException as failure:
            error = BackendError(self._backend, self._url, f"malformed answer: {failure}")
        finally:
            channel.finish(error)
            if not self._fetch.done() and not self._fetch.cancelling():
                self._fetch.cancel()

    async def _rest(self) -> None:
        while True:
            part = self._slices.take()
            if part is not None:
                table = await asyncio.wrap_future(part)
                declared, _ = self._declare(table, self.columns)
                if declared.schema != self.channel_schema:
                    declared = declared.cast(self.channel_schema)
                self._report(table.num_rows)
                if not await self._put(declared):
                    return
            elif self._slices.closed:
                return
            elif self._fetch.done():
                await self._fetch  # raises the fetch's failure
                return
            else:
                await self._arrived.wait()
                self._arrived.clear()

    @property
    def channel_schema(self) -> pa.Schema:
        """The schema every batch is given (the first slice's, declared)."""
        assert self.channel is not None
        return self.channel.schema

    async def _put(self, table: pa.Table) -> bool:
        assert self.channel is not None
        for batch in table.to_batches():
            if not await self.channel.put(batch):
                return False
        return True

    def stop(self) -> None:
        """Stop fetching and free the channel (from any thread)."""
        if self.channel is not None:
            self.channel.close()
        # The loop may be closed when a late stop() comes: nothing is left to stop.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._cancel_tasks)

    def _cancel_tasks(self) -> None:
        # Once each: a second cancel would interrupt the fetch's own clean-up (httpx closing
        # the connection), leaving the backend's request open.
        for task in (self._fetch, self._pump):
            if task is not None and not task.done() and not task.cancelling():
                task.cancel()
