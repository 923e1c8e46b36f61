"""Turn UPLOAD parameters into tables: inline multipart parts, or allow-listed http(s) URLs.

Nothing a client sends becomes a URL the gateway fetches unless the operator allow-listed
its host (``upload_url_hosts``); the default refuses every URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pyarrow as pa

from gateway.errors import UploadError
from gateway.tap.params import UploadSpec
from gateway.tap.upload_reader import read_votable_upload
from planners.sql_catalog import ColumnInfo


@dataclass(frozen=True, slots=True)
class UploadedTable:
    """One TAP_UPLOAD table: its column metadata and data.

    ``raw`` is the VOTable document as the client sent it: a query that a TAP backend runs
    whole gets exactly these bytes as its upload (no re-encoding, nothing of the client's
    metadata lost); None for tables that were not uploaded as a document.
    """

    name: str
    columns: tuple[ColumnInfo, ...]
    table: pa.Table
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    """Limits and the URL allow-list applied to every upload."""

    max_rows: int
    max_bytes: int
    url_hosts: tuple[str, ...] = ()


def fetch_upload_bytes(spec: UploadSpec, files: Mapping[str, bytes], policy: UploadPolicy) -> bytes:
    """Return the raw bytes an UPLOAD refers to, enforcing the policy."""
    uri = spec.uri
    if uri.startswith("param:"):
        part = uri.removeprefix("param:")
        if part not in files:
            raise UploadError(
                f"UPLOAD {spec.name}: no multipart file part named {part!r} in the request"
            )
        data = files[part]
    elif uri.startswith(("http://", "https://")):
        host = (urlsplit(uri).hostname or "").lower()
        if host not in {h.lower() for h in policy.url_hosts}:
            raise UploadError(
                f"UPLOAD {spec.name}: fetching uploads from {host or uri!r} is not allowed by "
                "this service; send the table inline (UPLOAD=name,param:part)"
            )
        data = _download(uri, policy.max_bytes, spec.name)
    else:
        raise UploadError(
            f"UPLOAD {spec.name}: unsupported URI {uri!r} (use param:<part> or an http(s) URL)"
        )
    if len(data) > policy.max_bytes:
        raise UploadError(
            f"UPLOAD {spec.name} is {len(data)} bytes; this service accepts at most "
            f"{policy.max_bytes} bytes per upload"
        )
    return data


def _download(url: str, max_bytes: int, name: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=30.0, follow_redirects=False) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise UploadError(f"UPLOAD {name} exceeds {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise UploadError(f"UPLOAD {name}: could not fetch {url}: {exc}") from exc
    return b"".join(chunks)


def load_uploads(
    specs: Sequence[UploadSpec], files: Mapping[str, bytes], policy: UploadPolicy
) -> dict[str, UploadedTable]:
    """Read every upload into a table keyed by its lower-cased name."""
    tables: dict[str, UploadedTable] = {}
    for spec in specs:
        data = fetch_upload_bytes(spec, files, policy)
        try:
            columns, table = read_votable_upload(data, max_rows=policy.max_rows)
        except ValueError as exc:
            raise UploadError(f"UPLOAD {spec.name}: {exc}") from exc
        tables[spec.name.lower()] = UploadedTable(spec.name, tuple(columns), table, data)
    return tables
