"""Answering ``<base_url>/datalink/links``: forward to the owning service, or write spectra links.

IDs of one request are grouped by owner (:class:`gateway.tap.datalink.DatalinkRoutes`). Image IDs
go in one POST to the owner's ``{links}`` endpoint and its document is passed back as it is
(its URLs already point at the owner's files and cutout service). Spectrum IDs get a document
written here with astropy: ``#this`` is the spectrum as FITS, and a ``#cutout`` row names a
service descriptor whose ``CUTOUT`` (``lo,hi`` in Angstrom), ``ALIGN`` and ``FORMAT`` inputs
the client fills in. Both lead to ``<base_url>/datalink/spectrum``, which asks the spectral
service's ``getSpec`` (:func:`fetch_spectrum`): DALI clients send upper-case parameter names,
the legacy service reads lower-case form fields. A request whose
IDs belong to several services is refused with a message saying so; an ID nobody owns gets a
``NotFoundFault`` row, as DataLink asks.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from astropy.io.votable.tree import (  # type: ignore[import-untyped]
    Group,
    Info,
    Param,
    Resource,
    VOTableFile,
)
from astropy.table import MaskedColumn, Table  # type: ignore[import-untyped]

from gateway.tap.datalink import BACKEND_PARAM, ForwardRoute, SpectralRoute

DATALINK_MIME = "application/x-votable+xml;content=datalink"
_INTEGER = re.compile(r"[+-]?\d{1,20}")

# DataLink 1.1 §3.2 columns: name -> (dtype, ucd)
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ID", "U", "meta.id;meta.main"),
    ("access_url", "U", "meta.ref.url"),
    ("service_def", "U", "meta.ref"),
    ("error_message", "U", "meta.code.error"),
    ("semantics", "U", "meta.code"),
    ("description", "U", "meta.note"),
    ("content_type", "U", "meta.code.mime"),
    ("content_length", "i8", "phys.size;meta.file"),
    ("content_qualifier", "U", "meta.code.class"),
    ("local_semantics", "U", "meta.code"),
    ("link_auth", "U", "meta.code"),
    ("link_authorized", "?", "meta.code"),
)


class LinksUsageError(ValueError):
    """A ``{links}`` request the gateway cannot answer as asked (HTTP 400)."""


@dataclass(slots=True)
class LinkGroups:
    """The IDs of one request, by owner."""

    forward: dict[ForwardRoute, list[str]] = field(default_factory=dict)
    spectral: dict[SpectralRoute, list[str]] = field(default_factory=dict)
    unowned: list[str] = field(default_factory=list)

    def owners(self) -> list[str]:
        """Backend names owning at least one ID."""
        return [r.backend for r in self.forward] + [r.backend for r in self.spectral]


async def forward_links(
    route: ForwardRoute, ids: Sequence[str], timeout_seconds: float
) -> tuple[int, bytes, str]:
    """POST ``ids`` to the owner's ``{links}`` endpoint; its status, body and Content-Type.

    Raises
    ------
    httpx.HTTPError
        When the owner cannot be reached.
    """
    async with httpx.AsyncClient(timeout=timeout_seconds, trust_env=False) as client:
        response = await client.post(route.url, data={"ID": list(ids)})
    media_type = response.headers.get("content-type", DATALINK_MIME)
    return response.status_code, response.content, media_type


def spectral_links(
    route: SpectralRoute, spectrum_url: str, ids: Sequence[str], unowned: Sequence[str]
) -> bytes:
    """The DataLink document of spectra ``ids`` of ``route``, served at ``spectrum_url``."""
    rows: list[dict[str, object]] = []
    for dataset_id in ids:
        if not _INTEGER.fullmatch(dataset_id.strip()):
            rows.append(_error_row(dataset_id, f"UsageError: {dataset_id!r} is not a specobjid"))
            continue
        query = urlencode({"ID": dataset_id.strip(), BACKEND_PARAM: route.backend})
        rows.append(
            {
                "ID": dataset_id,
                "access_url": f"{spectrum_url}?{query}",
                "semantics": "#this",
                "description": f"spectrum {dataset_id.strip()} (FITS binary table: loglam, "
                "flux, ivar, model, sky)",
                "content_type": "application/fits",
                "content_qualifier": "#spectrum",
            }
        )
        rows.append(
            {
                "ID": dataset_id,
                "service_def": "getspec",
                "semantics": "#cutout",
                "description": "the spectrum cut to CUTOUT=lo,hi (Angstrom); FORMAT=numpy "
                "with ALIGN=true puts several on one wavelength grid",
                "content_type": "application/fits",
                "content_qualifier": "#spectrum",
            }
        )
    rows += [_error_row(i, f"NotFoundFault: no configured service owns {i}") for i in unowned]
    votable = _links_votable(rows)
    votable.resources.append(_getspec_descriptor(votable, route, spectrum_url))
    return _serialise(votable)


@dataclass(frozen=True, slots=True)
class SpectrumRequest:
    """A ``/datalink/spectrum`` request in the gateway's (DALI, case-insensitive) terms."""

    ids: tuple[str, ...]
    cutout: str | None = None
    align: bool = False
    numpy: bool = False


