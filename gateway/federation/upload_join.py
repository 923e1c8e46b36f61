"""UploadJoin: the outer side's positions go to a TAP backend as ``TAP_UPLOAD`` tables.

Only a row index and the two position columns are uploaded (``fed_row``, ``fed_ra``,
``fed_dec``), in blocks of at most ``upload_block_rows`` rows (lowered to the backend's
stated upload limit). The backend runs

``SELECT fed_t.<needed columns>, fed_u.fed_row FROM <table> AS fed_t
JOIN TAP_UPLOAD.fedxm AS fed_u ON CONTAINS(POINT(fed_t.ra, fed_t.dec),
CIRCLE(fed_u.fed_ra, fed_u.fed_dec, r')) = 1 WHERE <the inner side's own conditions>``

with ``r'`` a hair larger than ``r``. The answer has one row per matching pair; ``fed_row``
becomes the hidden link column :func:`link_column`, and the local query joins on it (the
outer side gets the same column: its row number), so every pair appears exactly once and the
exact cross-match test is still made locally.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from gateway.errors import BackendError
from gateway.federation.fetched import Fetched, empty_table
from gateway.federation.refs import qualify
from gateway.formats.votable import write_votable
from grammar.parser import parse
from grammar.printer import to_adql
from grammar.printer_values import identifier, name_identifier
from planners.sql_catalog import ColumnInfo

if TYPE_CHECKING:
    from gateway.federation.planner import ScanPlan
    from gateway.federation.run import PlanRunner
    from planners.base import QueryPlanner

__all__ = ["UPLOAD_NAME", "link_column", "upload_join"]

UPLOAD_NAME = "fedxm"
_UPLOAD_COLUMNS = (
    ColumnInfo("fed_row", "long"),
    ColumnInfo("fed_ra", "double", unit="deg", ucd="pos.eq.ra"),
    ColumnInfo("fed_dec", "double", unit="deg", ucd="pos.eq.dec"),
)


def link_column(inner: int) -> str:
    """The hidden column linking an UploadJoin's inner rows to their outer row."""
    return f"__fed_link_{inner}"


def _quote(name: str) -> str:
    return identifier(name_identifier(name))


def remote_query(scan: ScanPlan, positions: tuple[str, str], radius: float) -> str:
    """The ADQL the TAP backend runs for one block."""
    assert scan.table is not None
    names = [c.name for c in scan.columns]
    items = ", ".join(f"fed_t.{_quote(c)}" for c in names)
    table = ".".join(_quote(p) for p in scan.table.name_parts)
    ra, dec = (f"fed_t.{_quote(p)}" for p in positions)
    grown = format(radius * (1 + 1e-9) + 1e-10, ".15f")
    text = (
        f"SELECT {items}, fed_u.fed_row FROM {table} AS fed_t "  # noqa: S608  (AST-built names)
        f"JOIN TAP_UPLOAD.{UPLOAD_NAME} AS fed_u ON "
        f"CONTAINS(POINT({ra}, {dec}), CIRCLE(fed_u.fed_ra, fed_u.fed_dec, {grown})) = 1"
    )
    where = [to_adql(qualify(c, "fed_t")) for c in scan.conjuncts]
    if where:
        text += " WHERE " + " AND ".join(f"({w})" for w in where)
    return text


def _votable(rows: np.ndarray, ra: np.ndarray, dec: np.ndarray) -> bytes:
    table = pa.table({"fed_row": rows, "fed_ra": ra, "fed_dec": dec})
    return b"".join(write_votable(_UPLOAD_COLUMNS, table.to_batches()))


async def upload_join(  # noqa: PLR0917  (the join's parts, each needed)
    runner: PlanRunner,
    scan: ScanPlan,
    planner: QueryPlanner,
    positions: tuple[str, str],
    outer: tuple[np.ndarray, np.ndarray],
    outer_rows: Fetched | None,
) -> tuple[Fetched, Fetched]:
    """Run the join on the TAP backend, block by block; returns (inner, outer) rows.

    The outer rows are returned unchanged (the caller adds the link column, the row number).
    """
    assert scan.table is not None
    assert scan.depends is not None
    assert outer_rows is not None
    ra, dec = outer
    rows = np.flatnonzero(np.isfinite(ra) & np.isfinite(dec)).astype(np.int64)
    block = runner.options.upload_block_rows
    if scan.table.upload_rows:
        block = max(1, min(block, scan.table.upload_rows))
    query = parse(remote_query(scan, positions, scan.depends.radius))
    _, requests = planner.request_for(query)
    request = requests[0]
    metas = (
        *scan.columns,
        ColumnInfo(link_column(scan.ref.index), "long"),
    )

    async def one(start: int) -> pa.Table:
        part = rows[start : start + block]
        body = _votable(part, ra[part], dec[part])
        answer = await runner.executor.fetch(
            planner.backend,
            request,
            run_id=runner.run_id,
            authorization=runner.authorization,
            uploads={UPLOAD_NAME: body},
        )
        if answer.overflow:
            cause = "an upload block's answer overflowed MAXREC; lower upload_block_rows"
            raise BackendError(planner.backend, answer.url, cause)
        runner.report(planner.backend, answer.table.num_rows)
        return answer.table

    try:
        parts = await asyncio.gather(*(one(s) for s in range(0, rows.size, block)))
    except BackendError as error:
        if not runner.partial:
            raise
        runner.failed(error)
        return Fetched(empty_table(metas), metas), outer_rows
    tables = [p for p in parts if p.num_rows] or list(parts[:1])
    if not tables:
        return Fetched(empty_table(metas), metas), outer_rows
    table = pa.concat_tables(tables, promote_options="permissive")
    table = table.rename_columns([*table.column_names[:-1], link_column(scan.ref.index)])
    table = table.set_column(
        table.num_columns - 1, link_column(scan.ref.index), table.column(-1).cast(pa.int64())
    )
    return Fetched(table, metas), outer_rows
