"""VOTable answers (TAP, SIA, HSC ``.votable``): the table, QUERY_STATUS and overflow.

DALI lets a service report failure inside a successful-looking document: an
``INFO name="QUERY_STATUS" value="ERROR"`` before the table, or after a partly streamed one,
sent with HTTP 200 (DaCHS does this; tap-server.md §8). Every QUERY_STATUS INFO of the document
is therefore read, wherever it sits, before the table is trusted. ``OVERFLOW`` (leading, or
trailing after the TABLE) is not an error: it sets :attr:`Decoded.overflow`.

The document is parsed once with astropy.io.votable; its columns are converted to Arrow with
the same code that reads TAP uploads, so both paths give the same types.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gateway.columns import ColumnMeta

# One converter for uploads and backend answers: same Arrow types for the same FIELDs.
from gateway.upload_reader import VOTableColumnError, parse_votable, votable_table_to_arrow

__all__ = ["DecodeError", "Decoded", "ServiceError", "decode_votable", "votable_error_message"]


class DecodeError(ValueError):
    """The body is not a readable document of the expected format (malformed or cut short)."""


class ServiceError(RuntimeError):
    """A readable document in which the service reports an error; the text is its message."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded answer: column metadata, the rows, and whether the service cut them."""

    columns: tuple[ColumnMeta, ...]
    table: pa.Table
    overflow: bool = False


def _parse(data: bytes | bytearray | memoryview) -> Any:
    try:
        return parse_votable(bytes(data))
    except Exception as error:
        # astropy raises ValueError, IndexError, KeyError... for broken XML (also when the
        # stream was cut mid-document); all mean the same thing here.
        raise DecodeError(f"malformed or truncated VOTable: {error}") from error


def _statuses(votable: Any) -> Iterator[tuple[str, str]]:
    """``(value, text)`` of every QUERY_STATUS INFO, in document order of the resources."""

    def resources(items: Any) -> Iterator[Any]:
        for resource in items:
            yield resource
            yield from resources(resource.resources)

    for owner in (votable, *resources(votable.resources)):
        for info in owner.infos:
            if info.name == "QUERY_STATUS":
                yield str(info.value or "").upper(), str(info.content or "").strip()


def votable_error_message(data: bytes | bytearray | memoryview) -> str | None:
    """The text of a ``QUERY_STATUS=ERROR`` INFO, or None when there is none or no VOTable."""
    try:
        votable = _parse(data)
    except DecodeError:
        return None
    for value, text in _statuses(votable):
        if value == "ERROR":
            return text or "the service reported QUERY_STATUS=ERROR without a message"
    return None


def decode_votable(data: bytes | bytearray | memoryview) -> Decoded:
    """Read the first TABLE of a VOTable answer.

    Raises
    ------
    ServiceError
        A QUERY_STATUS INFO says ERROR (its text is the message), or the body is a plain-text
        error document (DALI allows those).
    DecodeError
        Broken XML, a document cut short, no TABLE, or a column that cannot be converted.
    """
    head = bytes(data[:256]).lstrip()
    if not head.startswith(b"<"):
        text = bytes(data[:1200]).decode("utf-8", "replace").strip()
        if not text:
            raise DecodeError("empty body where a VOTable was expected")
        raise ServiceError(" ".join(text.split())[:300])
    votable = _parse(data)
    overflow = False
    for value, text in _statuses(votable):
        if value == "ERROR":
            raise ServiceError(text or "the service reported QUERY_STATUS=ERROR without a message")
        overflow = overflow or value == "OVERFLOW"
    try:
        table = votable.get_first_table()
    except IndexError:
        raise DecodeError("the VOTable holds no TABLE") from None
    try:
        columns, rows = votable_table_to_arrow(table)
    except VOTableColumnError as error:
        raise DecodeError(str(error)) from error
    return Decoded(tuple(columns), rows, overflow)
