"""The query page at the service root, its static files, and ``/parse`` (gateway extension).

The page (``gateway/data/web``: plain HTML, CSS and JavaScript, no build step, nothing from
a CDN) lives at the TAP base path with a trailing slash (``/tap/``), so every URL it uses is
relative to the TAP service (``sync``, ``async``, ``tables``, ``explain``...) and a proxy
that mounts the service under another prefix needs no configuration. ``/`` and the bare base
path redirect there with relative ``Location`` headers for the same reason.

``/parse`` checks syntax only: ``{"ok": true, "canonical": ADQL}`` or ``{"ok": false,
"error": {"message", "line", "column", "expected"}}`` (HTTP 200 either way: a syntax error
is the answer, not a failure of the request). The page calls it as the user types.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

import grammar
from gateway.tap.handlers.common import ResourceNotFoundError, gateway_state
from gateway.tap.params import TapUsageError
from gateway.tap.request_params import read_request_params
from grammar.errors import AdqlError, AdqlSyntaxError
from grammar.keywords import ADQL_RESERVED_WORDS, SQL_RESERVED_WORDS
from grammar.printer import to_adql

router = APIRouter()

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page is small and changes with the package: let browsers revalidate every time.
_NO_CACHE = {"Cache-Control": "no-cache"}
# The page loads nothing from elsewhere and runs no inline script; saying so makes injected
# markup (a table description, a cell value) inert even if it ever reached the DOM as HTML.
_PAGE_HEADERS = {
    **_NO_CACHE,
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'self'"
    ),
}


class WebFileNotFoundError(ResourceNotFoundError):
    """``/web/{name}`` names no file of the page (HTTP 404)."""


def _web_dir() -> Traversable:
    return resources.files("gateway").joinpath("data", "web")


def _file(name: str, headers: dict[str, str] = _NO_CACHE) -> Response:
    # Only names listed in the package directory are served: no path ever comes from the URL.
    for entry in _web_dir().iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.name == name and entry.is_file() and suffix in _MEDIA_TYPES:
            return Response(entry.read_bytes(), media_type=_MEDIA_TYPES[suffix], headers=headers)
    raise WebFileNotFoundError(f"no file {name!r} in the web page")


@router.get("/", summary="The query page (ADQL editor, tables, plan, results, async jobs)")
async def index() -> Response:
    return _file("index.html", _PAGE_HEADERS)


@router.get("/web/keywords.json", summary="ADQL and SQL reserved words, for highlighting")
async def keywords() -> Response:
    body = {"adql": sorted(ADQL_RESERVED_WORDS), "sql": sorted(SQL_RESERVED_WORDS)}
    return JSONResponse(body, headers=_NO_CACHE)


@router.get("/web/{name}", summary="A static file of the query page")
async def web_file(name: str) -> Response:
    return _file(name)


_PARSE_SUMMARY = (
    "Check ADQL syntax: canonical ADQL, or the error's line, column and expected tokens "
    "(gateway extension)"
)


# One route per method, each with its own OpenAPI operation id (api_route would give both
# methods the same id, which FastAPI warns about).
@router.get("/parse", summary=_PARSE_SUMMARY, operation_id="parse_get")
@router.post("/parse", summary=_PARSE_SUMMARY, operation_id="parse_post")
async def parse_query(request: Request) -> Response:
    state = gateway_state(request)
    params = await read_request_params(request, max_file_bytes=state.settings.upload_max_bytes)
    text = params.bag.one("QUERY")
    if text is None:
        raise TapUsageError("missing parameter QUERY")
    try:
        query = await anyio.to_thread.run_sync(grammar.parse, text)
    except AdqlSyntaxError as exc:
        error = {
            "message": exc.reason,
            "line": exc.line,
            "column": exc.column,
            "expected": list(exc.expected),
        }
        return JSONResponse({"ok": False, "error": error})
    except AdqlError as exc:
        error = {"message": exc.message, "line": exc.line, "column": exc.column, "expected": []}
        return JSONResponse({"ok": False, "error": error})
    return JSONResponse({"ok": True, "canonical": to_adql(query)})


def mount_web(app: FastAPI, prefix: str) -> None:
    """Serve the page under ``prefix`` (the TAP base path), and redirect ``/`` and ``prefix``.

    Redirects are relative: from ``/a/tap`` the target ``tap/`` is ``/a/tap/``, from ``/`` the
    target ``a/tap/`` is ``/a/tap/``, so the page also works behind a path-rewriting proxy.
    """
    app.include_router(router, prefix=prefix)
    if not prefix:
        return
    last = prefix.rsplit("/", 1)[-1]

    @app.get(prefix, include_in_schema=False)
    async def _to_page() -> Response:
        return RedirectResponse(f"{last}/", status_code=303)

    @app.get("/", include_in_schema=False)
    async def _root_to_page() -> Response:
        return RedirectResponse(f"{prefix.lstrip('/')}/", status_code=303)
