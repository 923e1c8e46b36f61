"""The HSC REST stand-in: a Starlette app mounted at ``/api/v0.1/hsc`` like the real service.

Routes (hsc-rest.md §1)::

    /api/v0.1/hsc/{release}/summary/{magtype}[.{fmt}]     GET, POST
    /api/v0.1/hsc/{release}/{table}[.{fmt}]               GET, POST
    /api/v0.1/hsc/{release}/summary/{magtype}/metadata    GET
    /api/v0.1/hsc/{release}/{table}/metadata              GET

Queries run in DuckDB over the demo Parquet files (see :mod:`standins.hsc_query` for the
parameters and :mod:`standins.hsc_formats` for the streamed output). A request without any
parameter answers the first page (50,000 rows) instead of refusing: the notebooks refuse
client-side, and the generic Catalogs.MAST service treats no criteria as "everything".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from planners.sql_scope import quoted_sql
from standins.hsc_formats import (
    CONTENT_TYPES,
    FORMATS,
    Options,
    batch_bytes,
    footer,
    format_from_accept,
    header,
    row_expression,
)
from standins.hsc_query import HscQuery, RequestError, SqlParams, parse_query
from standins.hsc_schema import (
    LEGAL_TABLES,
    MAGTYPES,
    TABLES,
    HscTable,
    federated_name,
    metadata_record,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from starlette.requests import Request
    from starlette.types import ASGIApp

    from standins.data import DemoData

BASE_PATH = "/api/v0.1/hsc"
_BATCH_ROWS = 8_192


class _Catalog:
    """The DuckDB database with one view per table, and a cursor per request."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self.tables = {name: TABLES[name] for name in files if name in TABLES}
        self._db = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
        self._lock = threading.Lock()
        for name in self.tables:
            path = str(files[name]).replace("'", "''")
            # Both the name and the path come from our own configuration, not from requests.
            view = f"CREATE VIEW {quoted_sql(name)} AS SELECT * FROM read_parquet('{path}')"  # noqa: S608
            self._db.execute(view)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._db.cursor()


def _resolve(catalog: _Catalog, release: str, table: str, magtype: str | None) -> HscTable:
    """The table a request path names; RequestError for illegal combinations."""
    if release not in LEGAL_TABLES:
        raise RequestError(f"unknown release {release!r} (v2 or v3)", "release")
    if table not in LEGAL_TABLES[release]:
        legal = ", ".join(sorted(LEGAL_TABLES[release]))
        raise RequestError(f"unknown table {table!r} for {release} (one of {legal})", "table")
    if table == "summary" and magtype not in MAGTYPES:
        raise RequestError(f"unknown magtype {magtype!r} (magaper2 or magauto)", "magtype")
    name = federated_name(release, table, magtype)
    if name not in catalog.tables:
        raise RequestError(f"table {table!r} is not served by this stand-in", "table")
    return catalog.tables[name]


def _split_suffix(segment: str) -> tuple[str, str | None]:
    stem, dot, suffix = segment.rpartition(".")
    if not dot:
        return segment, None
    if suffix.lower() not in FORMATS:
        raise RequestError(f"unknown format {suffix!r}", "format")
    return stem, FORMATS[suffix.lower()]


