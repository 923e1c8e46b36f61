"""Streaming VOTable 1.4 result documents (BINARY2 or TABLEDATA) and DALI error documents.

The document is produced as a sequence of byte chunks: the header with the FIELDs leaves
before the first batch is read, then one chunk per encoded piece of rows. Overflow (MAXREC
truncation) is known only when the batches are exhausted, so it is reported the way DALI
allows for streaming: ``QUERY_STATUS=OK`` before the TABLE and a trailing
``<INFO name="QUERY_STATUS" value="OVERFLOW"/>`` after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.arrow_types import array_shape
from gateway.formats.binary2 import Base64Lines, encode_rows
from gateway.formats.cell_text import VOTABLE_STYLE, join_rows, render_column, xml_escape
from gateway.formats.columns import to_votable
from gateway.formats.result_writing import overflowed
from planners.sql_catalog import ColumnInfo

__all__ = ["VOTABLE_NAMESPACE", "error_votable", "write_votable"]

VOTABLE_NAMESPACE: Final = "http://www.ivoa.net/xml/VOTable/v1.3"
_PROLOGUE: Final = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<VOTABLE version="1.4" xmlns="{VOTABLE_NAMESPACE}"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
)
_XML_INVALID: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FIELD_ATTRIBUTES: Final = ("name", "datatype", "arraysize", "xtype", "unit", "ucd", "utype")

Serialization = Literal["binary2", "tabledata"]


def write_votable(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    *,
    serialization: Serialization = "binary2",
    infos: Sequence[tuple[str, str, str]] = (),
    overflow: Callable[[], bool] | None = None,
    query: str | None = None,
    resources: Sequence[str] = (),
    field_ids: Mapping[int, str] | None = None,
    error_text: Callable[[Exception], str] | None = None,
) -> Iterator[bytes]:
    """Stream a TAP result as a VOTable 1.4 document.

    Parameters
    ----------
    columns
        FIELD metadata, in the order of the batches' columns.
    batches
        The rows; consumed lazily, one batch at a time. No batches gives an empty TABLE
        (the MAXREC=0 metadata-only answer).
    serialization
        ``"binary2"`` (base64 BINARY2 stream) or ``"tabledata"`` (XML cells).
    infos
        Extra ``(name, value, text)`` INFO elements placed before the TABLE.
    overflow
        Called once after the last batch; true adds the trailing OVERFLOW INFO.
    query
        The query text, echoed in an ``INFO name="QUERY"``.
    resources
        Complete RESOURCE elements placed after the results (DataLink service descriptors).
    field_ids
        XML ``ID`` attributes of some FIELDs, by column index, for descriptors to ``ref``.
    error_text
        When given, a failure while reading ``batches`` ends the TABLE after the rows so far
        with a trailing ``QUERY_STATUS=ERROR`` INFO carrying ``error_text(exc)`` (DALI's
        streaming error); without it the exception propagates.

    Yields
    ------
    bytes
        Consecutive pieces of the UTF-8 document.
    """
    columns = [to_votable(c) for c in columns]  # unsigned ids as char text, and so on
    yield _header(columns, infos, query, field_ids or {}).encode()
    failures: list[str] = []
    pieces = _row_pieces(columns, batches, serialization)
    if error_text is not None:
        pieces = _until_failure(pieces, error_text, failures)
    if serialization == "binary2":
        yield b'<DATA><BINARY2><STREAM encoding="base64">\n'
        stream = Base64Lines()
        for raw in pieces:
            if text := stream.feed(raw):
                yield text
        yield stream.finish() + b"</STREAM></BINARY2></DATA>\n"
    else:
        yield b"<DATA><TABLEDATA>\n"
        yield from map(bytes, pieces)  # TABLEDATA pieces are bytes already: no copy
        yield b"</TABLEDATA></DATA>\n"
    trailer = "</TABLE>\n"
    if failures:
        trailer += f'<INFO name="QUERY_STATUS" value="ERROR">{_text(failures[0])}</INFO>\n'
    elif overflowed(overflow):
        trailer += '<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
    yield (trailer + "</RESOURCE>\n" + "".join(resources) + "</VOTABLE>\n").encode()


def _row_pieces(
    columns: Sequence[ColumnInfo], batches: Iterable[pa.RecordBatch], serialization: Serialization
) -> Iterator[bytes | memoryview]:
    """Encoded rows, whole rows per piece: BINARY2 bytes (before base64) or TABLEDATA XML."""
    for batch in batches:
        if serialization == "binary2":
            yield from encode_rows(columns, batch)
        elif rows := _tabledata_rows(columns, batch):
            yield rows


def _until_failure(
    pieces: Iterator[bytes | memoryview],
    error_text: Callable[[Exception], str],
    failures: list[str],
) -> Iterator[bytes | memoryview]:
    """The pieces until producing one fails (reading or encoding rows).

    The failure's description is appended to ``failures``; the document ends with the rows
    sent so far.
    """
    try:
        yield from pieces
    except Exception as exc:  # noqa: BLE001  (any failure ends the table with an ERROR INFO)
        failures.append(error_text(exc))


def error_votable(message: str) -> bytes:
    """A DALI error document: ``QUERY_STATUS=ERROR`` with the message, and no TABLE.

    Parameters
    ----------
    message
        Human-readable explanation; escaped as needed.

    Returns
    -------
    bytes
        The complete UTF-8 VOTable document.
    """
    return (
        f'{_PROLOGUE}<RESOURCE type="results">\n'
        f'<INFO name="QUERY_STATUS" value="ERROR">{_text(message)}</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    ).encode()


def _header(
    columns: Sequence[ColumnInfo],
    infos: Sequence[tuple[str, str, str]],
    query: str | None,
    field_ids: Mapping[int, str],
) -> str:
    parts = [_PROLOGUE, '<RESOURCE type="results">\n']
    parts.append('<INFO name="QUERY_STATUS" value="OK"/>\n')
    if query is not None:
        parts.append(f'<INFO name="QUERY" value={_attr(query)}/>\n')
    for name, value, text in infos:
        body = f">{_text(text)}</INFO>" if text else "/>"
        parts.append(f"<INFO name={_attr(name)} value={_attr(value)}{body}\n")
    parts.append("<TABLE>\n")
    parts.extend(_field(meta, field_ids.get(i)) for i, meta in enumerate(columns))
    return "".join(parts)


def _field(meta: ColumnInfo, xml_id: str | None = None) -> str:
    attributes = "".join(
        f" {key}={_attr(value)}"
        for key in _FIELD_ATTRIBUTES
        if (value := getattr(meta, key)) is not None
    )
    if xml_id is not None:
        attributes += f" ID={_attr(xml_id)}"
    if meta.description is None:
        return f"<FIELD{attributes}/>\n"
    return f"<FIELD{attributes}><DESCRIPTION>{_text(meta.description)}</DESCRIPTION></FIELD>\n"


def _text(value: str) -> str:
    """Escaped XML character data; characters XML cannot carry become U+FFFD."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _XML_INVALID.sub("\ufffd", escaped.replace("\r", "&#13;"))


def _attr(value: str) -> str:
    """A double-quoted XML attribute value; whitespace escaped so parsers keep it as is."""
    escaped = _text(value).replace('"', "&quot;")
    return '"' + escaped.replace("\n", "&#10;").replace("\t", "&#9;") + '"'


def _tabledata_rows(columns: Sequence[ColumnInfo], batch: pa.RecordBatch) -> bytes:
    cells = []
    for index, meta in enumerate(columns):
        text = render_column(batch.column(index), meta, VOTABLE_STYLE)
        if meta.datatype in {"char", "unicodeChar"}:
            text = xml_escape(text)
        cell = pc.binary_join_element_wise("<TD>", text, "</TD>", "")
        cells.append(cell.fill_null(_null_cell(meta)))
    return join_rows(cells, sep="", prefix="<TR>", suffix="</TR>\n")


def _null_cell(meta: ColumnInfo) -> str:
    """TABLEDATA for a null cell: empty, except fixed-size float arrays, which need NaNs."""
    count, variable = array_shape(meta.arraysize)
    if meta.datatype in {"float", "double"} and count is not None and not variable:
        return "<TD>" + " ".join(["NaN"] * count) + "</TD>"
    return "<TD/>"
