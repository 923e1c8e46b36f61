"""Vectorised VOTable BINARY2 encoding of Arrow record batches.

A BINARY2 row is the null-flag bytes followed by every cell, big-endian; variable-length cells
carry a 4-byte count first (spec tap-server.md §9). Python never touches a cell: per chunk of
rows, the fixed-width cells between two variable-length ones are packed into one numpy
structured array (numpy does the byte swapping), and Arrow's ``binary_join_element_wise``
interleaves those packed segments with the variable payloads in C++. The resulting row bytes
are turned into one continuous base64 text by :class:`Base64Lines`.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.arrow_types import UnsupportedTypeError, array_shape, coerce_array
from planners.sql_catalog import ColumnInfo

__all__ = ["BIG_ENDIAN", "ROWS_PER_CHUNK", "Base64Lines", "encode_rows"]

ROWS_PER_CHUNK: Final = 32768
"""Rows encoded together: large enough to amortise per-call overhead, small enough that the
temporary arrays of one chunk stay a few megabytes."""

#: numpy dtypes of the VOTable numeric datatypes as BINARY2 serialises them (big-endian).
BIG_ENDIAN: Final[dict[str, str]] = {
    "unsignedByte": "u1",
    "short": ">i2",
    "int": ">i4",
    "long": ">i8",
    "float": ">f4",
    "double": ">f8",
    "floatComplex": ">f4",
    "doubleComplex": ">f8",
}
_LINE_BYTES: Final = 57  # raw bytes per 76-character base64 line
_REPLACEMENT: Final = 0xFFFD

Bytes = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Fixed:
    """The fixed-width part of one column's cells: a numpy field of a packed row segment."""

    base: str
    shape: tuple[int, ...]
    values: npt.NDArray[np.generic]


def encode_rows(columns: Sequence[ColumnInfo], batch: pa.RecordBatch) -> Iterator[memoryview]:
    """BINARY2 bytes of the rows of a batch (not yet base64-encoded).

    Parameters
    ----------
    columns
        Metadata of the batch's columns, in order; cells are encoded as declared here.
    batch
        The rows.

    Yields
    ------
    memoryview
        Raw row bytes, one piece per chunk of at most :data:`ROWS_PER_CHUNK` rows.
    """
    for start in range(0, batch.num_rows, ROWS_PER_CHUNK):
        yield _encode_chunk(columns, batch.slice(start, ROWS_PER_CHUNK))


def _encode_chunk(columns: Sequence[ColumnInfo], chunk: pa.RecordBatch) -> memoryview:
    n = chunk.num_rows
    flag_bytes = (len(columns) + 7) // 8
    nulls = np.zeros((n, flag_bytes * 8), dtype=np.bool_)
    cells: list[tuple[_Fixed, pa.Array | None]] = []
    for index, meta in enumerate(columns):
        values = coerce_array(chunk.column(index), meta)
        mask = _null_mask(values)
        nulls[:, index] = mask
        cells.append(_encode_cell(values, meta, mask))
    flags = _Fixed("u1", (flag_bytes,), np.packbits(nulls, axis=1, bitorder="big"))
    # Split the row into [fixed segment][variable payload][fixed segment]...; a variable
    # column's count belongs to the fixed segment before its payload.
    parts: list[pa.Array] = []
    segment = [flags]
    for fixed, payload in cells:
        segment.append(fixed)
        if payload is not None:
            parts.extend((_as_binary(_pack(segment, n)), payload))
            segment = []
    if segment:
        packed = _pack(segment, n)
        if not parts:
            return packed.data.cast("B")
        parts.append(_as_binary(packed))
    rows = pc.binary_join_element_wise(*parts, b"")
    return _values_view(rows)


