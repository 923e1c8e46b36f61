"""Turning a query result into response bytes in the negotiated format."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gateway.formats.output import resolve_format
from gateway.formats.votable import write_votable
from gateway.query.service import QueryResult
from gateway.tap.datalink import DatalinkRoutes

#: The INFO a federated answer carries for each backend that failed under PARTIAL=true.
PARTIAL_INFO = "BACKEND_ERROR"


def render_result(
    result: QueryResult,
    response_format: str | None,
    *,
    query_text: str | None = None,
    links: DatalinkRoutes | None = None,
    error_text: Callable[[Exception], str] | None = None,
) -> tuple[str, Iterator[bytes]]:
    """The Content-Type and the streamed body for ``result``.

    The format is resolved before any row is read, so an unsupported RESPONSEFORMAT fails
    the request cleanly instead of after a partial answer. With ``links``, routed
    ``access_url`` values point at the gateway's DataLink endpoint in every format, and a
    VOTable also carries the DataLink service descriptor. With ``error_text``, a fault while
    rows stream ends a VOTable with a ``QUERY_STATUS=ERROR`` trailer (other formats have no
    way to say it: the stream breaks off).
    """
    fmt = resolve_format(response_format)
    infos = getattr(result, "infos", ())  # the federated service's backend INFOs
    # A PARTIAL answer lacks a failed backend's rows: it ends in QUERY_STATUS=OVERFLOW (DALI:
    # more rows exist than were returned), which clients act on (pyvo warns), after the
    # BACKEND_ERROR INFOs that say which backend failed and why.
    incomplete = any(info[0] == PARTIAL_INFO for info in infos)

    def overflow() -> bool:
        return result.overflow or incomplete

    result_links = links.for_result(result.columns) if links is not None else None
    batches = result.batches if result_links is None else result_links.batches(result.batches)
    if fmt.name.startswith("votable"):
        chunks = write_votable(
            result.columns,
            batches,
            serialization="tabledata" if fmt.name == "votable/td" else "binary2",
            overflow=overflow,
            infos=infos,
            query=query_text,
            resources=result_links.resources() if result_links is not None else (),
            field_ids=result_links.field_ids if result_links is not None else None,
            error_text=error_text,
        )
    else:
        chunks = fmt.writer(
            result.columns, batches, overflow=overflow, infos=infos,
            query=query_text,
        )  # fmt: skip
    return fmt.media_type, chunks
