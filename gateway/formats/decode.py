"""Backend answers -> column metadata + an Arrow table, by ``BackendRequest.response_format``.

Each decoder takes the whole body as one buffer: big answers (the HSC SMC page is 85 MB of
CSV) are parsed by pyarrow's multi-threaded CSV reader in one pass straight from that buffer,
so no per-row Python objects exist. JSON and ``.npy`` answers are small by nature (metadata,
spectra) and are converted column by column.

Two failure kinds, both turned into :class:`gateway.errors.BackendError` by the executor:
:class:`DecodeError` (the body is not a readable document of the format: malformed or cut
short) and :class:`ServiceError` (a readable document in which the service reports an error,
for instance ``QUERY_STATUS=ERROR`` in an HTTP 200 VOTable, as DaCHS sends).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from gateway.formats.arrow_types import (
    UnsupportedTypeError,
    arrow_type_from_meta,
    column_meta_from_arrow,
)
from gateway.formats.columns import from_votable
from gateway.formats.decode_votable import (
    Decoded,
    DecodeError,
    ServiceError,
    decode_votable,
    votable_error_message,
)
from gateway.formats.parquet_writer import COLUMNS_KEY
from planners.sql_catalog import ColumnInfo

__all__ = [
    "CsvSlices",
    "DecodeError",
    "Decoded",
    "ServiceError",
    "decode",
    "decode_csv",
    "decode_json",
    "decode_npy",
    "decode_parquet",
    "decode_votable",
    "error_text",
    "is_csv",
]

Body = bytes | bytearray | memoryview

_INTEGERS: Final = frozenset({"unsignedByte", "short", "int", "long"})
_JSON_TYPES: Final[dict[str, pa.DataType]] = {
    "char": pa.string(),
    "string": pa.string(),
    "unicodeChar": pa.string(),
    "boolean": pa.bool_(),
    "unsignedByte": pa.int16(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
}
# The legacy Data Lab service answers HTTP 200 with these texts instead of a table (A.1).
_TEXT_ERRORS: Final = (b"Param Error", b"Error:")
_SNIPPET: Final = 300
CSV_SLICE_BYTES: Final = 8 << 20
"""Large CSV answers are parsed in line-aligned slices of about this size (bounded memory)."""
# Parses slices of answers still arriving (CsvSlices); Arrow's reader releases the GIL.
_SLICE_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="csv-slices")


def decode(data: Body, response_format: str, expected: Sequence[ColumnInfo] = ()) -> Decoded:
    """Decode one answer body.

    Parameters
    ----------
    data
        The complete body.
    response_format
        ``csv``, ``votable``, ``json``, ``npy`` or ``parquet``, or their MIME types
        (``BackendRequest.response_format``).
    expected
        The columns the planner expects; their types drive CSV parsing and their metadata
        (unit, UCD, description) is attached to matching columns.

    Returns
    -------
    Decoded
        Columns, table and the overflow flag.

    Raises
    ------
    DecodeError
        Unreadable body, or an unknown format.
    ServiceError
        The document reports an error.
    """
    fmt = response_format.split(";", maxsplit=1)[0].strip().lower()
    if is_csv(fmt):
        return decode_csv(data, expected)
    if fmt in {"votable", "xml", "application/x-votable+xml", "text/xml"}:
        return _with_expected(decode_votable(data), expected)
    if fmt in {"json", "application/json"}:
        return _with_expected(decode_json(data), expected)
    if fmt in {"npy", "numpy"}:
        return decode_npy(data)
    if fmt in {"parquet", "application/vnd.apache.parquet", "application/x-parquet"}:
        return _with_expected(decode_parquet(data), expected)
    raise DecodeError(f"unknown response format {response_format!r}")


# ---------------------------------------------------------------------------------------- CSV


def is_csv(response_format: str) -> bool:
    """True when ``response_format`` (a name or MIME type, parameters allowed) means CSV."""
    return response_format.split(";", maxsplit=1)[0].strip().lower() in {"csv", "text/csv"}


def _arrow_type(info: ColumnInfo) -> pa.DataType | None:
    """The Arrow type a CSV cell of ``info`` parses to; None lets Arrow infer it."""
    if info.datatype in {"char", "unicodeChar"}:
        return pa.string()  # "26" in run2d stays text, whatever it looks like
    if info.datatype is None or info.arraysize is not None:
        return None  # arrays and geometry arrive as text in CSV
    try:
        return arrow_type_from_meta(ColumnInfo(info.name, info.datatype, xtype=info.xtype))
    except UnsupportedTypeError:
        return None


def _csv_convert(types: Mapping[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=dict(types),
        # HSC writes NULL as an empty cell whatever the type; a quoted "" stays a string.
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def _csv_slice(
    data: pa.Buffer, header: list[str] | None, convert: pacsv.ConvertOptions
) -> pa.Table:
    """One slice of whole lines; ``header`` names the columns of slices after the first."""
    options = pacsv.ReadOptions() if header is None else pacsv.ReadOptions(column_names=header)
    return pacsv.read_csv(pa.BufferReader(data), read_options=options, convert_options=convert)


def _csv_read(data: Body, types: Mapping[str, pa.DataType]) -> pa.Table:
    convert = _csv_convert(types)
    header = _csv_header(data)
    if (
        isinstance(data, memoryview)
        or len(data) < 2 * CSV_SLICE_BYTES
        or any(name not in types for name in header)
        or b'"' in data
    ):
        return pacsv.read_csv(pa.BufferReader(pa.py_buffer(data)), convert_options=convert)
    # pyarrow's reader holds about 2.7 times the body in parse buffers until it returns (230
    # MiB for the 85 MB SMC answer); slices cut at line ends bound that to a few slices. Only
    # when every column is typed (slices cannot infer differently) and nothing is quoted (a
    # line end inside quotes is no row end).
    buffer = pa.py_buffer(data)
    parts, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + CSV_SLICE_BYTES)
        end = len(data) if end < 0 else end + 1
        named = None if start == 0 else header
        parts.append(_csv_slice(buffer.slice(start, end - start), named, convert))
        start = end
    return pa.concat_tables(parts)


def _csv_types(header: Sequence[str], expected: Sequence[ColumnInfo]) -> dict[str, pa.DataType]:
    """Arrow types of the header's columns that ``expected`` types (by case-insensitive name)."""
    by_name = {c.name.lower(): c for c in expected}
    return {
        name: t
        for name in header
        if (info := by_name.get(name.lower())) is not None and (t := _arrow_type(info)) is not None
    }


