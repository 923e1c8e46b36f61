"""Vectorised reading of VOTable BINARY2 row bytes into Arrow arrays (the writer's mirror).

A BINARY2 row is the null-flag bytes followed by every cell, big-endian; a variable-length cell
carries a 4-byte element count first (tap-server.md §9, :mod:`gateway.formats.binary2`).
When every cell has a fixed width the rows are one (rows x width) byte matrix and each column
is a slice of it. Otherwise only the row starts need a scan (one Python step per row and
variable cell, reading the counts); every cell is then gathered for all rows at once with numpy.

Null semantics follow astropy.io.votable, whose parse of the same bytes is the oracle in the
tests: a cell is null when its null flag is set, and also for a NaN float, an integer equal to
the FIELD's ``<VALUES null>``, a boolean ``?``/space/NUL; a fixed array is null when flagged
or when every element is null; fixed ``char`` cells end at the first NUL.

What this reader does not handle (multi-dimensional character arrays, ``bit`` arrays, arrays of
complex numbers) raises :class:`Binary2Unsupported`, and the caller parses the document with
astropy instead.
"""

from __future__ import annotations

import itertools
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.arrow_types import array_shape
from gateway.formats.binary2 import BIG_ENDIAN
from planners.sql_catalog import ColumnInfo

__all__ = ["Binary2Error", "Binary2Field", "Binary2Unsupported", "read_rows"]

_BASE: Final[dict[str, str]] = {
    **BIG_ENDIAN,
    "boolean": "u1",
    "bit": "u1",
    "char": "u1",
    "unicodeChar": ">u2",
}
_TRUE: Final = np.array([ord("T"), ord("t"), ord("1")], dtype=np.uint8)
_FALSE: Final = np.array([ord("F"), ord("f"), ord("0")], dtype=np.uint8)
_NULL_BOOL: Final = np.array([0, ord(" "), ord("?")], dtype=np.uint8)
_COUNT: Final = struct.Struct(">I")

Bytes = npt.NDArray[np.uint8]
Index = npt.NDArray[np.int64]


class Binary2Error(ValueError):
    """The row bytes do not match the FIELDs (cut short, or an invalid cell)."""


class Binary2Unsupported(ValueError):
    """A FIELD this reader does not decode; the caller falls back to astropy."""


@dataclass(frozen=True, slots=True)
class Binary2Field:
    """One FIELD: its description and the integer ``<VALUES null>`` it declares, if any."""

    meta: ColumnInfo
    null: int | None = None


@dataclass(frozen=True, slots=True)
class _Layout:
    """Bytes of one cell: element type, element count, and whether a count comes first."""

    base: str
    count: int
    variable: bool

    @property
    def unit(self) -> int:
        return np.dtype(self.base).itemsize

    @property
    def width(self) -> int:
        """Bytes of a fixed cell (of the count of a variable one)."""
        return 4 if self.variable else self.count * self.unit


def _layout(meta: ColumnInfo) -> _Layout:
    datatype = meta.datatype
    if datatype not in _BASE:
        raise Binary2Unsupported(f"datatype {datatype!r} of {meta.name!r}")
    count, variable = array_shape(meta.arraysize)
    if meta.arraysize is not None and "x" in meta.arraysize and datatype in {"char", "unicodeChar"}:
        raise Binary2Unsupported(f"multi-dimensional character array {meta.name!r}")
    if meta.arraysize not in {None, "1"} and datatype in {"bit", "floatComplex", "doubleComplex"}:
        raise Binary2Unsupported(f"array of {datatype} {meta.name!r}")
    elements = 2 if datatype.endswith("Complex") else 1
    if meta.arraysize in {None, "1"}:
        return _Layout(_BASE[datatype], elements, variable=False)
    return _Layout(_BASE[datatype], count or 0, variable)


def read_rows(fields: Sequence[Binary2Field], raw: bytes | memoryview) -> list[pa.Array]:
    """Arrow arrays, one per FIELD, of the decoded (no longer base64) BINARY2 row bytes.

    Raises
    ------
    Binary2Unsupported
        For a FIELD this reader does not decode (the caller uses astropy).
    Binary2Error
        When the bytes end inside a row or a cell is invalid.
    """
    layouts = [_layout(f.meta) for f in fields]
    flag_bytes = (len(fields) + 7) // 8
    data = np.frombuffer(raw, dtype=np.uint8)
    cursor: _Gather | _Strided
    if any(layout.variable for layout in layouts):
        starts = _row_starts(bytes(raw), flag_bytes, layouts)
        cursor = _Gather(data, starts)
    else:
        row = flag_bytes + sum(layout.width for layout in layouts)
        if row == 0 or len(data) % row:
            raise Binary2Error(f"{len(data)} bytes are not whole rows of {row} bytes")
        cursor = _Strided(data.reshape(-1, row))
    flags = np.unpackbits(cursor.take(flag_bytes), axis=1, bitorder="big")
    out = []
    for index, (spec, layout) in enumerate(zip(fields, layouts, strict=True)):
        flagged = flags[:, index].astype(np.bool_)
        if layout.variable:
            counts = cursor.take(4).copy().view(">u4")[:, 0].astype(np.int64)
            out.append(
                _variable(spec, layout, cursor.ragged(counts * layout.unit), counts, flagged)
            )
        else:
            out.append(_fixed(spec, layout, cursor.take(layout.width), flagged))
    return out


