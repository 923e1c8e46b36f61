"""Vectorised text rendering of result cells, shared by TABLEDATA, CSV, TSV and JSON.

Every function here works on whole Arrow arrays with Arrow compute kernels, so a text format
costs a handful of C++ passes per column and batch instead of one Python call per cell. The
final :func:`join_rows` concatenates rendered cells into the bytes of many rows at once by
reading the value buffer of an Arrow string array: row text is never materialised as Python
objects.

:func:`render_ahead` runs a per-batch rendering on a small thread pool, a few batches ahead of
the consumer: Arrow kernels release the GIL, so rendering uses every core and overlaps with
sending the previous chunk and with producing the next batch.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gateway.formats.arrow_types import array_shape, coerce_array
from planners.sql_catalog import ColumnInfo

__all__ = [
    "JSON_STYLE",
    "VOTABLE_STYLE",
    "TextStyle",
    "array_bytes",
    "join_rows",
    "render_ahead",
    "render_column",
    "xml_escape",
]

_WORKERS: Final = max(2, os.cpu_count() or 1)
# Threads start on first use; shared by every writer of the process.
_POOL: Final = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="cell-text")

# Characters XML 1.0 cannot carry at all, even as character references.
_XML_INVALID: Final = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"


@dataclass(frozen=True, slots=True)
class TextStyle:
    """How one text format spells values that have no single obvious text form."""

    true: str
    false: str
    nan: str
    pos_inf: str
    neg_inf: str
    element_null: str
    """Text for a null element inside an array (arrays themselves are null or not)."""
    array_sep: str
    array_open: str = ""
    array_close: str = ""
    json_strings: bool = False
    """Quote and escape strings as JSON string literals."""


VOTABLE_STYLE: Final = TextStyle(
    true="T", false="F", nan="NaN", pos_inf="+Inf", neg_inf="-Inf", element_null="NaN",
    array_sep=" ",
)  # fmt: skip
JSON_STYLE: Final = TextStyle(
    true="true", false="false", nan="null", pos_inf="null", neg_inf="null",
    element_null="null", array_sep=",", array_open="[", array_close="]", json_strings=True,
)  # fmt: skip


def render_column(
    array: pa.Array | pa.ChunkedArray, meta: ColumnInfo, style: TextStyle
) -> pa.Array:
    """Text of every cell of a column; null cells stay null.

    Parameters
    ----------
    array
        The column values (any Arrow type :func:`coerce_array` accepts for ``meta``).
    meta
        The column description.
    style
        Spelling of booleans, non-finite floats and arrays.

    Returns
    -------
    pyarrow.StringArray
        One text per row, null where the cell is null.
    """
    values = coerce_array(array, meta)
    if meta.datatype in {"char", "unicodeChar"}:
        # Unsigned 64-bit ids are declared char and written as their decimal text.
        values = values if pa.types.is_string(values.type) else values.cast(pa.string())
        count, _ = array_shape(meta.arraysize)
        if count is not None:  # "N" or "N*": longer text would be invalid
            values = pc.utf8_slice_codeunits(values, 0, count)
        return _json_string(values) if style.json_strings else values
    if pa.types.is_binary(values.type) or pa.types.is_fixed_size_binary(values.type):
        values = _bytes_as_list(values)
    if pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
        return _render_list(values, style)
    return _render_scalar(values, style)


def _render_scalar(values: pa.Array, style: TextStyle) -> pa.Array:
    dtype = values.type
    if pa.types.is_boolean(dtype):
        return pc.if_else(values, style.true, style.false)
    text = values.cast(pa.string())
    if not pa.types.is_floating(dtype) or values.null_count == len(values):
        return text
    finite = pc.is_finite(values)
    if pc.all(finite).as_py() is not False:
        return text
    # Arrow prints "nan"/"inf"; VOTable wants NaN/+Inf/-Inf and JSON has no such numbers.
    special = pc.if_else(
        pc.is_nan(values),
        style.nan,
        pc.if_else(pc.greater(values, 0), style.pos_inf, style.neg_inf),
    )
    return pc.if_else(finite, text, special)


def _render_list(values: pa.Array, style: TextStyle) -> pa.Array:
    if pa.types.is_fixed_size_list(values.type):
        size = values.type.list_size
        child = values.values.slice(values.offset * size, len(values) * size)
        offsets = pa.array(range(0, (len(values) + 1) * size, size), pa.int32())
    else:
        offsets = values.offsets
        start = offsets[0].as_py()
        child = values.values.slice(start, offsets[-1].as_py() - start)
        offsets = pc.subtract(offsets, start)
    child_text = _render_scalar(child, style).fill_null(style.element_null)
    joined = pc.binary_join(
        pa.ListArray.from_arrays(offsets, child_text, mask=values.is_null()), style.array_sep
    )
    if not style.array_open and not style.array_close:
        return joined
    return pc.binary_join_element_wise(style.array_open, joined, style.array_close, "")


def _bytes_as_list(values: pa.Array) -> pa.Array:
    """Binary cells as lists of unsignedByte, which print as space-separated numbers."""
    if pa.types.is_fixed_size_binary(values.type):
        width = values.type.byte_width
        data = pa.UInt8Array.from_buffers(
            pa.uint8(), (values.offset + len(values)) * width, [None, values.buffers()[1]]
        )
        child = data.slice(values.offset * width)
        return pa.FixedSizeListArray.from_arrays(child, width, mask=values.is_null())
    binary = values.cast(pa.binary())
    _, offsets_buf, data_buf = binary.buffers()
    raw = np.frombuffer(offsets_buf, dtype=np.int32, count=binary.offset + len(binary) + 1)
    offsets = raw[binary.offset :]
    start = int(offsets[0])
    data = pa.UInt8Array.from_buffers(
        pa.uint8(), int(offsets[-1]) - start, [None, data_buf], offset=start
    )
    return pa.ListArray.from_arrays(pa.array(offsets - start), data, mask=binary.is_null())


def xml_escape(text: pa.Array) -> pa.Array:
    """Escape XML markup characters, keep CR, drop characters XML cannot represent."""
    out = pc.replace_substring(text, "&", "&amp;")
    out = pc.replace_substring(out, "<", "&lt;")
    out = pc.replace_substring(out, ">", "&gt;")
    # A literal CR would be normalised to LF by every XML parser.
    out = pc.replace_substring(out, "\r", "&#13;")
    if pc.any(pc.match_substring_regex(out, _XML_INVALID)).as_py():
        out = pc.replace_substring_regex(out, _XML_INVALID, "\ufffd")
    return out


def _json_string(text: pa.Array) -> pa.Array:
    """JSON string literals (with quotes) for every non-null string."""
    out = pc.replace_substring(text, "\\", "\\\\")
    out = pc.replace_substring(out, '"', '\\"')
    if pc.any(pc.match_substring_regex(out, "[\x00-\x1f]")).as_py():
        # Rare enough that one pass per control character is the simple, vectorised answer.
        for code in range(0x20):
            out = pc.replace_substring(out, chr(code), f"\\u{code:04x}")
    return pc.binary_join_element_wise('"', out, '"', "")


def join_rows(cells: list[pa.Array], *, sep: str, prefix: str, suffix: str) -> bytes:
    """Concatenate rendered cells into the bytes of consecutive rows.

    Parameters
    ----------
    cells
        One non-null string array per column, all of the same length.
    sep, prefix, suffix
        Text between cells, before the first and after the last cell of each row.

    Returns
    -------
    bytes
        ``prefix + cell1 + sep + ... + cellN + suffix`` for every row, in row order.
    """
    if not cells or not len(cells[0]):
        return b""
    if not prefix and len(sep) == 1 and suffix in {"\n", "\r\n"}:
        # Delimited rows: Arrow's CSV writer joins cells about ten times faster than the
        # element-wise join below. Unquoted, it refuses cells holding a quote, the separator
        # or a line end (text CSV had to quote): those batches take the general path.
        try:
            return _write_unquoted(cells, sep, suffix)
        except pa.ArrowInvalid:
            pass
    parts: list[pa.Array | str] = [prefix]
    for index, cell in enumerate(cells):
        if index:
            parts.append(sep)
        parts.append(cell)
    parts.extend((suffix, ""))
    rows = pc.binary_join_element_wise(*parts)
    return array_bytes(rows)


def _write_unquoted(cells: list[pa.Array], sep: str, eol: str) -> bytes:
    table = pa.Table.from_arrays(cells, names=[str(i) for i in range(len(cells))])
    options = pacsv.WriteOptions(
        include_header=False, delimiter=sep, quoting_style="none", eol=eol, batch_size=len(table)
    )
    out = pa.BufferOutputStream()
    pacsv.write_csv(table, out, options)
    return bytes(out.getvalue())


def array_bytes(rows: pa.Array) -> bytes:
    """Concatenated values of a string or binary array, read straight from its buffers."""
    _, offsets_buf, data_buf = rows.buffers()
    offsets = pa.Int32Array.from_buffers(
        pa.int32(), len(rows) + 1, [None, offsets_buf], offset=rows.offset
    )
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    return bytes(data_buf.slice(start, end - start))


def render_ahead(
    render: Callable[[pa.RecordBatch], bytes], batches: Iterable[pa.RecordBatch]
) -> Iterator[bytes]:
    """``render(batch)`` of every batch, in order, computed on the shared pool ahead of need.

    At most one batch per worker (plus one) is pending, so memory stays a few batches.
    Closing the iterator early cancels renderings not yet started; a rendering's exception is
    raised where its result would have been yielded.
    """
    pending: collections.deque[Future[bytes]] = collections.deque()
    try:
        for batch in batches:
            pending.append(_POOL.submit(render, batch))
            if len(pending) > _WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
