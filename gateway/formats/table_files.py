"""Data files served by ``local`` backends (Parquet, CSV, FITS, VOTable) as Arrow.

One reader for the engine (which registers the data) and the catalogue (which describes the
columns), so the schema a table is described with is the schema its data has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds

__all__ = ["file_schema", "read_table_file"]

_PARQUET = frozenset({".parquet", ".pq"})

IN_MEMORY_BYTES = 1 << 30
"""Parquet files whose uncompressed data is smaller are loaded into memory.

DuckDB answers over an in-memory Arrow table in about a millisecond, while each query over a
pyarrow dataset pays 30-90 ms to set up its scan; larger files stay lazily scanned.
"""
_FITS = frozenset({".fits", ".fit"})


def read_table_file(path: str | Path) -> pa.Table | ds.Dataset:
    """The rows of a data file, chosen by its suffix.

    Parquet is loaded into memory below :data:`IN_MEMORY_BYTES` of uncompressed data and
    scanned lazily (a pyarrow dataset) above; CSV is read by pyarrow with inferred types;
    FITS (``.fits``, ``.fit``) and anything else, read as VOTable, go through astropy.
    Masked cells of one-dimensional columns take their fill value; multi-dimensional cells
    become lists of their flattened elements (masked elements null).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        dataset = ds.dataset(path, format="parquet")
        if _uncompressed_bytes(path) < IN_MEMORY_BYTES:
            return dataset.to_table()
        return dataset
    if suffix == ".csv":
        from pyarrow import csv  # noqa: PLC0415 - only needed for CSV sources

        return csv.read_csv(path)
    # Imported here: astropy is slow to import and only FITS/VOTable sources need it.
    from astropy.table import Table  # type: ignore[import-untyped]  # noqa: PLC0415

    table = Table.read(path, format="fits" if suffix in _FITS else "votable")
    return pa.table({name: _column(table[name]) for name in table.colnames})


def file_schema(path: str | Path) -> pa.Schema:
    """The Arrow schema of a data file (a Parquet file's data is not read)."""
    path = Path(path)
    if path.suffix.lower() in _PARQUET:
        return ds.dataset(path, format="parquet").schema
    return read_table_file(path).schema


def _uncompressed_bytes(path: Path) -> int:
    import pyarrow.parquet as pq  # noqa: PLC0415 - only Parquet sources need it

    metadata = pq.ParquetFile(path).metadata
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


def _column(column: Any) -> pa.Array:
    """One astropy column as Arrow."""
    if column.ndim > 1:
        rows = np.ma.asarray(column)
        rows = rows.reshape(len(rows), _width(rows))
        return pa.array(rows.tolist(), type=pa.list_(pa.from_numpy_dtype(column.dtype)))
    return pa.array(column.filled() if hasattr(column, "filled") else column)


def _width(values: npt.NDArray[Any]) -> int:
    """Elements per row of an array column (``reshape(n, -1)`` fails for zero rows)."""
    return int(np.prod(values.shape[1:], dtype=np.int64))
