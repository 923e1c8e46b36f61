"""The soundness check shared by the planner property tests.

``rows(query over the full table) == rows(local_query over what the backend returned)``,
compared as multisets: the rendered requests are sent with httpx to the real stand-in
(following pages), the CSV answers are read with the column types of the source Parquet
file, ``local_query`` runs over them in a :class:`LocalEngine`, and the reference answer is
the original query run by a :class:`LocalEngine` over the full Parquet file.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

from gateway.engine.local import LocalEngine
from grammar import nodes as n
from planners.base import BackendRequest, Planner
from planners.negotiate import Fragment, negotiate


def cone_forms(lon: str, lat: str, ra: float, dec: float, r: float) -> list[str]:
    """Cone conditions over columns ``lon``, ``lat`` about (``ra``, ``dec``), radius ``r`` deg.

    Every form a planner must recognise: CONTAINS with CIRCLE, DISTANCE open and closed and
    written either way round, a BOX, and the radius written as a constant expression.
    """
    point = f"POINT({lon}, {lat})"
    written = [repr(r), f"{r * 3600!r}/3600", f"2 * {r / 2!r}"]
    return [
        *(f"CONTAINS({point}, CIRCLE({ra}, {dec}, {w})) = 1" for w in written),
        f"1 = CONTAINS(POINT('ICRS', {lon}, {lat}), CIRCLE(POINT('ICRS', {ra}, {dec}), {r}))",
        *(f"DISTANCE({point}, POINT({ra}, {dec})) < {w}" for w in written),
        *(f"{w} >= DISTANCE(POINT({ra}, {dec}), {point})" for w in written),
        f"CONTAINS({point}, BOX({ra}, {dec}, {written[1]}, {2 * r})) = 1",
    ]


def _read_csv(text: bytes, schema: pa.Schema) -> pa.Table:
    if not text.strip():
        return schema.empty_table()
    header = text.split(b"\n", 1)[0].decode().split(",")
    types = {name: schema.field(name).type for name in header}
    # CSV cannot tell NULL text from empty text; the demo tables hold no NULL strings.
    options = csv.ConvertOptions(
        column_types=types, strings_can_be_null=False, timestamp_parsers=[csv.ISO8601]
    )
    # A one-column row holding NULL is an empty line: it must not be skipped.
    parse = csv.ParseOptions(ignore_empty_lines=False)
    return csv.read_csv(io.BytesIO(text), parse_options=parse, convert_options=options)


def fetch(client: httpx.Client, request: BackendRequest, schema: pa.Schema) -> pa.Table:
    """Every row of one request, following pages while a page comes back full."""
    tables, page = [], 1
    while True:
        params: list[tuple[str, str | int | float | bool | None]] = [
            (k, str(page) if k == "page" else v) for k, v in request.params
        ]
        response = client.request(request.method, request.url, params=params)
        assert response.status_code == 200, (request, response.text)
        table = _read_csv(response.content, schema)
        tables.append(table)
        paging = request.paging
        if paging is None or not paging.may_overflow or table.num_rows < paging.pagesize:
            break
        page += 1
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else round(value, 9)
    return value


def _rows(engine: LocalEngine, query: n.Query) -> list[tuple[Any, ...]]:
    result = engine.execute(query)
    batches = list(result.batches)
    if not batches:
        return []
    table = pa.Table.from_batches(batches)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [tuple(_normal(v) for v in row) for row in zip(*columns, strict=True)]


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in row)


def check(
    planner: Planner[Any], query: n.Query, table: str, parquet: Path, client: httpx.Client
) -> Fragment:
    """Assert the soundness invariant for ``query``; return the fragment for more checks."""
    fragment = negotiate(planner, query)
    schema = pq.read_schema(parquet)
    fetched = pa.concat_tables([fetch(client, r, schema) for r in fragment.requests])
    reference = LocalEngine()
    reference.add_file(table, parquet)
    expected = _rows(reference, query)
    if fragment.local_query is None:
        got = [
            tuple(_normal(v) for v in row)
            for row in zip(*fetched.to_pydict().values(), strict=True)
        ]
        wanted_width = len(expected[0]) if expected else fetched.num_columns
        assert fetched.num_columns == wanted_width
    else:
        local = LocalEngine()
        local.add_table(".".join(fragment.rows_table), fetched)
        got = _rows(local, fragment.local_query)
    ordered = bool(query.order_by) and all(
        isinstance(o.expression, n.ColumnReference) for o in query.order_by
    )
    if not ordered:
        expected, got = sorted(expected, key=_key), sorted(got, key=_key)
    assert got == expected, (fragment.requests, fragment.local_query)
    return fragment
