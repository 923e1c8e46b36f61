"""DataLink 1.1 ``{links}``, a SODA sync cutout service and the image files of the SIA stand-in.

Routes (added to the SIA stand-in's app; every URL in the answers is built from the request's
own base URL, so the documents work wherever the stand-in listens):

- ``/datalink/links?ID=...`` (GET or POST, ``ID`` repeatable): one ``#this`` row (the FITS
  image) and one ``#cutout`` row (the SODA service) per dataset, plus the SODA service
  descriptor; an unknown ID gets a row whose ``error_message`` starts with ``NotFoundFault``.
- ``/datalink/cutout?ID=...&CIRCLE=ra dec r`` or ``POS=CIRCLE ra dec r`` /
  ``POS=RANGE ra1 ra2 dec1 dec2`` (SODA 1.0 sync, one ID and one region per request): a FITS
  cutout. Errors are DALI error VOTables with HTTP 400 (``UsageError``, ``NoOverlap``) or 404
  (``NotFoundFault``).
- ``/images/{obs_id}.fits``: the whole image (:mod:`standins.sia_images`).

Dataset IDs are the rows' ``obs_publisher_did``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from standins.sia_images import CutoutError, ImageMaker, ImageRow
from standins.sia_votable import VOTABLE_NS, error_document

DATALINK_MIME = "application/x-votable+xml;content=datalink"
SODA_SYNC_ID = "ivo://ivoa.net/std/SODA#sync-1.0"
FITS_MIME = "image/fits"

# DataLink 1.1 §3.2: name -> (datatype, ucd)
LINK_FIELDS = (
    ("ID", "char", "meta.id;meta.main"),
    ("access_url", "char", "meta.ref.url"),
    ("service_def", "char", "meta.ref"),
    ("error_message", "char", "meta.code.error"),
    ("semantics", "char", "meta.code"),
    ("description", "char", "meta.note"),
    ("content_type", "char", "meta.code.mime"),
    ("content_length", "long", "phys.size;meta.file"),
    ("content_qualifier", "char", "meta.code.class"),
    ("local_semantics", "char", "meta.code"),
    ("link_auth", "char", "meta.code"),
    ("link_authorized", "boolean", "meta.code"),
)

LinkRow = dict[str, object]


def links_document(rows: Sequence[LinkRow], resources: Sequence[str] = ()) -> str:
    """A DataLink response: the links table, then service descriptor RESOURCEs.

    The ``ID`` FIELD carries the XML ID ``ID`` so descriptors can ``ref`` it.
    """
    fields = "".join(
        f'<FIELD name="{name}" datatype="{dt}" ucd="{ucd}"'
        + (' ID="ID"' if name == "ID" else "")
        + (' arraysize="*"' if dt == "char" else "")
        + (' unit="byte"' if name == "content_length" else "")
        + "/>"
        for name, dt, ucd in LINK_FIELDS
    )
    body = "".join(
        "<TR>" + "".join(_cell(row.get(n)) for n, _, _ in LINK_FIELDS) + "</TR>" for row in rows
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}"><RESOURCE type="results">'
        '<INFO name="standardID" value="ivo://ivoa.net/std/DataLink#links-1.1"/>'
        f'<TABLE name="links">{fields}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE>'
        "</RESOURCE>" + "".join(resources) + "</VOTABLE>\n"
    )


def _cell(value: object) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, bool):
        return "<TD>" + ("T" if value else "F") + "</TD>"
    return f"<TD>{escape(str(value))}</TD>"


def soda_descriptor(access_url: str, resource_id: str = "soda") -> str:
    """The SODA sync service descriptor; its ``ID`` input takes the links row's ``ID``."""
    return (
        f'<RESOURCE type="meta" utype="adhoc:service" ID="{resource_id}">'
        f'<PARAM name="standardID" datatype="char" arraysize="*" value="{SODA_SYNC_ID}"/>'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(access_url)}/>'
        '<GROUP name="inputParams">'
        '<PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.dataset" '
        'ref="ID" value=""/>'
        '<PARAM name="CIRCLE" datatype="double" arraysize="3" xtype="circle" unit="deg" '
        'ucd="obs.field" value=""/>'
        '<PARAM name="POS" datatype="char" arraysize="*" ucd="obs.field" value=""/>'
        "</GROUP></RESOURCE>"
    )


class DatasetIndex:
    """ObsCore rows by publisher DID and by ``obs_id``."""

    def __init__(self, obscore: pa.Table) -> None:
        # A plain ObsCore table (no Rubin band column) still gets images: of noise only.
        wanted = ("obs_publisher_did", "obs_id", "lsst_band", "s_region", "s_resolution")
        rows = obscore.select([c for c in wanted if c in obscore.column_names]).to_pylist()
        self._by_obs_id = {
            str(r["obs_id"]): ImageRow(
                str(r["obs_id"]),
                str(r.get("lsst_band") or ""),
                tuple(r["s_region"] or ()),
                float(r.get("s_resolution") or 1.0),
            )
            for r in rows
        }
        self._did_to_obs = {str(r["obs_publisher_did"]): str(r["obs_id"]) for r in rows}

    def by_did(self, did: str) -> ImageRow | None:
        """The image of a dataset ID, or None."""
        obs_id = self._did_to_obs.get(did)
        return None if obs_id is None else self._by_obs_id[obs_id]

    def by_obs_id(self, obs_id: str) -> ImageRow | None:
        """The image of an ``obs_id``, or None."""
        return self._by_obs_id.get(obs_id)