class CsvSlices:
    """Parse a CSV answer in slices while its body is still arriving.

    The executor calls :meth:`feed` with the body received so far after every chunk; each
    time about :data:`CSV_SLICE_BYTES` of whole lines are new, they are parsed on a worker
    thread, so parsing overlaps the transfer. :meth:`finish` parses the rest and returns what
    :func:`decode_csv` would (it *is* :func:`decode_csv` on the whole body whenever slices
    cannot be used: a column without a type, a quote anywhere, a slice that failed to parse).
    """

    def __init__(self, expected: Sequence[ColumnInfo]) -> None:
        self._expected = tuple(expected)
        self._header: list[str] | None = None
        self._convert: pacsv.ConvertOptions | None = None
        self._parsed = 0
        self._parts: list[Future[pa.Table]] = []
        self._usable = True
        self._taken = 0
        self._closed = False
        self.on_part: Callable[[], None] | None = None
        """Told (on the caller's thread) whenever a slice is submitted or the body ends."""

    def restart(self) -> None:
        """Forget what was fed: a new attempt of the request sends the body again.

        Raises
        ------
        RuntimeError
            When slices were already taken (:meth:`take`): sending them again would
            duplicate rows downstream.
        """
        if self._taken:
            msg = "a CSV answer whose slices were handed on cannot be restarted"
            raise RuntimeError(msg)
        for part in self._parts:
            part.cancel()
        self._header, self._convert, self._parsed, self._parts = None, None, 0, []
        self._usable = True

    def feed(self, body: bytearray) -> None:
        """Start parsing the whole lines of ``body`` past the last slice, if enough arrived."""
        if not self._usable or len(body) - self._parsed < CSV_SLICE_BYTES:
            return
        if self._header is None and not self._start(body):
            return
        end = body.rfind(b"\n", self._parsed)
        if end < 0 or end + 1 - self._parsed < CSV_SLICE_BYTES:
            return
        # A copy: the growing bytearray may move, and Arrow must not see it change.
        piece = bytes(body[self._parsed : end + 1])
        if b'"' in piece:
            self._usable = False
            return
        named = self._header if self._parsed else None
        assert self._convert is not None
        self._parts.append(
            _SLICE_POOL.submit(_csv_slice, pa.py_buffer(piece), named, self._convert)
        )
        self._parsed = end + 1
        if self.on_part is not None:
            self.on_part()

    # ------------------------------------------------------------------ streaming

    def peek(self) -> Future[pa.Table] | None:
        """The first slice's parse while none was taken (None before it is submitted)."""
        return self._parts[0] if self._parts and not self._taken else None

    def take(self) -> Future[pa.Table] | None:
        """The next slice not yet taken, in order; the first call commits to streaming.

        Once a slice is taken, :meth:`finish` is no longer allowed: the body's end must be
        passed to :meth:`close` and the last slice taken from here too.
        """
        if self._taken >= len(self._parts):
            return None
        part = self._parts[self._taken]
        # Dropped here: the consumer holds the rows it still needs, nobody else does.
        self._parts[self._taken] = _DONE
        self._taken += 1
        return part

    @property
    def taken(self) -> bool:
        """True once a slice was handed on (the answer is streamed, not decoded whole)."""
        return self._taken > 0

    @property
    def closed(self) -> bool:
        """True once :meth:`close` submitted the last slice."""
        return self._closed

    def close(self, body: Body) -> None:
        """Submit the lines after the last slice (quotes allowed) once ``body`` is complete.

        Only for a streamed answer (:attr:`taken`): the rest starts at a line after quote-free
        slices, so it starts a record and a CSV parse of it alone is right.
        """
        assert self._header is not None
        assert self._convert is not None
        rest = bytes(body[self._parsed :])
        if rest.strip():
            self._parts.append(
                _SLICE_POOL.submit(_csv_slice, pa.py_buffer(rest), self._header, self._convert)
            )
        self._parsed = len(body)
        self._closed = True
        if self.on_part is not None:
            self.on_part()

    def _start(self, body: bytearray) -> bool:
        if b"\n" not in body[:65536]:
            self._usable = False
            return False
        header = _csv_header(body)
        types = _csv_types(header, self._expected)
        if bytes(body[:64]).lstrip().startswith(_TEXT_ERRORS) or len(types) < len(header):
            self._usable = False
            return False
        self._header, self._convert = header, _csv_convert(types)
        return True

    def finish(self, body: Body) -> Decoded:
        """The decoded answer; ``body`` is the whole body (the one fed, complete).

        Raises
        ------
        DecodeError, ServiceError
            As :func:`decode_csv`.
        """
        if self._taken:
            msg = "a CSV answer whose slices were handed on ends with close(), not finish()"
            raise RuntimeError(msg)
        rest = bytes(body[self._parsed :])
        table = None
        if self._usable and self._parts and b'"' not in rest:
            table = self._join(pa.py_buffer(rest))
        if table is None:
            return decode_csv(body, self._expected)
        return _with_expected(Decoded(_metas(table), table), self._expected)

    def _join(self, rest: pa.Buffer) -> pa.Table | None:
        """The slices and ``rest`` as one table; None if a slice failed (then parse whole)."""
        assert self._convert is not None
        try:
            tables = [part.result() for part in self._parts]
            if rest.size:
                tables.append(_csv_slice(rest, self._header, self._convert))
            return pa.concat_tables(tables)
        except pa.ArrowInvalid:
            return None


