"""The executor: backend requests -> Arrow tables, over one shared HTTP/1.1 client.

One :class:`Executor` per gateway owns one ``httpx.AsyncClient`` (keep-alive connections are
reused across fragments and jobs), one semaphore per backend (``max_concurrency`` requests in
flight, counted per HTTP attempt so a back-off pause frees the slot) and the per-backend
timeouts. Contract of :meth:`Executor.fetch`:

- transient failures (connection errors, no answer in time, 502/503/504, 429) are retried with
  jittered exponential back-off within :class:`gateway.federation.retry.RetryPolicy`; 4xx, 500 and
  malformed answers are not;
- a request whose ``paging.may_overflow`` is set is paged (``page + 1``, ...) with bounded
  parallelism until a short page; a configured row cap reports overflow instead of cutting
  silently;
- every failure is a :class:`gateway.errors.BackendError`.

Bodies are read whole into one buffer and decoded in a worker thread (pyarrow's CSV reader
releases the GIL), which keeps the event loop free while a big page is parsed. Typed CSV
answers are parsed in slices while they arrive (:class:`gateway.formats.decode.CsvSlices`), so most
of the parsing overlaps the transfer.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Self

import httpx
import pyarrow as pa

from gateway.errors import BackendError
from gateway.federation.backend_auth import credential_headers
from gateway.federation.executor_http import (
    Answer,
    Failure,
    Prepared,
    prepare,
    public_url,
    send_once,
)
from gateway.federation.retry import RetryPolicy
from gateway.formats.arrow_types import UnsupportedTypeError, column_meta_from_arrow
from gateway.formats.columns import is_uint64
from gateway.formats.decode import CsvSlices, Decoded, DecodeError, ServiceError, decode, is_csv
from gateway.kinds.registry import kind_for
from gateway.settings import BackendConfig
from planners.base import BackendRequest
from planners.sql_catalog import ColumnInfo

__all__ = ["Executor", "ExecutorOptions", "FetchedTable"]

_THREAD_DECODE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Executor-wide knobs; per-backend ones live in :class:`gateway.settings.BackendConfig`.

    Parameters
    ----------
    retry
        Attempts, back-off and the total time budget of one request.
    connect_timeout
        Seconds to establish a connection (capped by the backend's ``timeout_seconds``).
    read_timeout
        Longest silence between two reads; None means the backend's ``timeout_seconds``.
        The backend's ``timeout_seconds`` is also the deadline of a whole attempt, so a
        server dripping bytes cannot hold a request forever.
    page_parallelism
        Pages fetched at once while paging (also capped by the backend's concurrency).
    max_rows
        Hard cap on the rows one paged fetch collects; reaching it sets ``overflow``.
    error_body_limit
        Bytes of an error answer read to quote the service's message.
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 5.0
    read_timeout: float | None = None
    page_parallelism: int = 4
    max_rows: int = 10_000_000
    error_body_limit: int = 65_536


@dataclass(frozen=True, slots=True)
class FetchedTable:
    """One backend answer: who answered, the columns, the rows, and whether they were cut.

    ``overflow`` is True when the service said QUERY_STATUS=OVERFLOW or the executor's row cap
    stopped paging; ``pages`` counts the pages fetched.
    """

    backend: str
    url: str
    columns: tuple[ColumnInfo, ...]
    table: pa.Table
    overflow: bool = False
    pages: int = 1

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return int(self.table.num_rows)

    def batches(self, max_chunksize: int | None = None) -> Iterator[pa.RecordBatch]:
        """The rows as record batches (zero-copy slices of the table)."""
        return iter(self.table.to_batches(max_chunksize=max_chunksize))


class Executor:
    """Fetch backend requests concurrently, with limits, retries and paging.

    Parameters
    ----------
    backends
        The configured backends; no other host is ever contacted.
    options
        Retry policy, timeouts and paging limits.
    environ
        Where ``token_env`` and ``password_env`` variables are read (default ``os.environ``),
        read once here.
    transport
        An httpx transport to use instead of the network one (tests).

    Raises
    ------
    ValueError
        When a backend's ``token_env`` or ``password_env`` names an unset variable.
    """

    def __init__(
        self,
        backends: Iterable[BackendConfig],
        options: ExecutorOptions | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options or ExecutorOptions()
        self._configs = {b.name: b for b in backends if kind_for(b.kind).remote}
        env = os.environ if environ is None else environ
        self._credentials = {n: credential_headers(c, env) for n, c in self._configs.items()}
        self._slots = {n: asyncio.Semaphore(c.max_concurrency) for n, c in self._configs.items()}
        total = max(1, sum(c.max_concurrency for c in self._configs.values()))
        self._client = httpx.AsyncClient(
            http1=True,
            http2=False,
            limits=httpx.Limits(max_connections=total, max_keepalive_connections=total),
            # Redirects could lead off the configured hosts; env proxies/netrc could leak.
            follow_redirects=False,
            trust_env=False,
            transport=transport,
            headers={"User-Agent": "adql-gateway executor"},
        )

    async def aclose(self) -> None:
        """Close the shared HTTP client and its connections."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        """Use as ``async with Executor(...) as ex``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving the block."""
        await self.aclose()

    def config(self, backend: str) -> BackendConfig:
        """The configuration of ``backend``; KeyError names the known ones."""
        if backend not in self._configs:
            known = ", ".join(sorted(self._configs)) or "none"
            raise KeyError(f"unknown HTTP backend {backend!r} (configured: {known})")
        return self._configs[backend]

    async def fetch(
        self,
        backend: str,
        request: BackendRequest,
        *,
        run_id: str | None = None,
        authorization: str | None = None,
        expected: Sequence[ColumnInfo] = (),
        uploads: Mapping[str, bytes] | None = None,
    ) -> FetchedTable:
        """Send ``request`` to ``backend`` (paging when needed) and decode the answer.

        Parameters
        ----------
        backend
            A configured backend name.
        request
            What the planner rendered.
        run_id
            The job's RUNID, passed on (parameter for TAP/SIA, ``X-RunId`` header otherwise).
        authorization
            The client's ``Authorization`` header; forwarded only where configured.
        expected
            The columns the planner expects (types for CSV, metadata for all formats).
        uploads
            VOTable bytes of each ``TAP_UPLOAD`` table named in ``request.uploads``.

        Returns
        -------
        FetchedTable
            All rows, pages concatenated in order.

        Raises
        ------
        BackendError
            Any failure, naming the backend, the URL, the cause and the transient flag.
        KeyError
            For a backend that is not configured.
        """
        config = self.config(backend)
        prepared = self._prepare(config, request, run_id, authorization, uploads)
        first = await self._page(config, prepared, request.response_format, expected)
        paging = request.paging
        # More rows than asked for means the service ignores pagesize: nothing to page.
        if paging is None or not paging.may_overflow or first.table.num_rows != paging.pagesize:
            return FetchedTable(
                backend, public_url(request.url), first.columns, first.table, first.overflow
            )
        return await self._more_pages(config, prepared, request, first, expected)

    async def _more_pages(
        self,
        config: BackendConfig,
        prepared: Prepared,
        request: BackendRequest,
        first: Decoded,
        expected: Sequence[ColumnInfo],
    ) -> FetchedTable:
        """Fetch pages after a full first one, a window at a time, until a short page.

        The page number is the ``page`` parameter of a GET request (HSC's paging, the only
        paged backend). Pages of a window past the first short page are dropped.
        """
        assert request.paging is not None
        pagesize, number = request.paging.pagesize, request.paging.page + 1
        width = max(1, min(self.options.page_parallelism, config.max_concurrency))
        pages, rows, done, capped = [first], first.table.num_rows, False, False
        while not done:
            if rows >= self.options.max_rows:
                capped = True
                break
            window = [_with_page(prepared, n) for n in range(number, number + width)]
            number += width
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        group.create_task(self._page(config, p, request.response_format, expected))
                        for p in window
                    ]
            except ExceptionGroup as failures:
                # Report the first failure as itself: callers catch BackendError, not groups.
                raise failures.exceptions[0] from None
            for offset, task in enumerate(tasks):
                page = task.result()
                if page.table.num_rows > pagesize:
                    cause = f"page {number - width + offset} has more than pagesize={pagesize} rows"
                    raise BackendError(config.name, public_url(request.url), cause)
                pages.append(page)
                rows += page.table.num_rows
                if page.table.num_rows < pagesize:
                    done = True  # later pages of this window are past the end: dropped
                    break
        table, columns = _concatenate(config, request, pages)
        if table.num_rows > self.options.max_rows:
            table, capped = table.slice(0, self.options.max_rows), True
        overflow = capped or any(p.overflow for p in pages)
        return FetchedTable(
            config.name, public_url(request.url), columns, table, overflow, len(pages)
        )

    async def _page(
        self,
        config: BackendConfig,
        prepared: Prepared,
        response_format: str,
        expected: Sequence[ColumnInfo],
    ) -> Decoded:
        # Typed CSV is parsed in slices while it arrives (the HSC SMC answer is 85 MB).
        slices = CsvSlices(expected) if expected and is_csv(response_format) else None
        answer = await self._send(config, prepared, slices)
        return await self._decoded(
            config, prepared, answer, response_format, expected, slices=slices
        )

    def _prepare(
        self,
        config: BackendConfig,
        request: BackendRequest,
        run_id: str | None,
        authorization: str | None,
        uploads: Mapping[str, bytes] | None,
    ) -> Prepared:
        """The HTTP request for ``request`` with the backend's credentials and the job's RUNID."""
        return prepare(
            config,
            request,
            credentials=self._credentials[config.name],
            run_id=run_id,
            authorization=authorization,
            uploads=uploads or {},
        )

    async def fetch_slices(
        self,
        backend: str,
        request: BackendRequest,
        slices: CsvSlices,
        *,
        run_id: str | None = None,
        authorization: str | None = None,
        expected: Sequence[ColumnInfo] = (),
        uploads: Mapping[str, bytes] | None = None,
    ) -> Decoded | None:
        """Send an unpaged CSV ``request``, feeding ``slices`` while its answer arrives.

        Whoever reads ``slices`` may take them as they come (:meth:`CsvSlices.take`); then
        the answer ends with :meth:`CsvSlices.close` and None is returned. Otherwise the
        answer is decoded whole, as :meth:`fetch` does. A retry happens only before any
        slice was fed (the answer's status is known first), so no taken row is sent twice.

        Raises
        ------
        BackendError
            As :meth:`fetch`.
        """
        config = self.config(backend)
        prepared = self._prepare(config, request, run_id, authorization, uploads)
        answer = await self._send(config, prepared, slices)
        if not slices.taken:
            return await self._decoded(
                config, prepared, answer, request.response_format, expected, slices=slices
            )
        _check_media(config, prepared, answer, request.response_format)
        slices.close(answer.body)
        return None

    async def _decoded(
        self,
        config: BackendConfig,
        prepared: Prepared,
        answer: Answer,
        response_format: str,
        expected: Sequence[ColumnInfo],
        *,
        slices: CsvSlices | None,
    ) -> Decoded:
        """The answer's table (big bodies decoded in a worker thread)."""
        _check_media(config, prepared, answer, response_format)
        url = public_url(prepared.url)
        body = answer.body
        try:
            if slices is not None:
                return await asyncio.to_thread(slices.finish, body)
            if len(body) > _THREAD_DECODE_BYTES:
                return await asyncio.to_thread(decode, body, response_format, expected)
            return decode(body, response_format, expected)
        except ServiceError as error:
            raise BackendError(config.name, url, f"service error: {error}") from error
        except DecodeError as error:
            raise BackendError(config.name, url, f"malformed answer: {error}") from error

    async def _send(
        self, config: BackendConfig, prepared: Prepared, slices: CsvSlices | None = None
    ) -> Answer:
        """One request with retries; the semaphore is held only while an attempt runs.

        ``slices`` is fed the body of each attempt as it arrives (restarted per attempt).
        """
        policy = self.options.retry
        started = time.monotonic()
        timeout = httpx.Timeout(
            config.timeout_seconds,
            connect=min(self.options.connect_timeout, config.timeout_seconds),
            read=min(self.options.read_timeout or config.timeout_seconds, config.timeout_seconds),
        )
        attempt = 0
        while True:
            attempt += 1
            remaining = policy.max_total - (time.monotonic() - started)
            try:
                if slices is not None:
                    slices.restart()
                async with self._slots[config.name]:
                    return await send_once(
                        self._client,
                        config,
                        prepared,
                        timeouts=timeout,
                        deadline=max(0.001, min(config.timeout_seconds, remaining)),
                        error_body_limit=self.options.error_body_limit,
                        feed=None if slices is None else slices.feed,
                    )
            except Failure as failure:
                if not failure.retry or attempt >= policy.attempts:
                    raise failure.error from failure
                delay = policy.backoff(attempt)
                if failure.retry_after is not None:
                    if failure.retry_after > policy.max_retry_after:
                        raise failure.error from failure
                    delay = failure.retry_after
                if time.monotonic() - started + delay >= policy.max_total:
                    raise failure.error from failure
            await asyncio.sleep(delay)


def _check_media(
    config: BackendConfig, prepared: Prepared, answer: Answer, response_format: str
) -> None:
    """Refuse an HTML page (a portal's error page) where a table format was asked for."""
    if "text/html" in answer.content_type and response_format != "html":
        cause = f"malformed answer: an HTML page where {response_format} was expected"
        raise BackendError(config.name, public_url(prepared.url), cause)


def _with_page(prepared: Prepared, number: int) -> Prepared:
    """The same request asking for page ``number`` (HSC ``page=``)."""
    params = [(k, v) for k, v in prepared.params if k.lower() != "page"]
    return replace(prepared, params=(*params, ("page", str(number))))


def _concatenate(
    config: BackendConfig, request: BackendRequest, pages: list[Decoded]
) -> tuple[pa.Table, tuple[ColumnInfo, ...]]:
    """Pages in order as one table; empty pages (often untyped) do not decide the types."""
    useful = [p for p in pages if p.table.num_rows] or pages[:1]
    try:
        table = pa.concat_tables([p.table for p in useful], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        cause = f"pages disagree on their columns: {error}"
        raise BackendError(config.name, public_url(request.url), cause) from error
    columns = useful[0].columns
    if table.schema != useful[0].table.schema:
        # A type was widened across pages: describe the widened type, keep the descriptions.
        widened = []
        for meta, arrow_field in zip(columns, table.schema, strict=True):
            try:
                new = column_meta_from_arrow(arrow_field)
            except UnsupportedTypeError:
                new = meta
            # Ids widened to unsigned 64 bits must stay unsigned (written as their decimal text).
            xtype = new.xtype if is_uint64(new) else meta.xtype
            widened.append(
                replace(meta, datatype=new.datatype, arraysize=new.arraysize, xtype=xtype)
            )
        columns = tuple(widened)
    return table, columns
