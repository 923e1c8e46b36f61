"""Mapping between Arrow data types and column metadata (:class:`ColumnInfo`).

Results travel through the gateway as Arrow record batches; clients see VOTable FIELDs. This
module is the single place that decides how one becomes the other, in both directions, and
how an Arrow column is coerced to the type its metadata declares before it is written.

Choices worth knowing:

- VOTable has no signed byte, so ``int8`` widens to ``short``; unsigned types widen to the next
  signed type (``uint16`` -> ``int``, ``uint32`` -> ``long``).
- VOTable has no unsigned 64-bit type either, and ``long`` cannot hold values >= 2**63 (astropy
  silently clamps them to 2**63-1). Ids that use all 64 bits (SDSS ``specobjid``) are the
  unsigned numbers users copy from SDSS, so a ``uint64`` column is a ``long`` with
  ``xtype="uint64"``, declared to clients as ``char`` holding the unsigned decimal text
  (:func:`gateway.formats.columns.to_votable`): exact in every reader (pyvo/astropy give the text,
  ``int()`` gives the number), and read back as ``uint64`` by the gateway (TAP backends,
  uploads). Never as the negative signed view, which users would copy back into a query that
  then finds nothing. Arrays of ``uint64`` map to plain ``long``.
- Arrow strings map to ``char`` with ``arraysize="*"``. VOTable 1.4 calls ``char`` ASCII;
  our writers put non-ASCII text into ``char`` cells as UTF-8 bytes (what VOTable 1.5 makes
  official) so nothing is lost. Pass ``datatype="unicodeChar"`` when the metadata must promise
  Unicode to 1.4-only readers (astropy decodes BINARY2 ``char`` strictly as ASCII).
- Timestamps and dates become DALI ``timestamp`` text (``char``, ``*``, ``xtype="timestamp"``);
  the reverse mapping keeps such columns as strings, so an uploaded timestamp round-trips its
  exact text.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.columns import from_votable, is_uint64
from planners.sql_catalog import UINT64_XTYPE, ColumnInfo

__all__ = [
    "UnsupportedTypeError",
    "array_shape",
    "arrow_type_from_meta",
    "coerce_array",
    "column_meta_from_arrow",
    "field_metadata",
    "meta_as_json",
    "metadata_json",
    "votable_type",
]

_SCALARS: Final[dict[pa.DataType, str]] = {
    pa.bool_(): "boolean",
    pa.int8(): "short",
    pa.int16(): "short",
    pa.int32(): "int",
    pa.int64(): "long",
    pa.uint8(): "unsignedByte",
    pa.uint16(): "int",
    pa.uint32(): "long",
    pa.uint64(): "long",
    pa.float16(): "float",
    pa.float32(): "float",
    pa.float64(): "double",
}

_ARROW_OF: Final[dict[str, pa.DataType]] = {
    "boolean": pa.bool_(),
    "bit": pa.bool_(),
    "unsignedByte": pa.uint8(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
}

# ColumnInfo attributes carried in Arrow field metadata (Parquet output, local tables), so
# that units and descriptions survive a trip through Arrow.
_DESCRIPTIVE: Final = ("xtype", "unit", "ucd", "utype", "description")


class UnsupportedTypeError(TypeError, ValueError):
    """An Arrow type or VOTable datatype that has no counterpart on the other side."""


def column_meta_from_arrow(field: pa.Field, **overrides: Any) -> ColumnInfo:
    """Describe an Arrow field as a VOTable column.

    Parameters
    ----------
    field
        The Arrow field; its name and nullability are used, and descriptive keys of its
        metadata (``xtype``, ``unit``, ``ucd``, ``utype``, ``description``) when present.
    **overrides
        Any :class:`ColumnInfo` attribute, taking precedence (e.g. ``xtype="point"`` for a
        ``fixed_size_list<double>[2]`` column).

    Returns
    -------
    ColumnInfo
        The column description.

    Raises
    ------
    UnsupportedTypeError
        For nested lists, structs, maps and other types VOTable cannot carry.
    """
    datatype, arraysize, xtype = votable_type(field.type)
    values: dict[str, Any] = {
        "name": field.name,
        "datatype": datatype,
        "arraysize": arraysize,
        "xtype": xtype,
        "nullable": field.nullable,
    }
    for key, raw in (field.metadata or {}).items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name in _DESCRIPTIVE:
            values[name] = raw.decode() if isinstance(raw, bytes) else str(raw)
    values.update(overrides)
    return ColumnInfo(**values)


def votable_type(dtype: pa.DataType) -> tuple[str, str | None, str | None]:
    """VOTable ``(datatype, arraysize, xtype)`` for an Arrow type.

    Raises
    ------
    UnsupportedTypeError
        For nested lists, structs, maps and other types VOTable cannot carry.
    """
    if pa.types.is_dictionary(dtype):
        return votable_type(dtype.value_type)
    if pa.types.is_uint64(dtype):
        return "long", None, UINT64_XTYPE
    if dtype in _SCALARS:
        return _SCALARS[dtype], None, None
    if pa.types.is_decimal(dtype):
        return "double", None, None
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_null(dtype):
        return "char", "*", None
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return "char", "*", "timestamp"
    if pa.types.is_time(dtype):
        return "char", "*", None
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "unsignedByte", "*", None
    if pa.types.is_fixed_size_binary(dtype):
        return "unsignedByte", str(dtype.byte_width), None
    if pa.types.is_fixed_size_list(dtype) or _is_var_list(dtype):
        inner = dtype.value_type
        if inner not in _SCALARS:
            raise UnsupportedTypeError(f"arrays of {inner} have no VOTable datatype")
        size = str(dtype.list_size) if pa.types.is_fixed_size_list(dtype) else "*"
        return _SCALARS[inner], size, None
    raise UnsupportedTypeError(f"Arrow type {dtype} has no VOTable datatype")


def _is_var_list(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_list(dtype) or pa.types.is_large_list(dtype))


def array_shape(arraysize: str | None) -> tuple[int | None, bool]:
    """Element count and variability of a VOTable arraysize.

    Parameters
    ----------
    arraysize
        VOTable text such as ``None``, ``"2"``, ``"*"``, ``"10*"`` or ``"2x3"``.

    Returns
    -------
    tuple of (int or None, bool)
        ``(count, variable)``: ``count`` is the fixed element count (product of the
        dimensions), or the bound of a bounded variable array, or None for ``"*"``/scalars;
        ``variable`` tells whether cells carry a length prefix.
    """
    if arraysize is None:
        return None, False
    variable = arraysize.endswith("*")
    count = 1
    for dim in arraysize.removesuffix("*").split("x"):
        if dim:
            count *= int(dim)
        elif not variable:
            raise ValueError(f"bad VOTable arraysize {arraysize!r}")
    bounded = variable and arraysize.removesuffix("*").isdigit()
    return (count if (bounded or not variable) else None), variable


def arrow_type_from_meta(meta: ColumnInfo) -> pa.DataType:
    """Arrow type that holds the values of a VOTable column.

    Parameters
    ----------
    meta
        The column description.

    Returns
    -------
    pyarrow.DataType
        ``uint64`` for unsigned 64-bit ids (``long`` or declared ``char``, ``xtype="uint64"``),
        strings for ``char``/``unicodeChar`` and unknown datatypes, ``binary`` for variable
        ``unsignedByte`` arrays, ``fixed_size_binary`` for fixed ones, ``fixed_size_list`` for
        other fixed arrays (multi-dimensional arrays flattened), ``list`` for variable ones.
        Complex numbers become fixed-size lists of their (real, imaginary) parts.

    Raises
    ------
    UnsupportedTypeError
        For an unknown datatype or an array of ``bit``.
    """
    if is_uint64(from_votable(meta)):  # the ids, whether in our terms or as declared
        return pa.uint64()
    datatype = meta.datatype
    count, variable = array_shape(meta.arraysize)
    if datatype is None or datatype in {"char", "unicodeChar"}:  # unknown types are text
        return pa.string()
    if datatype in {"floatComplex", "doubleComplex"}:
        part = pa.float32() if datatype == "floatComplex" else pa.float64()
        scalar = pa.list_(part, 2)
        if meta.arraysize is None:
            return scalar
        raise UnsupportedTypeError(f"arrays of {datatype} are not supported ({meta.name})")
    if datatype not in _ARROW_OF:
        raise UnsupportedTypeError(f"unknown VOTable datatype {datatype!r} ({meta.name})")
    element = _ARROW_OF[datatype]
    if meta.arraysize is None:
        return element
    if datatype == "bit":
        raise UnsupportedTypeError(f"bit arrays are not supported ({meta.name})")
    if datatype == "unsignedByte":
        return pa.binary(count) if not variable and count is not None else pa.binary()
    if variable or count is None:
        return pa.list_(element)
    return pa.list_(element, count)


def coerce_array(array: pa.Array | pa.ChunkedArray, meta: ColumnInfo) -> pa.Array:
    """Convert a column to the Arrow type its metadata declares.

    Timestamps and dates become DALI text (``YYYY-MM-DDThh:mm:ss[.fff]``, no zone) so that
    a ``char`` column with ``xtype="timestamp"`` can be written from an Arrow timestamp;
    for a ``uint64`` column (``xtype="uint64"``) signed 64-bit values are taken as the
    database's two's-complement view of the unsigned ids and decimal text is parsed; other
    conversions are Arrow's safe casts, so a value that does not fit raises instead of
    being silently wrapped.

    Parameters
    ----------
    array
        The values as produced by the executor.
    meta
        The column description the values must match.

    Returns
    -------
    pyarrow.Array
        A single contiguous array of ``arrow_type_from_meta(meta)``.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    target = arrow_type_from_meta(meta)
    dtype = array.type
    if pa.types.is_dictionary(dtype):
        array = array.dictionary_decode()
        dtype = array.type
    if dtype == target:
        return array
    if pa.types.is_timestamp(dtype) and pa.types.is_string(target):
        return pc.strftime(array, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_date(dtype) and pa.types.is_string(target):
        return pc.strftime(array, format="%Y-%m-%d")
    if pa.types.is_int64(dtype) and pa.types.is_uint64(target):
        # SQL databases store 64-bit unsigned ids as signed bigint (spectro-ids.md A.5).
        return array.view(pa.uint64())
    return array.cast(target)


def field_metadata(meta: ColumnInfo) -> dict[str, str]:
    """Arrow field metadata carrying a column's VOTable description.

    Parameters
    ----------
    meta
        The column description.

    Returns
    -------
    dict of str to str
        ``datatype`` and ``arraysize`` plus whichever of ``xtype``, ``unit``, ``ucd``,
        ``utype``, ``description`` are set; read back by :func:`column_meta_from_arrow`.
    """
    out = {} if meta.datatype is None else {"datatype": meta.datatype}
    if meta.arraysize is not None:
        out["arraysize"] = meta.arraysize
    for name in _DESCRIPTIVE:
        value = getattr(meta, name)
        if value is not None:
            out[name] = str(value)
    return out


def meta_as_json(meta: ColumnInfo) -> dict[str, Any]:
    """Public attributes of a column as a JSON-ready dict, unset ones left out."""
    out: dict[str, Any] = {"name": meta.name, "datatype": meta.datatype}
    for name in ("arraysize", *_DESCRIPTIVE):
        value = getattr(meta, name)
        if value is not None:
            out[name] = value
    return out


def metadata_json(columns: list[ColumnInfo]) -> str:
    """All columns' attributes as compact JSON text (Parquet schema metadata)."""
    return json.dumps([meta_as_json(meta) for meta in columns], separators=(",", ":"))
