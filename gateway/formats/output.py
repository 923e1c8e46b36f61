"""Output formats: the one registry VOSI advertises, and RESPONSEFORMAT/FORMAT negotiation.

TAP 1.1 accepts short names and MIME types (spec tap-server.md §2). When the client asks by
MIME type, the Content-Type echoes what it asked for; short names get the canonical type.
VOTable defaults to BINARY2, the compact serialisation every modern client reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

import pyarrow as pa

from gateway.formats.parquet_writer import write_parquet
from gateway.formats.text_writers import write_csv, write_json, write_tsv
from gateway.formats.votable import write_votable
from planners.sql_catalog import ColumnInfo

__all__ = [
    "OUTPUT_FORMATS",
    "OutputFormat",
    "ResultWriter",
    "UnsupportedFormatError",
    "resolve_format",
]

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
    """An output format: a TAPRegExt ``outputFormat`` of VOSI capabilities.

    :func:`resolve_format` answers one of :data:`OUTPUT_FORMATS` whose ``media_type`` is the
    Content-Type to send.
    """

    media_type: str
    """The MIME type."""
    aliases: tuple[str, ...] = ()
    """RESPONSEFORMAT short names; the first is the canonical name."""
    ivo_id: str | None = None
    """The TAPRegExt identifier of a standard format."""

    @property
    def name(self) -> str:
        """Canonical short name: votable, votable/td, csv, tsv, json or parquet."""
        return self.aliases[0] if self.aliases else self.media_type

    @property
    def writer(self) -> ResultWriter:
        """The streaming writer (formats of :data:`OUTPUT_FORMATS` only: KeyError otherwise)."""
        return _WRITERS[self.name]


class UnsupportedFormatError(ValueError):
    """A RESPONSEFORMAT/FORMAT value the gateway cannot produce."""


_BINARY2: Final = functools.partial(write_votable, serialization="binary2")
_TABLEDATA: Final = functools.partial(write_votable, serialization="tabledata")

_TAPREGEXT: Final = "ivo://ivoa.net/std/TAPRegExt"

OUTPUT_FORMATS: Final = (
    OutputFormat(VOTABLE_MIME, ("votable", "votable/b2"), f"{_TAPREGEXT}#output-votable-binary2"),
    OutputFormat(
        f"{VOTABLE_MIME};serialization=TABLEDATA",
        ("votable/td",),
        f"{_TAPREGEXT}#output-votable-td",
    ),
    OutputFormat("text/csv;header=present", ("csv",)),
    OutputFormat("text/tab-separated-values", ("tsv",)),
    OutputFormat("application/json", ("json",)),
    OutputFormat("application/vnd.apache.parquet", ("parquet",)),
)
"""Every format the gateway writes, as ``/capabilities`` lists them."""

_WRITERS: Final[dict[str, ResultWriter]] = {
    "votable": _BINARY2,
    "votable/td": _TABLEDATA,
    "csv": write_csv,
    "tsv": write_tsv,
    "json": write_json,
    "parquet": write_parquet,
}
# short name -> format
_SHORT: Final = {alias: fmt for fmt in OUTPUT_FORMATS for alias in fmt.aliases}
# Short names that choose a VOTable serialisation say so in the Content-Type.
_SENT_AS: Final = {
    "votable/b2": f"{VOTABLE_MIME};serialization=binary2",
    "votable/td": f"{VOTABLE_MIME};serialization=tabledata",
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
    short = text.lower() or "votable"
    if short in _SHORT:
        fmt = _SHORT[short]
        return replace(fmt, media_type=_SENT_AS.get(short, fmt.media_type))
    mime, _, parameters = text.partition(";")
    known = _MIME.get(mime.strip().lower())
    if known is None:
        raise UnsupportedFormatError(_unsupported(text))
    short = known
    if short == "votable":
        options = _parameters(parameters)
        serialization = options.get("serialization", "binary2").lower()
        if serialization not in _SERIALIZATIONS:
            raise UnsupportedFormatError(
                f"VOTable serialization {serialization!r} is not supported"
                " (binary2 or tabledata); " + _unsupported(text)
            )
        short = _SERIALIZATIONS[serialization]
    fmt = _SHORT[short]
    # Echo the MIME type the client asked by; CSV always says that a header is present.
    return fmt if short == "csv" else replace(fmt, media_type=text)


def _parameters(text: str) -> dict[str, str]:
    options = {}
    for item in text.split(";"):
        key, sep, raw = item.partition("=")
        if sep:
            options[key.strip().lower()] = raw.strip().strip('"')
    return options


def _unsupported(text: str) -> str:
    return f"unsupported RESPONSEFORMAT {text!r}; supported: {SUPPORTED}"