def _value_strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [x for v in value for x in _value_strings(v)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None:
        return [""]
    return [str(value)]


async def _pairs(request: Request) -> list[tuple[str, str]]:
    """Query string and body parameters; a key given in the body replaces the query's."""
    query = list(request.query_params.multi_items())
    if request.method != "POST":
        return query
    body: list[tuple[str, str]] = []
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            payload = json.loads(await request.body() or b"{}")
        except ValueError:
            raise RequestError("the JSON body is not valid JSON", "body") from None
        if not isinstance(payload, dict):
            raise RequestError("the JSON body must be an object", "body")
        body = [(k, v) for k, value in payload.items() for v in _value_strings(value)]
    else:
        form = await request.form()
        body = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    replaced = {k.lower() for k, _ in body}
    return [(k, v) for k, v in query if k.lower() not in replaced] + body


def _choose_format(suffix: str | None, pairs: list[tuple[str, str]], accept: str) -> str:
    given = [v for k, v in pairs if k.lower() == "format"]
    if suffix is not None:
        return suffix
    if given:
        if given[-1].lower() not in FORMATS:
            raise RequestError(f"unknown format {given[-1]!r}", "format")
        return FORMATS[given[-1].lower()]
    return format_from_accept(accept) or "json"


def _sql(query: HscQuery, fmt: str, options: Options, params: SqlParams) -> str:
    row = row_expression(fmt, query.columns, options, params)
    where = query.where(params)
    limit, offset = params.bind(query.pagesize), params.bind((query.page - 1) * query.pagesize)
    # Only schema-checked, quoted names and $placeholders are in the text; values are bound.
    sql = f"SELECT {row} AS line FROM {quoted_sql(query.table.name)} WHERE {where}"  # noqa: S608
    return f"{sql} {query.order_by()} LIMIT {limit} OFFSET {offset}"


def _open_reader(catalog: _Catalog, sql: str, params: SqlParams) -> pa.RecordBatchReader:
    cursor = catalog.cursor()
    try:
        relation = cursor.sql(sql, params=params.values)
        assert relation is not None  # a SELECT always gives a relation
        return relation.to_arrow_reader(_BATCH_ROWS)
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise RequestError(f"cannot evaluate the request: {exc}", None) from exc


def _stream(head: bytes, reader: pa.RecordBatchReader, fmt: str) -> Iterator[bytes]:
    yield head
    first = fmt == "json"
    for batch in reader:
        chunk = batch_bytes(batch)
        if first and chunk:
            chunk, first = chunk[1:], False  # drop the separator before the first row
        if chunk:
            yield chunk
    yield footer(fmt)


def create_hsc_app(data: DemoData | Mapping[str, Path]) -> ASGIApp:
    """The HSC stand-in as an ASGI app, serving the tables of ``data``.

    Parameters
    ----------
    data
        Demo data, or a mapping of federated table names (``hscv3.summary``, ...) to Parquet
        files; tables without a file answer HTTP 400 like an unknown table.

    Returns
    -------
    ASGIApp
        An app whose routes live under ``/api/v0.1/hsc``.
    """
    files = data if isinstance(data, Mapping) else data.tables()
    catalog = _Catalog({k: v for k, v in files.items() if Path(v).is_file()})

    def table_of(request: Request) -> tuple[HscTable, str | None]:
        p = request.path_params
        if "magtype" in p:
            magtype, suffix = _split_suffix(p["magtype"])
            return _resolve(catalog, p["release"], "summary", magtype), suffix
        table, suffix = _split_suffix(p["table"])
        if table == "summary":
            raise RequestError("summary needs a magtype: summary/magaper2 or magauto", "magtype")
        return _resolve(catalog, p["release"], table, None), suffix

    async def metadata(request: Request) -> Response:
        table, _ = table_of(request)
        return JSONResponse([metadata_record(c, i) for i, c in enumerate(table.columns)])

    async def search(request: Request) -> Response:
        table, suffix = table_of(request)
        pairs = await _pairs(request)
        fmt = _choose_format(suffix, pairs, request.headers.get("accept", ""))
        query = parse_query(table, pairs)
        grouped: dict[str, list[str]] = {}
        for k, v in pairs:
            grouped.setdefault(k.lower(), []).append(v)
        options = Options.from_params(grouped)
        params = SqlParams()
        sql = _sql(query, fmt, options, params)
        reader = await run_in_threadpool(_open_reader, catalog, sql, params)
        head = header(fmt, query.columns, options, table.name)
        return StreamingResponse(_stream(head, reader, fmt), media_type=CONTENT_TYPES[fmt])

    async def bad_request(_: Request, exc: Exception) -> Response:
        param = exc.param if isinstance(exc, RequestError) else None
        return JSONResponse({"error": str(exc), "param": param}, status_code=400)

    methods = ["GET", "POST"]
    routes = [
        Route("/{release}/summary/{magtype}/metadata", metadata, methods=["GET"]),
        Route("/{release}/summary/{magtype}/metadata.json", metadata, methods=["GET"]),
        Route("/{release}/summary/{magtype}", search, methods=methods),
        Route("/{release}/{table}/metadata", metadata, methods=["GET"]),
        Route("/{release}/{table}/metadata.json", metadata, methods=["GET"]),
        Route("/{release}/{table}", search, methods=methods),
    ]
    return Starlette(
        routes=[Mount(BASE_PATH, routes=routes)],
        exception_handlers={RequestError: bad_request},
    )
