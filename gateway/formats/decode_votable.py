"""VOTable answers (TAP, SIA, HSC ``.votable``): the table, QUERY_STATUS and overflow.

DALI lets a service report failure inside a successful-looking document: an
``INFO name="QUERY_STATUS" value="ERROR"`` before the table, or after a partly streamed one,
sent with HTTP 200 (DaCHS does this; tap-server.md §8). Every QUERY_STATUS INFO of the document
is therefore read, wherever it sits, before the table is trusted. ``OVERFLOW`` (leading, or
trailing after the TABLE) is not an error: it sets :attr:`Decoded.overflow`.

The document is parsed once with astropy.io.votable; its columns are converted to Arrow with
the same code that reads TAP uploads, so both paths give the same types. A BINARY2 table (what
the gateway asks TAP backends for) is the exception: astropy decodes it cell by cell in Python
(about 7 s for 200,000 rows), so only the document around the emptied STREAM goes to astropy
(FIELDs, INFOs, QUERY_STATUS) and the rows are decoded by the vectorised
:mod:`gateway.formats.binary2_read`, to the same Arrow types.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.binary2_read import (
    Binary2Error,
    Binary2Field,
    Binary2Unsupported,
    read_rows,
)

# One converter for uploads and backend answers: same Arrow types for the same FIELDs.
from gateway.tap.upload_reader import (
    VOTableColumnError,
    declared_column,
    parse_votable,
    votable_table_to_arrow,
)
from planners.sql_catalog import ColumnInfo

__all__ = ["DecodeError", "Decoded", "ServiceError", "decode_votable", "votable_error_message"]


class DecodeError(ValueError):
    """The body is not a readable document of the expected format (malformed or cut short)."""


class ServiceError(RuntimeError):
    """A readable document in which the service reports an error; the text is its message."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded answer: column metadata, the rows, and whether the service cut them."""

    columns: tuple[ColumnInfo, ...]
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
    split = _split_binary2(data)
    if split is not None:
        try:
            return _read(split[0], split[1])
        except Binary2Unsupported:
            pass  # a FIELD the vectorised reader leaves to astropy: parse the whole document
    return _read(data, None)


def _read(document: bytes | bytearray | memoryview, stream: memoryview | None) -> Decoded:
    """The first table of ``document``; its rows from ``stream`` (BINARY2 base64) if given."""
    votable = _parse(document)
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
    if stream is not None:
        fields = [Binary2Field(declared_column(f), _int_null(f)) for f in table.fields]
        rows = _binary2_table(fields, stream, rows.schema)
    return Decoded(tuple(columns), rows, overflow)


# The first table's BINARY2 stream, inline and base64 (what TAP services send); anything else
# (a gzip or href stream) is left to astropy.
_TABLE: Final = re.compile(rb"<(?:\w+:)?TABLE[\s>]")
_STREAM: Final = re.compile(rb"<(?:\w+:)?BINARY2\s*>\s*<(?:\w+:)?STREAM\b([^>]*)>")
_STREAM_END: Final = re.compile(rb"</(?:\w+:)?STREAM\s*>")


def _split_binary2(data: bytes | bytearray | memoryview) -> tuple[bytes, memoryview] | None:
    """The document with the first table's BINARY2 stream emptied, and that stream's text."""
    buffer = data if isinstance(data, bytes | bytearray) else bytes(data)
    # Only the header up to the first DATA element is searched: a 150 MB TABLEDATA document
    # must not be scanned by the regular expression.
    first_data = buffer.find(b"DATA>")
    if first_data < 0:
        return None
    match = _STREAM.search(buffer, 0, first_data + 1024)
    if match is None or len(_TABLE.findall(buffer, 0, match.start())) != 1:
        return None
    attributes = match.group(1)
    if (
        attributes.rstrip().endswith(b"/")
        or b"href" in attributes
        or not re.search(rb"encoding\s*=\s*[\"']base64[\"']", attributes)
    ):
        return None
    close = buffer.find(b"<", match.end())  # base64 text holds no '<' (one-byte find: memchr)
    end = _STREAM_END.match(buffer, close) if close >= 0 else None
    if end is None:
        raise DecodeError("malformed or truncated VOTable: the BINARY2 STREAM is not closed")
    view = memoryview(buffer).cast("B")
    header = bytes(view[: match.end()]) + bytes(view[end.start() :])
    return header, view[match.end() : end.start()]


def _int_null(field: Any) -> int | None:
    """The integer ``<VALUES null>`` of a FIELD (astropy masks cells equal to it)."""
    values = getattr(field, "values", None)
    null = getattr(values, "null", None)
    try:
        return int(null) if null is not None and field.datatype not in {"float", "double"} else None
    except (TypeError, ValueError):
        return None


def _binary2_table(fields: list[Binary2Field], stream: memoryview, schema: pa.Schema) -> pa.Table:
    """The rows of a base64 BINARY2 stream, with the types astropy's path would give."""
    try:
        raw = binascii.a2b_base64(stream)
        arrays = read_rows(fields, raw)
    except (binascii.Error, Binary2Error) as error:
        raise DecodeError(f"malformed BINARY2 stream: {error}") from error
    out = []
    for decoded, target in zip(arrays, schema.types, strict=True):
        array = decoded
        if pa.types.is_uint64(target) and pa.types.is_string(array.type):
            # Unsigned 64-bit ids travel as decimal text (gateway.formats.arrow_types).
            array = pc.if_else(pc.equal(array, ""), None, array)
        try:
            out.append(array if array.type == target else array.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise DecodeError(f"BINARY2 column cannot be read as {target}: {error}") from error
    return pa.Table.from_arrays(out, schema=schema)