_DONE: Final[Future[pa.Table]] = Future()
"""Stands in for a slice already taken (its rows belong to the consumer)."""


def slice_columns(table: pa.Table, expected: Sequence[ColumnInfo]) -> tuple[ColumnInfo, ...]:
    """The column metadata :meth:`CsvSlices.finish` would give for rows like ``table``'s."""
    return _with_expected(Decoded(_metas(table), table), expected).columns


def decode_csv(data: Body, expected: Sequence[ColumnInfo] = ()) -> Decoded:
    """Read a CSV answer whose first line names the columns.

    Types come from ``expected`` where known (by case-insensitive name), else Arrow infers
    them. An integer column whose values do not fit ``int64`` (unsigned specobjids) is read
    as ``uint64`` instead of failing.
    """
    head = bytes(data[:64]).lstrip()
    if not head:
        raise DecodeError("empty body where a CSV table was expected")
    if head.startswith(_TEXT_ERRORS):
        raise ServiceError(_snippet(data))
    types = _csv_types(_csv_header(data), expected)
    try:
        table = _csv_read(data, types)
    except pa.ArrowInvalid as error:
        table = _csv_retry_unsigned(data, types, error)
    # An all-empty column of unknown type comes back as Arrow's null type: make it text.
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return _with_expected(Decoded(_metas(table), table), expected)


