"""Reading TAP_UPLOAD tables (VOTable, or CSV with a header) into Arrow.

Uploads are bounded by configured limits, so reading them with astropy.io.votable is fine
(DESIGN.md); the one concern here is turning astropy's masked arrays into Arrow columns of the
types :func:`gateway.formats.arrow_types.arrow_type_from_meta` promises, with masks becoming nulls,
and turning every parse failure into one clear :class:`UploadError`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gateway.errors import UploadError
from gateway.formats.arrow_types import arrow_type_from_meta, column_meta_from_arrow
from gateway.formats.columns import from_votable
from planners.sql_catalog import ColumnInfo

__all__ = [
    "UploadError",
    "VOTableColumnError",
    "declared_column",
    "parse_votable",
    "read_csv_upload",
    "read_upload",
    "read_votable_upload",
    "votable_column_to_arrow",
    "votable_table_to_arrow",
]

_GEOMETRY: Final = frozenset({"point", "circle", "polygon"})


def read_upload(data: bytes, *, max_rows: int) -> tuple[list[ColumnInfo], pa.Table]:
    """Read an upload as VOTable when it looks like XML, else as CSV.

    Parameters
    ----------
    data
        The uploaded bytes.
    max_rows
        Largest number of rows accepted.

    Returns
    -------
    tuple of (list of ColumnInfo, pyarrow.Table)
        Column metadata and the rows.

    Raises
    ------
    UploadError
        When the content cannot be read or has more than ``max_rows`` rows.
    """
    if data.lstrip()[:1] == b"<":
        return read_votable_upload(data.lstrip(), max_rows=max_rows)
    return read_csv_upload(data, max_rows=max_rows)


def parse_votable(data: bytes) -> Any:
    """The astropy VOTableFile of a document (any serialisation), spec nits ignored.

    Uploads and backend answers come from many writers; a readable table must not be rejected
    for a detail of the schema. Whatever astropy raises for a broken document propagates.
    """
    # Imported here: astropy is slow to import and many gateways never read VOTables.
    from astropy.io.votable import parse  # type: ignore[import-untyped]  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse(io.BytesIO(data), verify="ignore")


def read_votable_upload(data: bytes, *, max_rows: int) -> tuple[list[ColumnInfo], pa.Table]:
    """Read the first table of an uploaded VOTable.

    Parameters
    ----------
    data
        The VOTable document (any serialisation astropy reads).
    max_rows
        Largest number of rows accepted.

    Returns
    -------
    tuple of (list of ColumnInfo, pyarrow.Table)
        One :class:`ColumnInfo` per FIELD (name, datatype, arraysize, xtype, unit, ucd,
        utype, description) and the rows, masked cells as nulls. Geometry columns
        (xtype ``point``/``circle``/``polygon``) become ``list<double>``.

    Raises
    ------
    UploadError
        For malformed XML, a document without a table, unsupported datatypes, or more than
        ``max_rows`` rows.
    """
    try:
        table = parse_votable(data).get_first_table()
    except IndexError:
        raise UploadError("the uploaded VOTable contains no TABLE") from None
    except Exception as error:
        raise UploadError(f"the upload is not a readable VOTable: {error}") from error
    array = table.array
    if len(array) > max_rows:
        raise UploadError(f"the upload has {len(array)} rows; the limit is {max_rows}")
    try:
        return votable_table_to_arrow(table)
    except VOTableColumnError as error:
        raise UploadError(f"cannot read upload column {error.column!r}: {error.reason}") from error


def read_csv_upload(data: bytes, *, max_rows: int) -> tuple[list[ColumnInfo], pa.Table]:
    """Read an uploaded CSV file whose first line names the columns.

    Parameters
    ----------
    data
        The CSV bytes (types inferred by Arrow).
    max_rows
        Largest number of rows accepted.

    Returns
    -------
    tuple of (list of ColumnInfo, pyarrow.Table)
        Column metadata derived from the inferred types, and the rows.

    Raises
    ------
    UploadError
        For unreadable CSV or more than ``max_rows`` rows.
    """
    try:
        table = pacsv.read_csv(io.BytesIO(data))
    except pa.ArrowException as error:
        raise UploadError(f"the upload is not readable CSV: {error}") from error
    if table.num_rows > max_rows:
        raise UploadError(f"the upload has {table.num_rows} rows; the limit is {max_rows}")
    return [column_meta_from_arrow(field) for field in table.schema], table


class VOTableColumnError(ValueError):
    """A FIELD of a VOTable whose cells cannot be turned into an Arrow column."""

    def __init__(self, column: str, reason: Exception) -> None:
        super().__init__(f"VOTable column {column!r}: {reason}")
        self.column = column
        """The FIELD's name."""
        self.reason = reason
        """What went wrong converting it."""


