"""SIAv2 stand-in over an ObsCore Parquet table (specs/sia-obscore.md).

Routes: ``/query`` (GET or POST form), ``/capabilities`` and ``/availability`` (VOSI), and
the DataLink, SODA cutout and image routes of :mod:`standins.sia_datalink`; result rows'
``access_url`` point at this service's own ``{links}`` endpoint. Every
standard SIA 2.0 parameter plus RELEASEDATE (SIA 2.1) and Rubin's DPSUBTYPE is supported.
[stand-in choices] Errors are DALI error VOTables whose QUERY_STATUS text starts with
``UsageFault:``, sent with HTTP 400 (DALI: client faults are 4xx; pyvo reads the document
and raises ``DALQueryError`` with that message). ``MAXREC`` defaults to 1000 and is clamped to
10000; a truncated result ends with a trailing ``QUERY_STATUS=OVERFLOW`` INFO, and
``MAXREC=0`` returns the metadata with status OK.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from standins.sia_datalink import DatasetIndex, datalink_router, with_links_urls
from standins.sia_images import ImageMaker
from standins.sia_params import ObsCoreFilter, UsageFault, normalise
from standins.sia_votable import (
    availability_document,
    capabilities_document,
    error_document,
    results_document,
)
from standins.table_source import load_table

VOTABLE_MIME = "application/x-votable+xml"
DEFAULT_MAXREC = 1000
MAX_MAXREC = 10000


def create_sia_app(
    data: object,
    *,
    default_maxrec: int = DEFAULT_MAXREC,
    max_maxrec: int = MAX_MAXREC,
    table_key: str = "ivoa.ObsCore",
    objects_key: str = "dp1.Object",
) -> FastAPI:
    """Build the SIAv2 ASGI application.

    Parameters
    ----------
    data
        A mapping with ``table_key`` -> Parquet path, or the DemoData object.
    default_maxrec, max_maxrec
        MAXREC when the client gives none, and the hard limit.
    table_key
        Which table of ``data`` holds the ObsCore rows.
    objects_key
        Which table holds the sources drawn into the images (``dp1.Object`` columns).

    Returns
    -------
    fastapi.FastAPI
        The application; mount it anywhere, the capabilities use the request's base URL.
    """
    table = load_table(data, table_key)
    try:
        objects: pa.Table | None = load_table(data, objects_key)
    except KeyError:  # an ObsCore table alone: the images hold sky noise only
        objects = None
    obscore = ObsCoreFilter(table)
    app = FastAPI(title="SIAv2 stand-in", docs_url=None, redoc_url=None)

    async def query(request: Request) -> Response:
        items = list(request.query_params.multi_items())
        if request.method == "POST":
            form = await request.form()
            items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        try:
            sia = normalise(items, default_maxrec, max_maxrec)
            rows = np.flatnonzero(obscore.mask(sia.params))
        except UsageFault as exc:
            return Response(error_document(f"UsageFault: {exc}"), 400, media_type=VOTABLE_MIME)
        overflow = rows.size > sia.maxrec and sia.maxrec > 0
        page = with_links_urls(table.take(rows[: sia.maxrec]), str(request.url_for("links")))
        body = results_document(page, overflow, str(request.url_for("query")))
        return StreamingResponse(body, media_type=VOTABLE_MIME)

    async def capabilities(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return Response(capabilities_document(base), media_type="text/xml")

    async def availability() -> Response:
        return Response(availability_document(), media_type="text/xml")

    app.add_api_route("/query", query, methods=["GET", "POST"], name="query")
    app.add_api_route("/capabilities", capabilities, methods=["GET"])
    app.add_api_route("/availability", availability, methods=["GET"])
    app.include_router(datalink_router(DatasetIndex(table), ImageMaker(objects)))
    return app