def with_links_urls(page: pa.Table, links_url: str) -> pa.Table:
    """``page`` with ``access_url`` pointing at this service's ``{links}`` endpoint."""
    if "access_url" not in page.column_names or "obs_publisher_did" not in page.column_names:
        return page
    dids = page.column("obs_publisher_did").to_pylist()
    urls = pa.array(
        [None if d is None else f"{links_url}?ID={quote(str(d), safe='')}" for d in dids],
        pa.string(),
    )
    return page.set_column(page.column_names.index("access_url"), "access_url", urls)


def _params(items: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in items if k.upper() == name]


async def _items(request: Request) -> list[tuple[str, str]]:
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return items


def _error(message: str, status: int) -> Response:
    return Response(error_document(message), status, media_type="application/x-votable+xml")


def _region(items: Sequence[tuple[str, str]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centre (ra, dec) and (width, height) in degrees from CIRCLE or POS.

    Raises
    ------
    CutoutError
        ``UsageError`` for a missing, repeated or malformed region.
    """
    circles, positions = _params(items, "CIRCLE"), _params(items, "POS")
    if len(circles) + len(positions) != 1:
        msg = "UsageError: give exactly one CIRCLE or POS (this service cuts one region)"
        raise CutoutError(msg)
    text = circles[0] if circles else positions[0]
    words = text.split()
    shape = "CIRCLE" if circles else (words.pop(0).upper() if words else "")
    try:
        values = [float(w) for w in words]
    except ValueError:
        values = []
    if shape == "CIRCLE" and len(values) == 3 and values[2] > 0 and abs(values[1]) <= 90:
        ra, dec, radius = values
        return (ra % 360.0, dec), (2 * radius, 2 * radius)
    if shape == "RANGE" and len(values) == 4 and values[0] < values[1] and values[2] < values[3]:
        ra1, ra2, dec1, dec2 = values
        dec = (dec1 + dec2) / 2
        width = (ra2 - ra1) * math.cos(math.radians(dec))
        return (((ra1 + ra2) / 2) % 360.0, dec), (width, dec2 - dec1)
    msg = (
        f"UsageError: cannot read region {text!r}: use CIRCLE=ra dec radius, "
        "POS=CIRCLE ra dec radius or POS=RANGE ra1 ra2 dec1 dec2 (deg)"
    )
    raise CutoutError(msg)


def datalink_router(index: DatasetIndex, images: ImageMaker) -> APIRouter:
    """The ``{links}``, cutout and image routes over ``index``."""
    router = APIRouter()

    def header(row: ImageRow) -> dict[str, object]:
        return {"OBS_ID": row.obs_id, "FILTER": row.band, "ORIGIN": "adql-gateway SIA stand-in"}

    @router.api_route("/datalink/links", methods=["GET", "POST"], name="links")
    async def links(request: Request) -> Response:
        ids = _params(await _items(request), "ID")
        if not ids:
            return _error("UsageError: ID is required", 400)
        base = str(request.base_url).rstrip("/")
        rows: list[LinkRow] = []
        for did in ids:
            row = index.by_did(did)
            if row is None:
                rows.append({"ID": did, "error_message": f"NotFoundFault: no dataset {did}"})
                continue
            rows.append(
                {
                    "ID": did,
                    "access_url": f"{base}/images/{quote(row.obs_id, safe='')}.fits",
                    "semantics": "#this",
                    "description": f"the {row.band}-band image {row.obs_id} (FITS)",
                    "content_type": FITS_MIME,
                    "content_qualifier": "#image",
                }
            )
            rows.append(
                {
                    "ID": did,
                    "service_def": "soda",
                    "semantics": "#cutout",
                    "description": "cutout of this image (SODA sync: CIRCLE or POS)",
                    "content_type": FITS_MIME,
                    "content_qualifier": "#image",
                }
            )
        document = links_document(rows, [soda_descriptor(f"{base}/datalink/cutout")])
        return Response(document, media_type=DATALINK_MIME)

    @router.api_route("/datalink/cutout", methods=["GET", "POST"], name="cutout")
    async def cutout(request: Request) -> Response:
        items = await _items(request)
        ids = _params(items, "ID")
        if len(ids) != 1:
            return _error("UsageError: give exactly one ID", 400)
        row = index.by_did(ids[0])
        if row is None:
            return _error(f"NotFoundFault: no dataset {ids[0]}", 404)
        try:
            centre, size = _region(items)
            body = images.cutout(row, centre, size, header(row))
        except CutoutError as exc:
            return _error(str(exc), 400)
        return Response(body, media_type=FITS_MIME)

    @router.get("/images/{obs_id}.fits", name="image")
    async def image(obs_id: str) -> Response:
        row = index.by_obs_id(obs_id)
        if row is None:
            return _error(f"NotFoundFault: no image {obs_id}", 404)
        return Response(images.fits_bytes(row, header(row)), media_type=FITS_MIME)

    return router


__all__ = [
    "DATALINK_MIME",
    "DatasetIndex",
    "datalink_router",
    "links_document",
    "soda_descriptor",
    "with_links_urls",
]
