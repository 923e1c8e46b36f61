"""Turning a query result into response bytes in the negotiated format."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.formats import resolve_format
from gateway.query_service import QueryResult


def render_result(
    result: QueryResult, response_format: str | None, *, query_text: str | None = None
) -> tuple[str, Iterator[bytes]]:
    """The Content-Type and the streamed body for ``result``.

    The format is resolved before any row is read, so an unsupported RESPONSEFORMAT fails
    the request cleanly instead of after a partial answer.
    """
    fmt = resolve_format(response_format)
    chunks = fmt.writer(
        result.columns,
        result.batches,
        overflow=lambda: result.overflow,
        infos=getattr(result, "infos", ()),  # the federated service's backend INFOs
        query=query_text,
    )
    return fmt.media_type, chunks
