"""The rows one scan fetched from a backend, as the fetch steps hand them on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from gateway.formats.arrow_types import arrow_type_from_meta
from planners.sql_catalog import ColumnInfo


@dataclass(frozen=True, slots=True)
class Fetched:
    """The rows of one scan and their column metadata."""

    table: pa.Table
    columns: tuple[ColumnInfo, ...]
    overflow: bool = False


def empty_table(columns: Sequence[ColumnInfo]) -> pa.Table:
    """A table with no rows and the given columns."""
    return pa.schema([pa.field(c.name, arrow_type_from_meta(c)) for c in columns]).empty_table()
