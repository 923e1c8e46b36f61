"""Streaming CSV, JSON and VOTable writers for HSC results.

DuckDB renders each result row as one text line (a SQL expression built here), the server
fetches those lines as Arrow record batches and sends each batch's bytes as they are: the
answer never exists as per-cell Python objects, so a 760k-row page streams in constant memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa

from planners.sql_scope import quoted_sql
from standins.hsc_query import RequestError, SqlParams

if TYPE_CHECKING:
    from standins.hsc_schema import HscColumn

FORMATS = {"csv": "csv", "json": "json", "votable": "votable", "xml": "votable"}
"""Accepted format names (path suffix or ``format=``) -> writer."""

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "votable": "application/x-votable+xml",
}
_ACCEPT = (
    ("text/csv", "csv"),
    ("application/x-votable+xml", "votable"),
    ("text/xml", "votable"),
    ("application/xml", "votable"),
    ("application/json", "json"),
)
_DELIMITERS = {",": ",", "comma": ",", "\t": "\t", "tab": "\t", "|": "|", ";": ";", " ": " "}
_ISO = "'%Y-%m-%dT%H:%M:%S.%g'"
_NEWLINE = "chr(10)"


def format_from_accept(accept: str) -> str | None:
    """The writer an ``Accept`` header asks for, or None (JSON is the default)."""
    for media, fmt in _ACCEPT:
        if media in accept:
            return fmt
    return None


@dataclass(frozen=True, slots=True)
class Options:
    """The generic Catalogs.MAST formatting options (hsc-rest.md §2.4)."""

    raw: bool = True
    flatten_response: bool = True
    include_info: bool = True
    delimiter: str = ","

    @classmethod
    def from_params(cls, grouped: dict[str, list[str]]) -> Options:
        """Read the options from lower-cased request parameters."""
        flags = {}
        for key in ("raw", "flatten_response", "include_info"):
            if key in grouped:
                text = grouped[key][-1].strip().lower()
                if text not in {"true", "false", "1", "0"}:
                    raise RequestError(f"{key} must be true or false", key)
                flags[key] = text in {"true", "1"}
        delimiter = ","
        if "delimiter" in grouped:
            choice = grouped["delimiter"][-1]
            if choice.lower() not in _DELIMITERS:
                raise RequestError("delimiter must be one of , tab | ; or space", "delimiter")
            delimiter = _DELIMITERS[choice.lower()]
        return cls(delimiter=delimiter, **flags)


def _text(col: HscColumn) -> str:
    """The cell as VARCHAR (NULL stays NULL)."""
    if col.xtype == "timestamp":
        return f"strftime({quoted_sql(col.name)}, {_ISO})"
    return f"CAST({quoted_sql(col.name)} AS VARCHAR)"


def _csv_cell(col: HscColumn, delim: str) -> str:
    text = _text(col)
    if col.numeric:
        return f"coalesce({text}, '')"
    needs_quotes = " OR ".join(
        f"contains({text}, {c})" for c in (delim, "'\"'", _NEWLINE, "chr(13)")
    )
    quoted = f"'\"' || replace({text}, '\"', '\"\"') || '\"'"
    return f"coalesce(CASE WHEN {needs_quotes} THEN {quoted} ELSE {text} END, '')"


def _json_cell(col: HscColumn, options: Options) -> str:
    if col.numeric and not (col.datatype == "long" and not options.raw):
        return f"coalesce({_text(col)}, 'null')"
    return f"coalesce(CAST(to_json({_text(col)}) AS VARCHAR), 'null')"


def _xml_cell(col: HscColumn) -> str:
    text = f"coalesce({_text(col)}, '')"
    if not col.numeric:
        text = f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
    return f"'<TD>' || {text} || '</TD>'"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def row_expression(
    fmt: str, columns: tuple[HscColumn, ...], options: Options, params: SqlParams
) -> str:
    """A SQL expression giving each result row as its full output text, separator included."""
    if fmt == "csv":
        delim = params.bind(options.delimiter)
        cells = ", ".join(_csv_cell(c, delim) for c in columns)
        return f"concat_ws({delim}, {cells}) || {_NEWLINE}"
    if fmt == "json":
        if options.flatten_response:
            body = " || ',' || ".join(_json_cell(c, options) for c in columns)
            row = f"'[' || {body} || ']'"
        else:
            pairs = (
                _sql_string(json.dumps(c.name) + ":") + f" || {_json_cell(c, options)}"
                for c in columns
            )
            row = "'{' || " + " || ',' || ".join(pairs) + " || '}'"
        # Every row starts with its separator; the writer drops the very first one.
        return f"',' || {_NEWLINE} || {row}"
    return "'<TR>' || " + " || ".join(_xml_cell(c) for c in columns) + f" || '</TR>' || {_NEWLINE}"


def header(fmt: str, columns: tuple[HscColumn, ...], options: Options, table: str) -> bytes:
    """Everything before the first row."""
    if fmt == "csv":
        if not options.include_info:
            return b""
        return (options.delimiter.join(c.name for c in columns) + "\n").encode()
    if fmt == "json":
        if not options.include_info:
            return b'{"data": ['
        info = [
            {
                "name": c.name,
                "type": c.datatype,
                "db_type": "NUMBER" if c.numeric else "STRING",
                "description": c.description,
            }
            for c in columns
        ]
        return b'{"info": ' + json.dumps(info).encode() + b', "data": ['
    return _votable_head(columns, table).encode()


def footer(fmt: str) -> bytes:
    """Everything after the last row."""
    if fmt == "csv":
        return b""
    if fmt == "json":
        return b"\n]}\n"
    return b"</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n"


def _votable_head(columns: tuple[HscColumn, ...], table: str) -> str:
    fields = []
    for c in columns:
        attrs = [f"name={quoteattr(c.name)}", f'datatype="{c.datatype}"']
        if not c.numeric:
            attrs.append('arraysize="*"')
        for key, value in (("unit", c.unit), ("ucd", c.ucd), ("xtype", c.xtype)):
            if value:
                attrs.append(f"{key}={quoteattr(value)}")
        description = f"<DESCRIPTION>{escape(c.description)}</DESCRIPTION>" if c.description else ""
        fields.append(f"<FIELD {' '.join(attrs)}>{description}</FIELD>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        f'<RESOURCE type="results">\n<INFO name="QUERY_STATUS" value="OK"/>\n'
        f"<TABLE name={quoteattr(table)}>\n" + "\n".join(fields) + "\n<DATA><TABLEDATA>\n"
    )


def batch_bytes(batch: pa.RecordBatch) -> bytes:
    """The concatenated text of a batch's single string column, without per-row objects."""
    column = batch.column(0)
    if column.null_count:  # row expressions never give NULL; stay correct if one did
        column = column.fill_null("")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())
    if len(column) == 0:
        return b""
    # A string array stores its values back to back: the rows' text is one slice of it.
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    start, stop = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    data = column.buffers()[2]
    return b"" if data is None else data.slice(start, stop - start).to_pybytes()
