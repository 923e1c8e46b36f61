"""Which RESPONSEFORMAT to ask a TAP backend for, from the ``outputFormat`` list it declares.

Reading a backend's answer is most of the cost of a federated read, and it depends on the
format: Parquet is columnar and typed (pyarrow reads it as is), BINARY2 is read by the
vectorised :mod:`gateway.formats.binary2_read`, CSV by pyarrow's CSV reader with the column
types from the backend's metadata; TABLEDATA goes through astropy, about 50 times slower. The
first of those a service declares in its VOSI capabilities (TAPRegExt ``outputFormat``) is
asked for by its declared MIME type, which a TAP service must accept as RESPONSEFORMAT.
CSV carries no types, so :class:`planners.tap.TapPlanner` asks for it only where the catalogue
types every column (scans), and for VOTable when the service runs a whole query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["preferred_format"]

_BINARY2_ID: Final = "output-votable-binary2"


def _is_parquet(mime: str, ivo_id: str) -> bool:
    del ivo_id
    return "parquet" in mime


def _is_binary2(mime: str, ivo_id: str) -> bool:
    base = mime.split(";", 1)[0].strip()
    if base not in {"application/x-votable+xml", "text/xml"}:
        return False
    return "serialization=binary2" in mime.replace(" ", "") or ivo_id.endswith(_BINARY2_ID)


def _is_csv(mime: str, ivo_id: str) -> bool:
    del ivo_id
    return mime.split(";", 1)[0].strip() == "text/csv"


_PREFERENCE: Final[tuple[Callable[[str, str], bool], ...]] = (_is_parquet, _is_binary2, _is_csv)


def preferred_format(offered: Iterable[tuple[str, str | None]]) -> str | None:
    """The MIME type to send as RESPONSEFORMAT, or None to keep the default (``votable``).

    Parameters
    ----------
    offered
        ``(mime, ivo-id)`` of each ``outputFormat`` a service's capabilities declare.
    """
    formats = [(mime.strip(), ivo_id or "") for mime, ivo_id in offered if mime]
    for wanted in _PREFERENCE:
        for mime, ivo_id in formats:
            if wanted(mime.lower(), ivo_id.lower()):
                return mime
    return None
