"""Streaming CSV, TSV and JSON result writers.

All three render whole columns with Arrow kernels (:mod:`gateway.formats.cell_text`) and emit one
chunk per batch; batches are rendered on a thread pool a few ahead of the consumer
(:func:`gateway.formats.cell_text.render_ahead`). ``pyarrow.csv`` is not used for CSV: it quotes
every string value and has no way to print array cells, whereas we quote only what RFC 4180
requires (plus empty strings, so that they stay distinguishable from nulls) and print arrays
as space-separated numbers, like TABLEDATA.

CSV and TSV have no overflow indicator (DALI §4.4.1); an overflow is logged instead.

JSON shape (streamed, keys in this order)::

    {"metadata": [{"name": ..., "datatype": ..., "arraysize": ..., "xtype": ..., "unit": ...,
                   "ucd": ..., "utype": ..., "description": ...}, ...],
     "data": [[cell, ...], ...],
     "overflow": false}

``unit`` and ``description`` are always present (``null`` when unset): astroquery's JSON
reader indexes both. Other unset attributes are left out. Cells are JSON numbers, strings,
``true``/``false``, arrays (``[1.0,2.0]``) or ``null``; non-finite floats become ``null``.
``overflow`` comes last because it is only known once the rows are exhausted; it is also true
for a ``PARTIAL=true`` answer that lacks a failed backend's rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from gateway.formats.arrow_types import meta_as_json
from gateway.formats.cell_text import JSON_STYLE, TextStyle, join_rows, render_ahead, render_column
from gateway.formats.columns import to_votable
from gateway.formats.result_writing import overflowed
from planners.sql_catalog import ColumnInfo

__all__ = ["write_csv", "write_json", "write_tsv"]

_LOG = logging.getLogger(__name__)

_DELIMITED_STYLE: Final = TextStyle(
    true="true", false="false", nan="NaN", pos_inf="+Inf", neg_inf="-Inf", element_null="NaN",
    array_sep=" ",
)  # fmt: skip
_CSV_SPECIAL: Final = '[",\r\n]'
_TSV_SPECIAL: Final = "[\t\r\n]"


def write_csv(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    *,
    overflow: Callable[[], bool] | None = None,
    infos: Sequence[tuple[str, str, str]] = (),  # noqa: ARG001 - no place for them in CSV
    query: str | None = None,  # noqa: ARG001
) -> Iterator[bytes]:
    """Stream a result as RFC 4180 CSV with a header row of column names (CRLF line ends).

    Parameters
    ----------
    columns
        Column metadata, in the order of the batches' columns.
    batches
        The rows, consumed lazily.
    overflow
        Called after the last batch; a true result is logged (CSV cannot carry it).
    infos, query
        Accepted for a uniform writer signature; CSV has no place for them.

    Yields
    ------
    bytes
        The header line, then one chunk per non-empty batch.
    """
    header = ",".join(_csv_quote(meta.name) for meta in columns)
    yield from _write_delimited(columns, batches, overflow, header, csv=True)


def write_tsv(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    *,
    overflow: Callable[[], bool] | None = None,
    infos: Sequence[tuple[str, str, str]] = (),  # noqa: ARG001 - no place for them in TSV
    query: str | None = None,  # noqa: ARG001
) -> Iterator[bytes]:
    """Stream a result as tab-separated values with a header row.

    Values cannot contain TABs or line breaks in TSV, so those characters inside strings are
    replaced by spaces. Nulls are empty fields.

    Parameters
    ----------
    columns
        Column metadata, in the order of the batches' columns.
    batches
        The rows, consumed lazily.
    overflow
        Called after the last batch; a true result is logged (TSV cannot carry it).
    infos, query
        Accepted for a uniform writer signature; TSV has no place for them.

    Yields
    ------
    bytes
        The header line, then one chunk per non-empty batch.
    """
    header = "\t".join(" ".join(meta.name.split()) for meta in columns)
    yield from _write_delimited(columns, batches, overflow, header, csv=False)


def write_json(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    *,
    overflow: Callable[[], bool] | None = None,
    infos: Sequence[tuple[str, str, str]] = (),  # noqa: ARG001 - not part of our JSON shape
    query: str | None = None,  # noqa: ARG001
) -> Iterator[bytes]:
    """Stream a result as one JSON object (shape in the module docstring).

    Parameters
    ----------
    columns
        Column metadata, in the order of the batches' columns.
    batches
        The rows, consumed lazily.
    overflow
        Called after the last batch; its result is the ``overflow`` member.
    infos, query
        Accepted for a uniform writer signature; not part of the JSON shape.

    Yields
    ------
    bytes
        The metadata, one chunk per non-empty batch, then the closing members.
    """
    columns = [to_votable(c) for c in columns]  # unsigned ids as JSON strings, as in VOTable
    metadata = json.dumps([_json_meta(meta) for meta in columns], ensure_ascii=False)
    yield f'{{"metadata":{metadata},\n"data":['.encode()

    def render(batch: pa.RecordBatch) -> bytes:
        cells = [
            render_column(batch.column(i), meta, JSON_STYLE).fill_null("null")
            for i, meta in enumerate(columns)
        ]
        # Every row starts with ",\n"; the very first comma of the array is dropped.
        return join_rows(cells, sep=",", prefix=",\n[", suffix="]")

    first = True
    for rows in render_ahead(render, batches):
        if rows:
            yield rows[1:] if first else rows
            first = False
    flag = "true" if overflowed(overflow) else "false"
    yield f'\n],\n"overflow":{flag}}}\n'.encode()


_JSON_KEYS: Final = (
    "name", "datatype", "arraysize", "xtype", "unit", "ucd", "utype", "description",
)  # fmt: skip
_JSON_ALWAYS: Final = frozenset({"unit", "description"})


def _json_meta(meta: ColumnInfo) -> dict[str, object]:
    """One ``metadata`` member: the attributes that are set, plus ``unit`` and ``description``."""
    present = meta_as_json(meta)
    return {key: present.get(key) for key in _JSON_KEYS if key in present or key in _JSON_ALWAYS}


def _delimited_cells(array: pa.Array | pa.ChunkedArray, meta: ColumnInfo, *, csv: bool) -> pa.Array:
    text = render_column(array, meta, _DELIMITED_STYLE)
    if meta.datatype in {"char", "unicodeChar"}:
        if csv:
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(text, '"', '""'), '"', ""
            )
            needs = pc.or_(pc.match_substring_regex(text, _CSV_SPECIAL), pc.equal(text, ""))
            text = pc.if_else(needs, quoted, text)
        else:
            text = pc.replace_substring_regex(text, _TSV_SPECIAL, " ")
    return text.fill_null("")


def _csv_quote(value: str) -> str:
    if value and not any(char in value for char in ',"\r\n'):
        return value
    return '"' + value.replace('"', '""') + '"'


def _write_delimited(
    columns: Sequence[ColumnInfo],
    batches: Iterable[pa.RecordBatch],
    overflow: Callable[[], bool] | None,
    header: str,
    *,
    csv: bool,
) -> Iterator[bytes]:
    """The body of :func:`write_csv` (CRLF, commas) and :func:`write_tsv` (LF, TABs)."""
    sep, end, name = (",", "\r\n", "CSV") if csv else ("\t", "\n", "TSV")
    columns = [to_votable(c) for c in columns]  # cells as the VOTable result spells them
    yield (header + end).encode()

    def render(batch: pa.RecordBatch) -> bytes:
        cells = [_delimited_cells(batch.column(i), meta, csv=csv) for i, meta in enumerate(columns)]
        return join_rows(cells, sep=sep, prefix="", suffix=end)

    yield from (rows for rows in render_ahead(render, batches) if rows)
    if overflowed(overflow):
        _LOG.warning("result truncated at MAXREC; %s has no overflow indicator", name)