def _null_mask(values: pa.Array) -> npt.NDArray[np.bool_]:
    if values.null_count == 0:
        return np.zeros(len(values), dtype=np.bool_)
    return np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _encode_cell(
    values: pa.Array, meta: ColumnInfo, mask: npt.NDArray[np.bool_]
) -> tuple[_Fixed, pa.Array | None]:
    count, variable = array_shape(meta.arraysize)
    datatype = meta.datatype
    if datatype in {"char", "unicodeChar"}:
        unit = 2 if datatype == "unicodeChar" else 1
        # Unsigned 64-bit ids are declared char and written as their decimal text.
        text = values if pa.types.is_string(values.type) else values.cast(pa.string())
        text = text.fill_null("") if text.null_count else text
        data = _ucs2(text) if unit == 2 else text.cast(pa.binary())
        return _bytes_cell(data, unit, count if variable or count else 1, variable)
    if datatype == "unsignedByte" and meta.arraysize is not None:
        if not variable:
            width = values.type.byte_width
            matrix = _buffer_matrix(values.buffers()[1], values.offset, len(values), width)
            return _Fixed("u1", (width,), np.where(mask[:, None], 0, matrix)), None
        data = values.fill_null(b"") if values.null_count else values
        return _bytes_cell(data.cast(pa.binary()), 1, count, variable)
    if datatype in {"boolean", "bit"} and meta.arraysize is None:
        return _Fixed("u1", (), _bool_codes(values, mask)), None
    if datatype not in BIG_ENDIAN and datatype != "boolean":
        raise UnsupportedTypeError(f"cannot write {datatype} column {meta.name!r} as BINARY2")
    base = BIG_ENDIAN.get(datatype, "u1")
    if pa.types.is_fixed_size_list(values.type):
        size = values.type.list_size
        child = values.values.slice(values.offset * size, len(values) * size)
        elements = _elements(child, datatype, base).reshape(len(values), size)
        filler = np.nan if base[-2] == "f" else 0
        return _Fixed(base, (size,), np.where(mask[:, None], filler, elements)), None
    if pa.types.is_list(values.type):
        return _var_list(values, datatype, base)
    return _Fixed(base, (), _elements(values, datatype, base)), None


def _bytes_cell(
    data: pa.Array, unit: int, count: int | None, variable: bool
) -> tuple[_Fixed, pa.Array | None]:
    """Cells of strings or byte arrays: a count plus payload, or padded to a fixed width."""
    if variable:
        if count is not None:
            data = pc.binary_slice(data, 0, count * unit)
        lengths = np.asarray(pc.binary_length(data).to_numpy(zero_copy_only=False)) // unit
        return _Fixed(">u4", (), lengths), data
    width = (count or 1) * unit
    padded = pc.binary_slice(pc.binary_join_element_wise(data, b"\0" * width, b""), 0, width)
    view = np.frombuffer(_values_view(padded), dtype=np.uint8).reshape(len(data), width)
    return _Fixed("u1", (width,), view), None


def _var_list(values: pa.Array, datatype: str, base: str) -> tuple[_Fixed, pa.Array]:
    if values.null_count:
        values = values.fill_null(pa.scalar([], values.type))
    offsets = np.asarray(values.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    start = int(offsets[0]) if len(offsets) else 0
    child = values.values.slice(start, int(offsets[-1]) - start if len(offsets) else 0)
    elements = np.ascontiguousarray(_elements(child, datatype, base).astype(base, copy=False))
    byte_offsets = ((offsets - start) * elements.itemsize).astype(np.int32)
    payload = pa.BinaryArray.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(byte_offsets), pa.py_buffer(elements)]
    )
    return _Fixed(">u4", (), np.diff(offsets)), payload


def _elements(values: pa.Array, datatype: str, base: str) -> npt.NDArray[np.generic]:
    """Numpy values of a flat numeric or boolean array, nulls replaced by BINARY2 fillers."""
    if datatype == "boolean":
        return _bool_codes(values, _null_mask(values))
    if values.null_count:
        values = values.fill_null(float("nan") if base[-2] == "f" else 0)
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _bool_codes(values: pa.Array, mask: npt.NDArray[np.bool_]) -> Bytes:
    filled = values.fill_null(pa.scalar(False))  # noqa: FBT003 - Arrow's API
    truth = np.asarray(filled.to_numpy(zero_copy_only=False))
    codes = np.where(truth, ord("T"), ord("F")).astype(np.uint8)
    codes[mask] = ord("?")
    return codes


