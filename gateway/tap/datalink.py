"""DataLink for federated results: which service owns a dataset ID, and result rows pointing here.

Clients follow a result row to its data products through DataLink 1.1: either the row's
``access_url`` (ObsCore rows whose ``access_format`` is the DataLink MIME type) or the service
descriptor in the result VOTable (``RESOURCE type="meta" utype="adhoc:service"``), whose ``ID``
input refers to a column of the row. Both lead to the gateway's own ``{links}`` endpoint,
``<base_url>/datalink/links``, which answers for the owning service (see
:mod:`gateway.tap.datalink_links`):

- image datasets: a backend declares ``datalink_url`` (the owner's ``{links}`` endpoint) and
  ``datalink_id_prefix``; IDs with that prefix are forwarded there. ``access_url`` values whose
  ``ID`` parameter has such a prefix are rewritten to the gateway's endpoint, whatever host
  the backend's data named (the demo data names Rubin's real service with made-up IDs);
- spectra: rows of a ``spectral`` backend are identified by ``specobjid``; the gateway writes
  their links itself, pointing at the backend's ``getSpec``.

Nothing a client sends becomes a URL the gateway fetches: the upstream URLs come from the
configuration, the client only chooses IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import quoteattr

import pyarrow as pa

from gateway.kinds.registry import kind_for
from gateway.settings import GatewaySettings
from planners.sql_catalog import ColumnInfo

DATALINK_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
BACKEND_PARAM = "BACKEND"
"""Optional ``{links}`` parameter naming the backend (fixed in the spectral descriptor)."""

_NCNAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class ForwardRoute:
    """Dataset IDs starting with ``id_prefix`` belong to the ``{links}`` service at ``url``."""

    backend: str
    id_prefix: str
    url: str


@dataclass(frozen=True, slots=True)
class SpectralRoute:
    """A spectral-ID backend: links to ``getSpec`` of ``url`` in ``context``."""

    backend: str
    url: str
    context: str


@dataclass(frozen=True, slots=True)
class DatalinkRoutes:
    """Every dataset owner the configuration names, and the gateway's own ``{links}`` URL."""

    links_url: str
    forward: tuple[ForwardRoute, ...]
    spectral: tuple[SpectralRoute, ...]

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> DatalinkRoutes:
        """The routes of the configured backends."""
        forward = tuple(
            ForwardRoute(b.name, b.datalink_id_prefix, b.datalink_url)
            for b in settings.backends
            if b.datalink_url is not None and b.datalink_id_prefix is not None
        )
        spectral = tuple(
            SpectralRoute(b.name, b.url.rstrip("/"), b.context or "default")
            for b in settings.backends
            if kind_for(b.kind).spectrum_links and b.url is not None
        )
        return cls(settings.base_url.rstrip("/") + "/datalink/links", forward, spectral)

    def owner(self, dataset_id: str) -> ForwardRoute | None:
        """The forward route whose prefix is the longest match of ``dataset_id``."""
        matches = [r for r in self.forward if dataset_id.startswith(r.id_prefix)]
        return max(matches, key=lambda r: len(r.id_prefix), default=None)

    def spectral_backend(self, name: str | None) -> SpectralRoute | None:
        """The spectral route called ``name`` (case-insensitive), or the only one if None."""
        if name is None:
            return self.spectral[0] if len(self.spectral) == 1 else None
        return next((r for r in self.spectral if r.backend.lower() == name.lower()), None)

    def link_url(self, dataset_id: str) -> str:
        """The gateway's ``{links}`` URL for one dataset."""
        return f"{self.links_url}?ID={quote(dataset_id, safe='')}"

    def for_result(self, columns: Sequence[ColumnInfo]) -> ResultLinks | None:
        """How a result with ``columns`` gets its links, or None when it has nothing to link."""
        names = [c.name.lower() for c in columns]
        rewrite = tuple(
            i
            for i, (name, meta) in enumerate(zip(names, columns, strict=True))
            if name == "access_url" and meta.datatype in {"char", "unicodeChar"} and self.forward
        )
        descriptor: tuple[int, str, str | None] | None = None
        if self.forward and "obs_publisher_did" in names:
            descriptor = (names.index("obs_publisher_did"), "obs_publisher_did", None)
        elif len(self.spectral) > 0 and "specobjid" in names:
            # Which spectral backend, when there are several, is not known per column: the
            # descriptor names the only one, or the first (the links say so if it is wrong).
            descriptor = (names.index("specobjid"), "specobjid", self.spectral[0].backend)
        if not rewrite and descriptor is None:
            return None
        return ResultLinks(self, rewrite, descriptor)


@dataclass(frozen=True, slots=True)
class ResultLinks:
    """The DataLink additions to one result: rewritten URLs and a service descriptor."""

    routes: DatalinkRoutes
    rewrite: tuple[int, ...]
    """Indexes of ``access_url`` columns whose values may be rewritten."""
    descriptor: tuple[int, str, str | None] | None
    """(column index, column name, backend parameter) of the descriptor's ``ID`` input."""

    @property
    def field_ids(self) -> dict[int, str]:
        """XML IDs to give result FIELDs (column index -> ID) so the descriptor can ref them."""
        if self.descriptor is None:
            return {}
        index, name, _ = self.descriptor
        return {index: "dl_" + _NCNAME_UNSAFE.sub("_", name)}

    def resources(self) -> list[str]:
        """The service descriptor RESOURCE, if the result has an ID column."""
        if self.descriptor is None:
            return []
        index, name, backend = self.descriptor
        fixed = (
            f'<PARAM name="{BACKEND_PARAM}" datatype="char" arraysize="*" '
            f"value={quoteattr(backend)}/>"
            if backend is not None
            else ""
        )
        descriptor = (
            '<RESOURCE type="meta" utype="adhoc:service" name="datalink">\n'
            f"<DESCRIPTION>DataLink {{links}} of each row, by its {name}</DESCRIPTION>\n"
            f'<PARAM name="standardID" datatype="char" arraysize="*" '
            f'value="{DATALINK_STANDARD_ID}"/>\n'
            f'<PARAM name="accessURL" datatype="char" arraysize="*" '
            f"value={quoteattr(self.routes.links_url)}/>\n"
            '<GROUP name="inputParams">\n'
            f'<PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.main" '
            f'ref="{self.field_ids[index]}" value=""/>\n{fixed}'
            "</GROUP>\n</RESOURCE>\n"
        )
        return [descriptor]

    def batches(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``batches`` with routed ``access_url`` values pointing at the gateway."""
        for batch in batches:
            if not self.rewrite:
                yield batch
                continue
            arrays = list(batch.columns)
            for index in self.rewrite:
                arrays[index] = self._rewrite(arrays[index])
            yield pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    def _rewrite(self, column: pa.Array) -> pa.Array:
        values = column.to_pylist()
        out = pa.array([self._rewrite_one(v) if isinstance(v, str) else v for v in values])
        # Back to the column's own type (large or dictionary-encoded strings included).
        return out if out.type == column.type else out.cast(column.type)

    def _rewrite_one(self, url: str) -> str:
        dataset_id = _id_parameter(url)
        if dataset_id is None or self.routes.owner(dataset_id) is None:
            return url
        return self.routes.link_url(dataset_id)


def _id_parameter(url: str) -> str | None:
    """The single ``ID`` query parameter of ``url`` (any case), or None."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    ids = [v for k, v in parse_qsl(query, keep_blank_values=True) if k.upper() == "ID"]
    return ids[0] if len(ids) == 1 and ids[0] else None