def _csv_header(data: Body) -> list[str]:
    end = bytes(data[:65536]).find(b"\n")
    line = bytes(data[: end if end >= 0 else 65536]).decode("utf-8", "replace").rstrip("\r")
    return [name.strip().strip('"') for name in line.split(",")]


def _csv_retry_unsigned(
    data: Body, types: Mapping[str, pa.DataType], error: pa.ArrowInvalid
) -> pa.Table:
    """Second pass when a typed integer column overflowed: read integers as text, then cast."""
    wide = [name for name, t in types.items() if pa.types.is_integer(t)]
    if not wide or "conversion error" not in str(error):
        raise DecodeError(f"malformed CSV: {error}") from error
    try:
        table = _csv_read(data, {**types, **dict.fromkeys(wide, pa.string())})
        for name in wide:
            i = table.schema.get_field_index(name)
            try:
                column = table.column(i).cast(types[name])
            except pa.ArrowInvalid:
                column = table.column(i).cast(pa.uint64())
            table = table.set_column(i, name, column)
    except pa.ArrowInvalid as second:
        raise DecodeError(f"malformed CSV: {second}") from second
    return table


# ---------------------------------------------------------------------------------------- JSON


def decode_json(data: Body) -> Decoded:
    """Read a JSON answer: HSC ``{info, data}``, ``{data: [{...}]}``, or Data Lab shapes.

    Data Lab shapes: a list of records (SPARCL ``find`` puts a header/status object first; it
    is dropped), or one flat object of scalars (``/listSpan``'s ``{"w0": .., "w1": ..}``), which
    becomes a one-row table.
    """
    try:
        doc = json.loads(bytes(data))
    except (UnicodeDecodeError, ValueError) as error:
        raise DecodeError(f"malformed JSON: {error}") from error
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        raise ServiceError(doc["error"])
    if isinstance(doc, dict) and "info" in doc and isinstance(doc.get("data"), list):
        return _json_info_rows(doc["info"], doc["data"])
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        return _json_records(doc["data"])
    if isinstance(doc, list):
        records = list(doc)
        if len(records) > 1 and isinstance(records[0], dict) and _is_header(records):
            records = records[1:]
        return _json_records(records)
    if isinstance(doc, dict) and all(not isinstance(v, dict | list) for v in doc.values()):
        return _json_records([doc])
    raise DecodeError("JSON answer of an unknown shape (expected a table)")


def _is_header(records: list[Any]) -> bool:
    first, rest = records[0], records[1:]
    return "status" in first or (
        "_dr" not in first and all(isinstance(r, dict) and "_dr" in r for r in rest)
    )


def _json_info_rows(info: Any, rows: list[Any]) -> Decoded:
    if not isinstance(info, list) or not all(isinstance(i, dict) for i in info):
        raise DecodeError("JSON 'info' must be a list of column descriptions")
    names = [str(i.get("name", i.get("column_name", f"col{k}"))) for k, i in enumerate(info)]
    if any(not isinstance(r, list) or len(r) != len(names) for r in rows):
        raise DecodeError(f"JSON rows must be lists of {len(names)} values")
    arrays = []
    for k, item in enumerate(info):
        target = _JSON_TYPES.get(str(item.get("type", "")))
        arrays.append(_json_array([r[k] for r in rows], target, names[k]))
    table = pa.Table.from_arrays(arrays, names=names)
    metas = _metas(table)
    described = [
        ColumnInfo(**{**_meta_dict(m), "description": i.get("description") or None})
        for m, i in zip(metas, info, strict=True)
    ]
    return Decoded(tuple(described), table)


def _json_records(records: list[Any]) -> Decoded:
    if not all(isinstance(r, dict) for r in records):
        raise DecodeError("JSON records must be objects")
    names = list(dict.fromkeys(k for r in records for k in r))
    arrays = [_json_array([r.get(n) for r in records], None, n) for n in names]
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    return Decoded(_metas(table), table)


