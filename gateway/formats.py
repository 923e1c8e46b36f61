"""Output format negotiation: RESPONSEFORMAT/FORMAT values to a writer and a Content-Type.

TAP 1.1 accepts short names and MIME types (spec tap-server.md §2). When the client asks by
MIME type, the Content-Type echoes what it asked for; short names get the canonical type.
VOTable defaults to BINARY2, the compact serialisation every modern client reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import pyarrow as pa

from gateway.parquet_writer import write_parquet
from gateway.text_writers import write_csv, write_json, write_tsv
from gateway.votable import write_votable
from planners.sql_catalog import ColumnInfo

__all__ = ["OutputFormat", "ResultWriter", "UnsupportedFormatError", "resolve_format"]

VOTABLE_MIME: Final = "application/x-votable+xml"


class ResultWriter(Protocol):
    """Turns a result (column metadata plus record batches) into a stream of bytes."""

    def __call__(
        self,
        columns: Sequence[ColumnInfo],
        batches: Iterable[pa.RecordBatch],
        *,
        overflow: Callable[[], bool] | None = None,
        infos: Sequence[tuple[str, str, str]] = (),
        query: str | None = None,
    ) -> Iterator[bytes]:
        """Yield the serialised result piece by piece."""
        ...


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """A negotiated output format."""

    name: str
    """Canonical short name: votable, votable/td, csv, tsv, json or parquet."""
    media_type: str
    """The Content-Type to send."""
    writer: ResultWriter
    """The streaming writer."""


class UnsupportedFormatError(ValueError):
    """A RESPONSEFORMAT/FORMAT value the gateway cannot produce."""


_BINARY2: Final = functools.partial(write_votable, serialization="binary2")
_TABLEDATA: Final = functools.partial(write_votable, serialization="tabledata")

# short name -> (canonical name, canonical Content-Type, writer)
_SHORT: Final[dict[str, tuple[str, str, ResultWriter]]] = {
    "votable": ("votable", VOTABLE_MIME, _BINARY2),
    "votable/b2": ("votable", f"{VOTABLE_MIME};serialization=binary2", _BINARY2),
    "votable/td": ("votable/td", f"{VOTABLE_MIME};serialization=tabledata", _TABLEDATA),
    "csv": ("csv", "text/csv;header=present", write_csv),
    "tsv": ("tsv", "text/tab-separated-values", write_tsv),
    "json": ("json", "application/json", write_json),
    "parquet": ("parquet", "application/vnd.apache.parquet", write_parquet),
}
# MIME type (without parameters) -> short name
_MIME: Final[dict[str, str]] = {
    VOTABLE_MIME: "votable",
    "text/xml": "votable",
    "application/xml": "votable",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/vnd.apache.parquet": "parquet",
}
_SERIALIZATIONS: Final = {"binary2": "votable/b2", "tabledata": "votable/td"}
SUPPORTED: Final = (
    "votable (application/x-votable+xml, text/xml; serialization=binary2 or tabledata), "
    "votable/b2, votable/td, csv (text/csv), tsv (text/tab-separated-values), "
    "json (application/json), parquet (application/vnd.apache.parquet)"
)


def resolve_format(value: str | None) -> OutputFormat:
    """Negotiate the output format for a RESPONSEFORMAT/FORMAT value.

    Parameters
    ----------
    value
        The parameter value, or None/empty for the default (VOTable BINARY2). Short names
        and MIME types are matched case-insensitively; MIME parameters other than
        ``serialization`` (VOTable) and ``header`` (CSV) are ignored.

    Returns
    -------
    OutputFormat
        The writer and the Content-Type to send.

    Raises
    ------
    UnsupportedFormatError
        For a format the gateway does not produce; the message lists the supported ones.
    """
    text = (value or "").strip()
    if not text:
        name, media_type, writer = _SHORT["votable"]
        return OutputFormat(name, media_type, writer)
    if text.lower() in _SHORT:
        name, media_type, writer = _SHORT[text.lower()]
        return OutputFormat(name, media_type, writer)
    mime, _, parameters = text.partition(";")
    short = _MIME.get(mime.strip().lower())
    if short is None:
        raise UnsupportedFormatError(_unsupported(text))
    if short == "votable":
        options = _parameters(parameters)
        serialization = options.get("serialization", "binary2").lower()
        if serialization not in _SERIALIZATIONS:
            raise UnsupportedFormatError(
                f"VOTable serialization {serialization!r} is not supported"
                " (binary2 or tabledata); " + _unsupported(text)
            )
        short = _SERIALIZATIONS[serialization]
    name, media_type, writer = _SHORT[short]
    # Echo the MIME type the client asked by; CSV always says that a header is present.
    return OutputFormat(name, media_type if short == "csv" else text, writer)


def _parameters(text: str) -> dict[str, str]:
    options = {}
    for item in text.split(";"):
        key, sep, raw = item.partition("=")
        if sep:
            options[key.strip().lower()] = raw.strip().strip('"')
    return options


def _unsupported(text: str) -> str:
    return f"unsupported RESPONSEFORMAT {text!r}; supported: {SUPPORTED}"