def votable_table_to_arrow(table: Any) -> tuple[list[ColumnInfo], pa.Table]:
    """Column metadata and rows of one astropy VOTable TABLE (uploads and backend answers).

    Returns
    -------
    tuple of (list of ColumnInfo, pyarrow.Table)
        One :class:`ColumnInfo` per FIELD (name, datatype, arraysize, xtype, unit, ucd,
        utype, description; in the gateway's terms, see
        :func:`gateway.formats.columns.from_votable`)
        and the rows, masked cells as nulls (see :func:`votable_column_to_arrow`).

    Raises
    ------
    VOTableColumnError
        For the first column that cannot be converted (its cause chained).
    """
    array = table.array
    columns: list[ColumnInfo] = []
    arrays: list[pa.Array] = []
    for field, key in zip(table.fields, array.dtype.names or (), strict=True):
        meta = declared_column(field)
        try:
            arrays.append(votable_column_to_arrow(array[key], meta))
        except (TypeError, ValueError, pa.ArrowException) as error:
            raise VOTableColumnError(field.name, error) from error
        columns.append(from_votable(meta))
    return columns, pa.Table.from_arrays(arrays, names=[meta.name for meta in columns])


def declared_column(field: Any) -> ColumnInfo:
    """An astropy VOTable FIELD as declared (``char`` for unsigned 64-bit ids)."""
    return ColumnInfo(
        name=field.name,
        datatype=field.datatype,
        arraysize=None if field.arraysize in {None, "1"} else field.arraysize,
        xtype=field.xtype,
        unit=str(field.unit) if field.unit is not None else None,
        ucd=field.ucd,
        utype=field.utype,
        description=field.description,
    )


def votable_column_to_arrow(column: Any, meta: ColumnInfo) -> pa.Array:
    """Arrow array of one astropy column (a numpy masked array)."""
    target = arrow_type_from_meta(meta)
    if pa.types.is_uint64(target) and meta.datatype in {"char", "unicodeChar"}:
        # Unsigned 64-bit ids travel as decimal text (gateway.formats.arrow_types): parse it
        # exactly;
        # an empty cell is NULL, as for any number.
        text = votable_column_to_arrow(column, replace(meta, xtype=None))
        return pc.if_else(pc.equal(text, ""), None, text).cast(target)
    if meta.xtype in _GEOMETRY:
        target = pa.list_(pa.float64())
    values = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    if values.dtype == object:
        # Variable-length arrays and strings: one numpy object per row, few rows (limits).
        row_mask = _row_mask(mask)
        items = [
            None if null else _plain(item) for item, null in zip(values, row_mask, strict=True)
        ]
        return pa.array(items, type=target)
    if values.ndim > 1:
        row_mask = _row_mask(mask)
        flat = values.reshape(len(values), _width(values))
        if np.iscomplexobj(flat):
            flat = np.stack([flat.real, flat.imag], axis=-1).reshape(
                len(values), 2 * _width(values)
            )
        child = pa.array(flat.reshape(-1))
        lists = pa.FixedSizeListArray.from_arrays(child, flat.shape[1], mask=pa.array(row_mask))
        return lists.cast(target)
    if np.iscomplexobj(values):
        pairs = np.stack([values.real, values.imag], axis=-1).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(pairs), 2, mask=pa.array(mask)).cast(
            target
        )
    if values.dtype.kind in "US":
        values = values.astype(str)
    return pa.array(values, mask=_bool_mask(mask), type=target)


def _plain(item: Any) -> Any:
    """A Python value Arrow converts to the column type (text, bytes or a list of numbers)."""
    if isinstance(item, (str, bytes)):
        return item
    array = np.ma.asarray(item)
    data = np.ma.getdata(array)
    if data.dtype == np.uint8:
        return data.tobytes()
    if data.dtype.kind == "f":
        return np.ma.filled(array, np.nan).tolist()
    return [
        None if null else value
        for value, null in zip(data.tolist(), np.ma.getmaskarray(array).tolist(), strict=True)
    ]


def _row_mask(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Null rows: astropy masks every element of a null array cell."""
    return np.asarray(mask.reshape(len(mask), _width(mask)).all(axis=1), dtype=np.bool_)


def _bool_mask(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_] | None:
    return mask if mask.any() else None


def _width(values: npt.NDArray[Any]) -> int:
    """Elements per row of an array column (``reshape(n, -1)`` fails for zero rows)."""
    return int(np.prod(values.shape[1:], dtype=np.int64))