def _json_array(values: list[Any], target: pa.DataType | None, name: str) -> pa.Array:
    if target is not None and pa.types.is_integer(target):
        # Big integers may come as strings (PanSTARRS objID); int() keeps them exact.
        values = [int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v for v in values]
    try:
        array = pa.array(values, type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise DecodeError(f"JSON column {name!r}: {error}") from error
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array


# ---------------------------------------------------------------------------------------- Parquet


def decode_parquet(data: Body) -> Decoded:
    """Read a Parquet answer (a TAP service that offers it; our own gateway does).

    The columns' VOTable descriptions come from the schema's ``adql_gateway.columns`` JSON when
    the writer is an adql-gateway, else from the Arrow types and field metadata; the footer's
    ``QUERY_STATUS`` tells overflow or an error.
    """
    try:
        file = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        table = file.read()
    except (pa.ArrowException, OSError) as error:
        raise DecodeError(f"malformed or truncated Parquet: {error}") from error
    footer = {k.decode(): v.decode() for k, v in (file.metadata.metadata or {}).items()}
    status = footer.get("QUERY_STATUS", "OK").upper()
    if status == "ERROR":
        raise ServiceError(footer.get("QUERY_STATUS_TEXT") or "QUERY_STATUS=ERROR in Parquet")
    columns = _metas(table)
    described = (table.schema.metadata or {}).get(COLUMNS_KEY.encode())
    if described:
        try:
            given = tuple(from_votable(ColumnInfo(**e)) for e in json.loads(described))
        except (TypeError, ValueError) as error:
            raise DecodeError(f"Parquet column descriptions unreadable: {error}") from error
        if [c.name for c in given] == table.column_names:
            columns = given
    return Decoded(columns, table, status == "OVERFLOW")


# ---------------------------------------------------------------------------------------- npy


def decode_npy(data: Body) -> Decoded:
    """Read a ``.npy`` answer (``numpy.save``, never pickles).

    A structured array gives one column per field; a 2-D array (aligned spectra, one per row)
    gives fixed-size list columns, one row per spectrum.
    """
    try:
        array = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DecodeError(f"malformed .npy: {error}") from error
    array = np.atleast_1d(array)
    fields = array.dtype.names or ()
    parts = {name: array[name] for name in fields} if fields else {"value": array}
    columns: dict[str, pa.Array] = {}
    for name, part in parts.items():
        # Arrow takes native byte order only; .npy files may carry either.
        values = np.ascontiguousarray(part, dtype=part.dtype.newbyteorder("="))
        if values.ndim == 1:
            columns[name] = pa.array(values)
        else:
            width = int(np.prod(values.shape[1:]))
            flat = pa.array(values.reshape(-1))
            columns[name] = pa.FixedSizeListArray.from_arrays(flat, width)
    table = pa.table(columns)
    return Decoded(_metas(table), table)


# ---------------------------------------------------------------------------------------- helpers


def _meta_dict(meta: ColumnInfo) -> dict[str, Any]:
    return {f: getattr(meta, f) for f in ColumnInfo.__dataclass_fields__}


def _metas(table: pa.Table) -> tuple[ColumnInfo, ...]:
    """Column metadata from the Arrow schema (text for what VOTable cannot type)."""
    out = []
    for field in table.schema:
        try:
            out.append(column_meta_from_arrow(field))
        except UnsupportedTypeError:
            out.append(ColumnInfo(field.name, "char", arraysize="*"))
    return tuple(out)


def _with_expected(decoded: Decoded, expected: Sequence[ColumnInfo]) -> Decoded:
    """Fill descriptive metadata the document lacks from the planner's expected columns."""
    if not expected:
        return decoded
    by_name = {c.name.lower(): c for c in expected}
    columns = []
    for given_meta in decoded.columns:
        meta = given_meta
        info = by_name.get(meta.name.lower())
        if info is not None:
            given = _meta_dict(meta)
            extra = {
                k: v
                for k in ("xtype", "unit", "ucd", "utype", "description")
                if given[k] is None and (v := getattr(info, k)) is not None
            }
            meta = ColumnInfo(**{**given, **extra})
        columns.append(meta)
    return Decoded(tuple(columns), decoded.table, decoded.overflow)


def _snippet(data: Body) -> str:
    text = bytes(data[: _SNIPPET * 4]).decode("utf-8", "replace")
    return re.sub(r"\s+", " ", text).strip()[:_SNIPPET]


def error_text(data: Body, content_type: str) -> str:
    """The service's own message in an error body (DALI VOTable, JSON ``error``, or text)."""
    head = bytes(data[:256]).lstrip()
    if head.startswith(b"<") and b"QUERY_STATUS" in bytes(data[:65536]):
        message = votable_error_message(data)
        if message:
            return message
    if "json" in content_type or head.startswith(b"{"):
        try:
            doc = json.loads(bytes(data))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if isinstance(doc, dict):
            for key in ("error", "detail", "message", "msg"):
                if isinstance(doc.get(key), str):
                    return str(doc[key])
    return _snippet(data) or "(empty body)"