def _row_starts(raw: bytes, flag_bytes: int, layouts: Sequence[_Layout]) -> Index:
    """Offset of each row: rows with variable cells can only be found one after another."""
    steps: list[int] = []  # fixed bytes before each variable cell's count, then its unit
    fixed = flag_bytes
    for layout in layouts:
        if layout.variable:
            steps += [fixed, layout.unit]
            fixed = 4
        else:
            fixed += layout.width
    tail = fixed
    pairs = list(zip(steps[::2], steps[1::2], strict=True))
    unpack = _COUNT.unpack_from
    starts = array("q")
    pos, end = 0, len(raw)
    try:
        while pos < end:
            starts.append(pos)
            for before, unit in pairs:
                pos += before
                pos += unit * unpack(raw, pos)[0]
            pos += tail
    except struct.error:
        raise Binary2Error(f"the rows end inside a cell (row {len(starts)})") from None
    if pos != end:
        raise Binary2Error(f"the rows end inside row {len(starts)} (byte {end} of {pos})")
    return np.frombuffer(starts, dtype=np.int64) if starts else np.zeros(0, np.int64)


class _Strided:
    """Cells of fixed-width rows: column slices of the row matrix."""

    def __init__(self, rows: Bytes) -> None:
        self.rows = rows
        self.at = 0

    def take(self, width: int) -> Bytes:
        # A strided view, not a copy: numpy views it as the cell type since each row's bytes
        # are contiguous, and the conversion to native byte order is the only copy.
        cells = self.rows[:, self.at : self.at + width]
        self.at += width
        return cells

    def ragged(self, lengths: Index) -> tuple[Bytes, Index]:
        del lengths
        raise AssertionError("fixed rows have no variable cells")