async def fetch_spectrum(
    route: SpectralRoute, request: SpectrumRequest, timeout_seconds: float
) -> tuple[int, bytes, str]:
    """Ask the spectral service's ``getSpec`` (its own lower-case form fields).

    Raises
    ------
    LinksUsageError
        For an ID that is not a specobjid, or the service's own refusal (its text).
    httpx.HTTPError
        When the service cannot be reached.
    """
    bad = [i for i in request.ids if not _INTEGER.fullmatch(i.strip())]
    if bad:
        raise LinksUsageError(f"UsageError: {bad[0]!r} is not a specobjid")
    form = {
        "id_list": "[" + ", ".join(i.strip() for i in request.ids) + "]",
        "format": "numpy" if request.numpy else "fits",
        "align": "True" if request.align else "False",
        "context": route.context,
    }
    if request.cutout:
        form["cutout"] = request.cutout
    async with httpx.AsyncClient(timeout=timeout_seconds, trust_env=False) as client:
        response = await client.post(f"{route.url}/getSpec", data=form)
    if response.status_code == 400:  # the service's own usage error, as text
        raise LinksUsageError(f"UsageError: {route.backend}: {response.text.strip()}")
    media_type = response.headers.get("content-type", "application/octet-stream")
    return response.status_code, response.content, media_type


def unowned_links(ids: Sequence[str]) -> bytes:
    """A DataLink document with one ``NotFoundFault`` row per ID."""
    rows = [_error_row(i, f"NotFoundFault: no configured service owns {i}") for i in ids]
    return _serialise(_links_votable(rows))


def _error_row(dataset_id: str, message: str) -> dict[str, object]:
    return {"ID": dataset_id, "error_message": message}


def _links_votable(rows: Sequence[dict[str, object]]) -> VOTableFile:
    table = Table()
    for name, dtype, _ in _COLUMNS:
        values = [row.get(name) for row in rows]
        fill: object = "" if dtype == "U" else (0 if dtype == "i8" else False)
        table[name] = MaskedColumn(
            [fill if v is None else v for v in values],
            dtype=str if dtype == "U" else dtype,
            mask=[v is None for v in values],
        )
    votable = VOTableFile.from_table(table)
    resource = votable.resources[0]
    resource.type = "results"
    resource.infos.append(Info(name="standardID", value="ivo://ivoa.net/std/DataLink#links-1.1"))
    links = resource.tables[0]
    links.name = "links"
    for meta, (name, _, ucd) in zip(links.fields, _COLUMNS, strict=True):
        meta.ucd = ucd
        if name == "ID":
            meta.ID = "ID"  # referenced by the getSpec descriptor's id_list input
        if name == "content_length":
            meta.unit = "byte"
    return votable


def _getspec_descriptor(votable: VOTableFile, route: SpectralRoute, url: str) -> Resource:
    resource = Resource(type="meta", utype="adhoc:service", ID="getspec")

    def param(name: str, value: str, **extra: str) -> Param:
        return Param(votable, name=name, datatype="char", arraysize="*", value=value, **extra)

    resource.params.append(param("accessURL", url))
    inputs = Group(votable, name="inputParams")
    inputs.entries.append(param("ID", "", ref="ID", ucd="meta.id;meta.main"))
    inputs.entries.append(param(BACKEND_PARAM, route.backend))
    inputs.entries.append(param("CUTOUT", "", ucd="em.wl"))
    inputs.entries.append(param("ALIGN", ""))
    inputs.entries.append(param("FORMAT", ""))
    resource.groups.append(inputs)
    return resource


def _serialise(votable: VOTableFile) -> bytes:
    buffer = io.BytesIO()
    votable.to_xml(buffer, tabledata_format="tabledata")
    return buffer.getvalue()
