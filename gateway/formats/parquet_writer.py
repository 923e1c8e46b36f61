"""Streaming Parquet result writer.

The Parquet footer comes last, so a Parquet file can be streamed: row groups leave as they are
written, and the overflow flag, known only at the end, goes into the footer's key-value
metadata (``QUERY_STATUS`` = ``OK`` or ``OVERFLOW``). Each Arrow field carries its column's
VOTable description as field metadata, and the schema metadata holds the full list as JSON
under ``adql_gateway.columns``, so clients keep units, UCDs and xtypes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from gateway.formats.arrow_types import (
    arrow_type_from_meta,
    coerce_array,
    field_metadata,
    metadata_json,
)
from gateway.formats.columns import to_votable
from gateway.formats.result_writing import overflowed
from planners.sql_catalog import ColumnInfo

__all__ = ["COLUMNS_KEY", "write_parquet"]

COLUMNS_KEY: Final = "adql_gateway.columns"
_ROW_GROUP_ROWS: Final = 65536
"""Small executor batches are gathered into row groups of about this size: many tiny row
groups make Parquet files slow to read."""


class _Chunks:
    """A write-only file object whose content is taken away after every write."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def write_parquet(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    *,
    overflow: Callable[[], bool] | None = None,
    infos: Sequence[tuple[str, str, str]] = (),
    query: str | None = None,
) -> Iterator[bytes]:
    """Stream a result as a Parquet file.

    Parameters
    ----------
    columns
        Column metadata, in the order of the batches' columns.
    batches
        The rows, consumed lazily.
    overflow
        Called after the last batch; recorded in the footer as ``QUERY_STATUS``.
    infos
        Extra ``(name, value, text)`` entries, stored in the footer as ``name`` -> ``value``.
    query
        The query text, stored in the footer under ``QUERY``.

    Yields
    ------
    bytes
        Consecutive pieces of the file; the footer comes in the last one.
    """
    columns = [to_votable(c) for c in columns]  # the metadata VOTable results declare
    schema = pa.schema(
        [
            # Always nullable: a backend declaring NOT NULL must not be able to break the stream.
            pa.field(
                meta.name,
                arrow_type_from_meta(meta),
                nullable=True,
                metadata=field_metadata(meta),
            )
            for meta in columns
        ],
        metadata={COLUMNS_KEY: metadata_json(list(columns))},
    )
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema)
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        arrays = [coerce_array(batch.column(i), meta) for i, meta in enumerate(columns)]
        pending.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        pending_rows += batch.num_rows
        if pending_rows >= _ROW_GROUP_ROWS:
            writer.write_table(pa.Table.from_batches(pending, schema))
            pending, pending_rows = [], 0
            if data := sink.take():
                yield data
    if pending:
        writer.write_table(pa.Table.from_batches(pending, schema))
    footer = {name: value for name, value, _ in infos}
    if query is not None:
        footer["QUERY"] = query
    footer["QUERY_STATUS"] = "OVERFLOW" if overflowed(overflow) else "OK"
    writer.add_key_value_metadata(footer)
    writer.close()
    yield sink.take()
