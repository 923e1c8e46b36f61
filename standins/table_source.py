"""Find a table's Parquet file in whatever the caller passed: a mapping or a DemoData object."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def table_path(data: object, key: str) -> Path:
    """The path stored under ``key`` (e.g. ``"ivoa.ObsCore"``).

    ``data`` may be a mapping of table names to paths, an object with such a mapping in a
    ``paths`` or ``tables`` attribute, or an object with an attribute named after the table
    (``ivoa_obscore``, ``obscore``); the first match wins.
    """
    candidates: list[object] = [data]
    candidates += [getattr(data, attr) for attr in ("paths", "tables") if hasattr(data, attr)]
    for candidate in candidates:
        if isinstance(candidate, Mapping) and key in candidate:
            return Path(candidate[key])
    for attr in (key.replace(".", "_").lower(), key.rsplit(".", maxsplit=1)[-1].lower()):
        value = getattr(data, attr, None)
        if isinstance(value, str | Path):
            return Path(value)
    raise KeyError(f"no path for table {key!r} in {type(data).__name__}")


def load_table(data: object, key: str) -> pa.Table:
    """Read the table stored under ``key`` into memory."""
    return pq.read_table(table_path(data, key))
