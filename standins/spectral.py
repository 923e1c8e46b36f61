"""Legacy Data Lab spectral-ID service stand-in (specs/spectro-ids.md part A).

Routes are served both at the root and under ``/spec`` (the real service's prefix), so a
Data Lab client re-pointed with ``set_svc_url(base + "/spec")`` works unchanged.

[stand-in choices]
- Errors in a constraint, unknown columns, contexts or catalogues are HTTP 400 with a
  ``text/plain`` body ``Error: <reason>`` (the real server answered 200 ``Param Error`` for
  missing parameters and 500 for unknown contexts); no parameter is required.
- ``/query`` also takes ``ra``, ``dec``, ``radius`` (cone), ``polygon`` (``ra1,dec1,...``),
  ``constraint`` (alias of ``cond``) and ``primary`` (``false`` selects ``specobjall``).
- ``/getSpec`` with several ids needs ``align=True`` (a ragged set cannot be one ``.npy``
  without pickle; the real client asks one id at a time then). ``cutout=lo,hi`` keeps the
  pixels with ``lo <= wavelength <= hi`` (Angstrom); the real server had it unimplemented.
  ``format=fits`` returns a FITS binary table of the first spectrum.
- ``require_token`` (``--require-token``) makes it a private service: every route except
  ``/``, ``/available`` and ``/ping`` answers HTTP 401 ``Error: authentication required``
  unless the request carries ``X-DL-AuthToken: <token>`` (Data Lab's header) or
  ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from astropy.io import fits  # type: ignore[import-untyped]
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from numpy.lib.recfunctions import repack_fields

from standins.data_sdss import LOGLAM_STEP, SPEC_DTYPE, synthesize
from standins.evaluate import ConstraintError
from standins.specobjid import to_unsigned
from standins.spectral_query import SpecCatalog
from standins.table_source import load_table

RequestResponder = Callable[[Request], Awaitable[Response]]

VERSION = "2.1.0-standin"
CATALOGS = {
    "sdss_dr16.specobj": "SDSS DR16 primary spectra (one per object)",
    "sdss_dr16.specobjall": "SDSS DR16 all spectra, including duplicates",
}
CONTEXT: dict[str, object] = {
    "description": "SDSS DR16 spectra (stand-in)",
    "type": "public",
    "catalog": "sdss_dr16.specobj",
    "id_main": "specobjid",
    "redshift": "z",
    "rest_frame": "false",
    "catalogs": CATALOGS,
}
CONTEXTS = {"default": CONTEXT, "sdss_dr16": CONTEXT}
PROFILES = {"default": {"description": "Default spectral service profile", "type": "public"}}
_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"


class ParamError(ValueError):
    """A bad request parameter; answered with HTTP 400."""


def _error(message: str) -> PlainTextResponse:
    return PlainTextResponse(f"Error: {message}", status_code=400)


def _context(name: str | None) -> Mapping[str, object]:
    key = name or "default"
    if key not in CONTEXTS:
        raise ParamError(f"unknown context {key!r}; known: {', '.join(CONTEXTS)}")
    return CONTEXTS[key]


def _truthy(value: str | None, *, default: bool) -> bool:
    return default if value in {None, ""} else str(value).lower() in {"true", "1", "yes", "t"}


def _csv(table: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return out.getvalue()


class SpectralService:
    """The tables and the request handling, independent of the HTTP framework."""

    def __init__(self, data: object) -> None:
        self.catalogs = {name: SpecCatalog(load_table(data, name)) for name in CATALOGS}
        recipes = load_table(data, "sdss_dr16.spectra")
        self.recipes = recipes.to_pylist()
        ids = recipes.column("specobjid").to_numpy()
        self.recipe_index = {int(v): i for i, v in enumerate(ids)}

    def query(self, params: Mapping[str, str]) -> str:
        """CSV text for a ``/query`` request."""
        ctx = _context(params.get("context"))
        catalog = params.get("catalog") or str(ctx["catalog"])
        if "primary" in params and not params.get("catalog"):
            primary = _truthy(params["primary"], default=True)
            catalog = "sdss_dr16.specobj" if primary else "sdss_dr16.specobjall"
        if catalog not in self.catalogs:
            raise ParamError(f"unknown catalog {catalog!r}; known: {', '.join(self.catalogs)}")
        cat = self.catalogs[catalog]
        fields_text = (params.get("fields") or "specobjid").strip()
        if fields_text == "tuple":
            fields_text = "plate,mjd,fiberid,run2d"
        fields = [cat.columns.resolve(f.strip()) for f in fields_text.split(",") if f.strip()]
        if "specobjid" not in fields:
            fields.insert(0, "specobjid")
        if params.get("id"):
            wanted = to_unsigned(self._int(params["id"], "id"))
            key = pa.scalar(wanted, pa.uint64())
            table = cat.table.filter(pc.equal(cat.table["specobjid"], key))
        else:
            cond = params.get("cond") or params.get("constraint") or ""
            position = self._position(params)
            if "cond" in params and not cond.strip() and not position:
                # The real service splices cond after WHERE: "SELECT ... WHERE " fails.
                raise ParamError("syntax error at end of input: empty cond after WHERE")
            table = cat.select(cond, position)
        return _csv(table.select(fields))

    @staticmethod
    def _int(text: str, name: str) -> int:
        if not re.fullmatch(r"-?\d+", text.strip()):
            raise ParamError(f"{name} must be an integer, not {text!r}")
        return int(text)

    @staticmethod
    def _position(params: Mapping[str, str]) -> str:
        """The positional clause of the convenience parameters, from validated numbers only."""
        if params.get("polygon"):
            values = [v.strip() for v in params["polygon"].strip("[]()").split(",")]
            if len(values) < 6 or len(values) % 2 or not all(re.fullmatch(_NUM, v) for v in values):
                raise ParamError("polygon needs at least three ra,dec pairs of numbers")
            return f"q3c_poly_query(ra,dec,ARRAY[{','.join(values)}])"
        cone = [params.get(k) for k in ("ra", "dec", "radius")]
        if any(cone):
            if not all(v and re.fullmatch(_NUM, v.strip()) for v in cone):
                raise ParamError("a cone needs numeric ra, dec and radius (deg)")
            ra, dec, radius = (float(str(v)) for v in cone)
            return f"q3c_radial_query(ra,dec,{ra!r},{dec!r},{radius!r})"
        return ""

    # ------------------------------------------------------------------ spectra

    def expand_ids(self, id_list: str) -> list[int]:
        """Unsigned specobjids from ``[id, ...]`` or ``[(plate, mjd, fiber[, run2d]), ...]``."""
        text = id_list.strip()
        if "(" not in text:
            parts = [p.strip() for p in text.strip("[]").split(",") if p.strip()]
            return [to_unsigned(self._int(p, "id_list")) for p in parts]
        table = self.catalogs["sdss_dr16.specobj"].table
        out: list[int] = []
        for group in re.findall(r"\(([^()]*)\)", text):
            parts = [p.strip().strip("'\"") for p in group.split(",") if p.strip()]
            if not parts or len(parts) > 4 or all(p == "*" for p in parts[:2]):
                raise ParamError(f"tuple ({group}) needs plate or mjd")
            mask = np.ones(table.num_rows, bool)
            for name, part in zip(("plate", "mjd", "fiberid", "run2d"), parts, strict=False):
                mask &= self._match(table.column(name).to_numpy(), part, name)
            out += [int(v) for v in table.column("specobjid").to_numpy()[mask]]
        return out

    def _match(self, column: np.ndarray, part: str, name: str) -> np.ndarray:
        if part == "*":
            return np.ones(column.size, bool)
        if name == "run2d":
            return np.asarray(column == part, bool)
        bounds = re.fullmatch(r"(\d+)\s*[-:]\s*(\d+)", part)
        if bounds and name == "fiberid":
            return (column >= int(bounds.group(1))) & (column <= int(bounds.group(2)))
        return np.asarray(column == self._int(part, name), bool)

    def spectrum(self, specobjid: int, cutout: tuple[float, float] | None) -> np.ndarray:
        """One synthesized spectrum, optionally cut to a wavelength window."""
        index = self.recipe_index.get(specobjid)
        if index is None:
            raise ParamError(f"no spectrum for specobjid {specobjid}")
        spec = synthesize(self.recipes[index])
        if cutout is not None:
            wave = 10.0 ** spec["loglam"].astype(float)
            spec = spec[(wave >= cutout[0]) & (wave <= cutout[1])]
        return spec

    def get_spec(self, form: Mapping[str, str]) -> tuple[bytes, str]:
        """``.npy`` (or FITS) bytes and their media type for a ``/getSpec`` form."""
        _context(form.get("context"))
        ids = self.expand_ids(form.get("id_list", ""))
        if not ids:
            raise ParamError("id_list is empty")
        cutout = self._cutout(form.get("cutout", ""))
        spectra = [self.spectrum(i, cutout) for i in ids]
        values = (form.get("values") or "all").strip()
        names = (
            list(SPEC_DTYPE.names or ())
            if values == "all"
            else [v.strip() for v in values.split(",")]
        )
        unknown = [v for v in names if v not in (SPEC_DTYPE.names or ())]
        if unknown:
            raise ParamError(
                f"unknown values {unknown}; known: {', '.join(SPEC_DTYPE.names or ())}"
            )
        if (form.get("format") or "").lower() == "fits":
            buffer = io.BytesIO()
            fits.BinTableHDU(spectra[0]).writeto(buffer)
            return buffer.getvalue(), "application/fits"
        if _truthy(form.get("align"), default=False):
            result = self._align(spectra, form.get("w0"), form.get("w1"))
        elif len(spectra) > 1:
            raise ParamError("several spectra need align=True (or one request per id)")
        else:
            result = spectra[0]
        if values != "all":
            # Selecting fields gives a padded view; repack so the .npy holds only them.
            result = repack_fields(result[names])
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(result), allow_pickle=False)
        return buffer.getvalue(), "application/octet-stream"

    @staticmethod
    def _cutout(text: str) -> tuple[float, float] | None:
        if text.strip() in {"", "None", "none"}:
            return None
        m = re.fullmatch(rf"\s*({_NUM})\s*[,: -]\s*({_NUM})\s*", text)
        if not m or float(m.group(1)) > float(m.group(2)):
            raise ParamError(f"cutout must be 'lo,hi' in Angstrom, not {text!r}")
        return float(m.group(1)), float(m.group(2))

    @staticmethod
    def span(spectra: list[np.ndarray]) -> tuple[float, float]:
        """Global loglam minimum and maximum."""
        nonempty = [s["loglam"] for s in spectra if s.size]
        if not nonempty:
            raise ParamError("the cutout leaves no pixels")
        return float(min(s[0] for s in nonempty)), float(max(s[-1] for s in nonempty))

    def _align(self, spectra: list[np.ndarray], w0: str | None, w1: str | None) -> np.ndarray:
        lo, hi = self.span(spectra)
        lo = float(w0) if w0 not in {None, "", "None"} else lo
        hi = float(w1) if w1 not in {None, "", "None"} else hi
        npix = round((hi - lo) / LOGLAM_STEP) + 1
        out = np.zeros((len(spectra), npix), SPEC_DTYPE)
        for row, spec in enumerate(spectra):
            # Shared log-lambda grid: pixel k of a spectrum sits at a whole-pixel offset.
            offset = np.rint((spec["loglam"].astype(float) - lo) / LOGLAM_STEP).astype(int)
            keep = (offset >= 0) & (offset < npix)
            out[row, offset[keep]] = spec[keep]
        out["loglam"] = np.linspace(lo, hi, npix, dtype=np.float32)
        return out

    def list_span(self, form: Mapping[str, str]) -> str:
        """JSON ``{"w0": ..., "w1": ...}`` over the id list."""
        cutout = self._cutout(form.get("cutout", ""))
        w0, w1 = self.span(
            [self.spectrum(i, cutout) for i in self.expand_ids(form.get("id_list", ""))]
        )
        return json.dumps({"w0": round(w0, 6), "w1": round(w1, 6)})


def _router(service: SpectralService) -> APIRouter:
    router = APIRouter()

    def params(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    async def form(request: Request) -> dict[str, str]:
        data = dict(request.query_params)
        if request.method == "POST":
            data |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        return data

    @router.get("/")
    async def root() -> PlainTextResponse:
        return PlainTextResponse(f"Spectroscopic data service (stand-in) v{VERSION}\n")

    @router.get("/available")
    async def available() -> PlainTextResponse:
        return PlainTextResponse("True")

    @router.get("/ping")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("OK")

    @router.get("/contexts")
    async def contexts(request: Request) -> Response:
        p = params(request)
        if p.get("context"):
            return Response(json.dumps(_context(p["context"])), media_type="application/json")
        fmt = p.get("format", "text")
        if fmt == "json":
            return Response(json.dumps(CONTEXTS), media_type="application/json")
        if fmt == "csv":
            return PlainTextResponse("\n".join(["name", *CONTEXTS]) + "\n")
        lines = (f"{name:>16s}   {ctx['description']}" for name, ctx in CONTEXTS.items())
        return PlainTextResponse("\n".join(lines) + "\n")

    @router.get("/profiles")
    async def profiles(request: Request) -> Response:
        name = params(request).get("profile")
        if name and name != "None":
            if name not in PROFILES:
                raise ParamError(f"unknown profile {name!r}")
            return Response(json.dumps(PROFILES[name]), media_type="application/json")
        lines = (f"{n:>16s}   {p['description']}" for n, p in PROFILES.items())
        return PlainTextResponse("\n".join(lines) + "\n")

    @router.get("/catalogs")
    async def catalogs(request: Request) -> PlainTextResponse:
        p = params(request)
        cats = CATALOGS
        _context(p.get("context"))  # validates the name; every context serves CATALOGS
        if p.get("format", "csv") == "csv":
            rows = [f"{name},{desc}" for name, desc in cats.items()]
            return PlainTextResponse("\n".join(["catalog_name,description", *rows]) + "\n")
        lines = [f"{name:>30s}   {desc}" for name, desc in cats.items()]
        return PlainTextResponse("\n".join([f"{'Catalog':>30s}   Description", *lines]) + "\n")

    @router.get("/validate")
    async def validate(request: Request) -> PlainTextResponse:
        p = params(request)
        what, value = p.get("what", ""), p.get("value", "")
        ok = (what == "context" and value in CONTEXTS) or (what == "profile" and value in PROFILES)
        return PlainTextResponse("OK" if ok else "Error")

    @router.api_route("/query", methods=["GET", "POST"])
    async def query(request: Request) -> Response:
        return PlainTextResponse(service.query(await form(request)), media_type="text/csv")

    @router.api_route("/listSpan", methods=["GET", "POST"])
    async def list_span(request: Request) -> Response:
        return PlainTextResponse(service.list_span(await form(request)))

    @router.api_route("/getSpec", methods=["GET", "POST"])
    async def get_spec(request: Request) -> Response:
        body, media_type = service.get_spec(await form(request))
        return Response(body, media_type=media_type)

    return router


_PUBLIC_PATHS = frozenset({"", "/available", "/ping"})
"""Routes a private service still answers without a token (liveness probes)."""


def _token_guard(token: str) -> Callable[[Request, RequestResponder], Awaitable[Response]]:
    """HTTP middleware answering 401 to requests without ``token``."""
    accepted = {("x-dl-authtoken", token), ("authorization", f"Bearer {token}")}

    async def guard(request: Request, call_next: RequestResponder) -> Response:
        path = request.url.path.removeprefix("/spec").rstrip("/")
        sent = {(name, request.headers.get(name)) for name, _ in accepted}
        if path in _PUBLIC_PATHS or sent & accepted:
            return await call_next(request)
        response = _error("authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="spectral stand-in"'
        return response

    return guard


def create_spectral_app(data: object, *, require_token: str | None = None) -> FastAPI:
    """Build the legacy spectral-ID service.

    Parameters
    ----------
    data
        A mapping (or the DemoData object) with Parquet paths under ``sdss_dr16.specobj``,
        ``sdss_dr16.specobjall`` and ``sdss_dr16.spectra``.
    require_token
        When given, the service is private: requests must carry this token (see above).

    Returns
    -------
    fastapi.FastAPI
        The application, with every route both at ``/`` and under ``/spec``.
    """
    service = SpectralService(data)
    app = FastAPI(title="Spectral-ID stand-in", docs_url=None, redoc_url=None)

    async def bad_request(_: Request, exc: Exception) -> Response:
        return _error(str(exc))

    app.add_exception_handler(ParamError, bad_request)
    app.add_exception_handler(ConstraintError, bad_request)
    router = _router(service)
    app.include_router(router)
    app.include_router(router, prefix="/spec")
    if require_token is not None:
        app.middleware("http")(_token_guard(require_token))
    return app