def _ucs2(text: pa.Array) -> pa.Array:
    """UCS-2 (big-endian) bytes of non-null strings; characters beyond the BMP become U+FFFD."""
    utf8 = text.cast(pa.binary())
    offsets = _offsets(utf8)
    first = int(offsets[0]) if len(offsets) else 0
    raw = np.frombuffer(_values_view(utf8), dtype=np.uint8)
    if pc.all(pc.string_is_ascii(text)).as_py() is not False:
        units = raw.astype(">u2")
        counts = np.diff(offsets)
    else:
        lead = (raw & 0xC0) != 0x80
        where = np.flatnonzero(lead)
        padded = np.concatenate([raw, np.zeros(3, dtype=np.uint8)]).astype(np.uint32)
        b0, b1, b2 = padded[where], padded[where + 1] & 0x3F, padded[where + 2] & 0x3F
        code = np.where(
            b0 < 0x80,
            b0,
            np.where(
                b0 < 0xE0,
                ((b0 & 0x1F) << 6) | b1,
                np.where(b0 < 0xF0, ((b0 & 0x0F) << 12) | (b1 << 6) | b2, _REPLACEMENT),
            ),
        )
        units = code.astype(">u2")
        seen = np.concatenate([[0], np.cumsum(lead)])
        counts = seen[offsets[1:] - first] - seen[offsets[:-1] - first]
    byte_offsets = (np.concatenate([[0], np.cumsum(counts)]) * 2).astype(np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(text), [None, pa.py_buffer(byte_offsets), pa.py_buffer(units)]
    )


def _offsets(binary: pa.Array) -> npt.NDArray[np.int64]:
    """Value offsets of a (possibly sliced) binary array."""
    buf = binary.buffers()[1]
    raw = np.frombuffer(buf, dtype=np.int32, count=binary.offset + len(binary) + 1)
    return raw[binary.offset :].astype(np.int64)


def _values_view(array: pa.Array) -> memoryview:
    """The concatenated values of a binary array, without copying."""
    offsets = _offsets(array)
    start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    data = array.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data).cast("B")[start:end]


def _buffer_matrix(buf: pa.Buffer, offset: int, rows: int, width: int) -> Bytes:
    flat = np.frombuffer(buf, dtype=np.uint8, count=(offset + rows) * width)
    return flat[offset * width :].reshape(rows, width)


def _pack(segment: list[_Fixed], rows: int) -> Bytes:
    """One packed, big-endian byte matrix (rows x width) for consecutive fixed-width cells."""
    dtype = np.dtype([(f"f{i}", part.base, part.shape) for i, part in enumerate(segment)])
    record = np.empty(rows, dtype=dtype)
    for i, part in enumerate(segment):
        record[f"f{i}"] = part.values
    return record.view(np.uint8).reshape(rows, dtype.itemsize)


def _as_binary(matrix: Bytes) -> pa.Array:
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )


class Base64Lines:
    """Base64 text of a byte stream fed in pieces, as one valid stream in 76-column lines.

    Only whole 57-byte groups are encoded as they arrive; the remainder is carried to the
    next piece so that padding appears once, at the very end (:meth:`finish`).
    """

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: memoryview | bytes) -> bytes:
        """Base64 lines for all complete 57-byte groups available so far."""
        view = memoryview(data).cast("B")
        head = b""
        if self._carry:
            need = _LINE_BYTES - len(self._carry)
            if len(view) < need:
                self._carry += bytes(view)
                return b""
            head = binascii.b2a_base64(self._carry + bytes(view[:need]))
            view = view[need:]
        whole = len(view) // _LINE_BYTES * _LINE_BYTES
        self._carry = bytes(view[whole:])
        if not whole:
            return head
        text = np.frombuffer(binascii.b2a_base64(view[:whole], newline=False), dtype=np.uint8)
        lines = np.empty((whole // _LINE_BYTES, 77), dtype=np.uint8)
        # Vectorised line breaking: base64.encodebytes loops in Python per 57-byte line.
        lines[:, :76] = text.reshape(-1, 76)
        lines[:, 76] = ord("\n")
        return head + lines.tobytes()

    def finish(self) -> bytes:
        """The final, padded line (empty when the stream length was a multiple of 57)."""
        tail, self._carry = self._carry, b""
        return binascii.b2a_base64(tail) if tail else b""