class _Gather:
    """Cells of variable-width rows: gathered for all rows from per-row positions."""

    def __init__(self, data: Bytes, starts: Index) -> None:
        self.data = data
        self.pos = starts.copy()

    def take(self, width: int) -> Bytes:
        cells: Bytes = self.data[self.pos[:, None] + np.arange(width)]
        self.pos += width
        return cells

    def ragged(self, lengths: Index) -> tuple[Bytes, Index]:
        """Concatenated payloads of one variable cell per row, and their offsets."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        index = np.repeat(self.pos - offsets[:-1], lengths) + np.arange(offsets[-1])
        self.pos += lengths
        return self.data[index], offsets


def _fixed(
    spec: Binary2Field, layout: _Layout, cells: Bytes, flagged: npt.NDArray[np.bool_]
) -> pa.Array:
    meta = spec.meta
    rows = len(cells)
    if meta.datatype in {"char", "unicodeChar"}:
        units = cells.view(layout.base) if rows else np.zeros((0, layout.count), layout.base)
        zero = units == 0
        lengths = np.where(zero.any(axis=1), zero.argmax(axis=1), layout.count).astype(np.int64)
        take = np.arange(layout.count) < lengths[:, None]
        offsets = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return _text(meta, units[take].astype(layout.base), offsets, flagged)
    if meta.datatype == "boolean":
        return _booleans(meta, cells.reshape(rows, layout.count), flagged)
    if meta.datatype == "bit":
        # The spec puts a scalar bit in the byte's high bit; astropy writes 0x08 (and reads only
        # that bit back): any set bit is true, so both writers' bytes read as meant.
        return pa.array(cells[:, 0] != 0, mask=_mask(flagged))
    values = (
        cells.view(layout.base).astype(layout.base[-2:])
        if rows
        else np.zeros((0, layout.count), layout.base[-2:])
    )
    if meta.datatype == "unsignedByte" and meta.arraysize not in {None, "1"}:
        return pa.array(list(map(bytes, values)), pa.binary(layout.count), mask=_mask(flagged))
    nulls = _element_nulls(values, spec.null)
    if meta.arraysize in {None, "1"} and meta.datatype not in {"floatComplex", "doubleComplex"}:
        return pa.array(values[:, 0], mask=_mask(flagged | nulls[:, 0]))
    row_null = flagged | nulls.all(axis=1) if layout.count else flagged
    child = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(child, layout.count, mask=pa.array(row_null))


def _variable(
    spec: Binary2Field,
    layout: _Layout,
    payload: tuple[Bytes, Index],
    counts: Index,
    flagged: npt.NDArray[np.bool_],
) -> pa.Array:
    meta = spec.meta
    data, byte_offsets = payload
    if meta.datatype in {"char", "unicodeChar"}:
        return _text(
            meta,
            data.view(layout.base) if len(data) else data,
            byte_offsets // layout.unit,
            flagged,
        )
    offsets = pa.array(byte_offsets // layout.unit, pa.int64())
    if meta.datatype == "unsignedByte":
        binary = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(counts), [None, offsets.buffers()[1], pa.py_buffer(data)]
        )
        return _masked(binary.cast(pa.binary()), flagged)
    if meta.datatype == "boolean":
        codes = data
        truth = np.isin(codes, _TRUE)
        bad = ~(truth | np.isin(codes, _FALSE) | np.isin(codes, _NULL_BOOL))
        if bad.any():
            raise Binary2Error(f"invalid boolean byte {int(codes[bad][0])} in {meta.name!r}")
        child = pa.array(truth, mask=_mask(np.isin(codes, _NULL_BOOL)))
    else:
        values = (
            data.view(layout.base).astype(layout.base[-2:])
            if len(data)
            else np.zeros(0, layout.base[-2:])
        )
        if values.dtype.kind == "f":
            child = pa.array(values)  # NaN elements stay NaN, as astropy gives them
        else:
            child = pa.array(values, mask=_mask(_element_nulls(values, spec.null)))
    lists = pa.LargeListArray.from_arrays(offsets, child)
    return _masked(lists.cast(pa.list_(child.type)), flagged)


def _element_nulls(values: npt.NDArray[np.generic], null: int | None) -> npt.NDArray[np.bool_]:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=np.bool_)
    if null is None:
        return np.zeros(values.shape, dtype=np.bool_)
    return np.asarray(values == null, dtype=np.bool_)


def _booleans(meta: ColumnInfo, codes: Bytes, flagged: npt.NDArray[np.bool_]) -> pa.Array:
    truth = np.isin(codes, _TRUE)
    unknown = np.isin(codes, _NULL_BOOL)
    bad = ~(truth | unknown | np.isin(codes, _FALSE))
    if bad.any():
        raise Binary2Error(f"invalid boolean byte {int(codes[bad][0])} in {meta.name!r}")
    if meta.arraysize in {None, "1"}:
        return pa.array(truth[:, 0], mask=_mask(flagged | unknown[:, 0]))
    child = pa.array(truth.reshape(-1), mask=_mask(unknown.reshape(-1)))
    row_null = flagged | unknown.all(axis=1)
    return pa.FixedSizeListArray.from_arrays(child, codes.shape[1], mask=pa.array(row_null))


def _text(
    meta: ColumnInfo, units: npt.NDArray[np.generic], offsets: Index, flagged: npt.NDArray[np.bool_]
) -> pa.Array:
    """Strings from concatenated code units (bytes for char, UCS-2 for unicodeChar)."""
    if meta.datatype == "unicodeChar":
        units, offsets = _ucs2_to_utf8(np.asarray(units, dtype=">u2"), offsets)
    raw = np.ascontiguousarray(units, dtype=np.uint8)
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(raw)],
    )
    try:
        text = binary.cast(pa.large_string()).cast(pa.string())
    except pa.ArrowInvalid:
        # Not UTF-8 (a char cell in some other 8-bit encoding): keep the row, mark the bytes.
        items = [b.decode("utf-8", "replace") for b in binary.to_pylist()]
        text = pa.array(items, pa.string())
    return _masked(text, flagged)


def _ucs2_to_utf8(units: npt.NDArray[np.generic], offsets: Index) -> tuple[Bytes, Index]:
    """UTF-8 bytes and byte offsets of UCS-2 strings (offsets in code units)."""
    text = units.astype(">u2").tobytes().decode("utf-16-be", "replace").encode("utf-8")
    code = np.asarray(units, dtype=np.int64)
    size = np.where(code < 0x80, 1, np.where(code < 0x800, 2, 3))
    high = (code >= 0xD800) & (code < 0xDC00)
    low = (code >= 0xDC00) & (code < 0xE000)
    paired = high[:-1] & low[1:] if len(code) > 1 else np.zeros(0, np.bool_)
    # A surrogate pair is 4 UTF-8 bytes (2 + 2); a lone surrogate becomes U+FFFD (3 bytes).
    size[:-1][paired] = 2
    size[1:][paired] = 2
    ends = np.concatenate([[0], np.cumsum(size)])
    if ends[-1] != len(text):  # a pair split across two cells: decode cell by cell
        raw = units.astype(">u2").tobytes()
        cells = [
            raw[2 * a : 2 * b].decode("utf-16-be", "replace").encode()
            for a, b in itertools.pairwise(offsets.tolist())
        ]
        lengths = np.array([len(c) for c in cells], dtype=np.int64)
        out = np.zeros(len(cells) + 1, dtype=np.int64)
        np.cumsum(lengths, out=out[1:])
        return np.frombuffer(b"".join(cells), dtype=np.uint8), out
    return np.frombuffer(text, dtype=np.uint8), ends[offsets].astype(np.int64)


def _mask(nulls: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_] | None:
    return nulls if nulls.any() else None


def _masked(values: pa.Array, flagged: npt.NDArray[np.bool_]) -> pa.Array:
    if not flagged.any():
        return values
    return pc.if_else(pa.array(flagged), pa.nulls(len(values), values.type), values)
