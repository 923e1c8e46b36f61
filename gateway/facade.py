"""``gateway.Gateway``: DESIGN.md's Python API over a configured federation.

::

    gw = Gateway.from_config("gateway.toml")
    gw.translate("SELECT ...")             # the plan
    gw.translate_json("SELECT ...")        # fragments + local_sql (SQL), as the CLI prints
    print(gw.explain("SELECT ..."))        # the plan tree
    result = await gw.execute("SELECT ...", uploads={"mine": table}, maxrec=1000)
    result.table, result.overflow, result.infos
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import anyio.from_thread
import pyarrow as pa

from gateway.engine.local import QueryResult
from gateway.federation.explain import explain_plan
from gateway.federation.plan_sql import plan_json
from gateway.federation.planner import Plan
from gateway.federation.service import FederatedQueryService
from gateway.federation.xmatch import FederationOptions
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.query.cancellation import Cancellation, in_worker_thread
from gateway.query.options import RunOptions
from gateway.settings import GatewaySettings, load_settings
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query
from grammar.parser import parse

__all__ = ["ExecuteResult", "Gateway"]


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """A query's rows, whether MAXREC (or a backend limit) cut them, and the INFOs."""

    table: pa.Table
    overflow: bool
    infos: tuple[tuple[str, str, str], ...] = ()


def _upload(name: str, value: pa.Table | UploadedTable) -> UploadedTable:
    if isinstance(value, UploadedTable):
        return value
    columns = tuple(column_meta_from_arrow(f) for f in value.schema)
    return UploadedTable(name, columns, value)


def _collect(result: QueryResult) -> ExecuteResult:
    """Every row of ``result`` in one table (blocking)."""
    batches = list(result.batches)
    schema = batches[0].schema if batches else None
    table = (
        pa.Table.from_batches(batches, schema)
        if batches
        else pa.table({c.name: pa.array([], pa.null()) for c in result.columns})
    )
    return ExecuteResult(table, result.overflow, result.infos)


class Gateway:
    """A federation of backends answering ADQL (plans, explanations, results).

    Parameters
    ----------
    settings
        The gateway settings (backends and limits).
    options
        Join strategy thresholds and hints.
    """

    def __init__(self, settings: GatewaySettings, options: FederationOptions | None = None) -> None:
        self.settings = settings
        self.service = FederatedQueryService(settings, options)
        # A synchronous library API cannot assume its caller's event loop lives as long as the
        # gateway: the service's HTTP client lives on an event loop thread of its own, this
        # one blocking portal, which every ``execute`` drives.
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._portal.call(self.service.start)

    @classmethod
    def from_config(cls, path: str | Path, options: FederationOptions | None = None) -> Gateway:
        """A gateway for the backends of the TOML file ``path``."""
        return cls(load_settings(Path(path)), options)

    def _query(self, adql: str | Query) -> Query:
        return parse(adql) if isinstance(adql, str) else adql

    def translate(self, adql: str | Query) -> Plan:
        """The plan of ``adql``."""
        return self.service.plan(self._query(adql))

    def translate_json(self, adql: str | Query) -> dict[str, object]:
        """What ``adql-gateway translate --config`` prints and ``/translate`` answers."""
        return plan_json(self.translate(adql), self.service.catalog)

    def explain(self, adql: str | Query) -> str:
        """The plan tree of ``adql`` (a fetch a run would refuse is said so, not raised)."""
        plan = self.service.plan(self._query(adql), options=RunOptions(fetch_whole=True))
        return explain_plan(plan, options=self.service.options)

    async def execute(
        self,
        adql: str | Query,
        *,
        uploads: Mapping[str, pa.Table | UploadedTable] | None = None,
        maxrec: int | None = None,
        partial: bool = False,
        allow_allsky: bool = False,
        fetch_whole: bool = False,
    ) -> ExecuteResult:
        """Run ``adql``; ``maxrec`` defaults to the configured MAXREC default."""
        query = self._query(adql)
        tables = {name: _upload(name, value) for name, value in (uploads or {}).items()}
        limit = self.settings.maxrec_default if maxrec is None else maxrec
        options = RunOptions(partial=partial, allow_allsky=allow_allsky, fetch_whole=fetch_whole)

        # Awaited without a thread: cancelling the caller cancels the query on the portal.
        future = self._portal.start_task_soon(self._execute, query, tables, limit, options)
        return await asyncio.wrap_future(future)

    async def _execute(
        self,
        query: Query,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        options: RunOptions,
    ) -> ExecuteResult:
        cancellation = Cancellation()
        result = await self.service.run(
            query, uploads=uploads, maxrec=maxrec, cancellation=cancellation, options=options
        )
        return await in_worker_thread(cancellation, _collect, result)

    def close(self) -> None:
        """Release the HTTP client and the event loop thread."""
        try:
            self._portal.call(self.service.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Self:
        """Use as ``with Gateway.from_config(...) as gw``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving the block."""
        self.close()
