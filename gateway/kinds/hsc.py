"""The ``hsc`` kind: the Hubble Source Catalog REST service (hsc-rest.md).

Tables are the fixed HSC set (``hscv3.summary``...); their columns come from the service's
``/metadata``, or from the shipped copy when it does not answer (the backend is then degraded).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
from typing_extensions import override

from gateway.federation.catalog_sources import hsc_columns, shipped_hsc_columns
from gateway.kinds.registry import BackendKind, KindLoad
from gateway.settings import BackendConfig
from gateway.table_meta import TableMeta
from grammar.params import params_to_query
from planners.base import Capability
from planners.hsc import DEFAULT_BASE_URL, DEFAULT_PAGESIZE, HscPlanner
from planners.hsc_tables import TABLES

if TYPE_CHECKING:
    from grammar.nodes import Query

log = logging.getLogger(__name__)


class HscKind(BackendKind):
    """HSC REST: cone and column filters, projection, paging (hsc-rest.md)."""

    name = "hsc"
    capabilities = (
        Capability.PROJECTION
        | Capability.FILTER
        | Capability.CONE
        | Capability.LIMIT
        | Capability.ORDER
    )

    reverse_table = "hscv3.summary"
    row_keys = tuple(dict.fromkeys(t.key for t in TABLES.values()))  # MatchID, SourceID, ObjID

    @override
    def params_to_query(self, params: str | dict[str, Any], table: str | None) -> Query:
        """HSC REST filters as ADQL (grammar.params)."""
        return params_to_query(params, table or self.reverse_table)

    @override
    def public_backend(self) -> BackendConfig:
        """The public service (MAST)."""
        # The public service's own page size, not the configuration default (the notebooks').
        return BackendConfig(
            name="hsc", kind=self.name, url=DEFAULT_BASE_URL, page_size=DEFAULT_PAGESIZE
        )

    @override
    def planner(self, config: BackendConfig) -> HscPlanner:
        """The planner for ``config`` (the public MAST service when it has no url)."""
        return HscPlanner(
            backend=config.name, base_url=config.url or DEFAULT_BASE_URL, pagesize=config.page_size
        )

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The HSC tables with the service's own column metadata (shipped copy as fallback)."""
        assert config.url is not None  # check_config requires a url
        tables = []
        problem: str | None = None
        for table in TABLES.values():
            schema = table.name.split(".")[0]
            if problem is not None:
                columns = shipped_hsc_columns(table)  # one failure is enough: do not wait again
                tables.append(TableMeta(schema, table.name, None, columns))
                continue
            try:
                columns = hsc_columns(client, config.url, table)
            except (httpx.HTTPError, ValueError) as exc:
                columns = shipped_hsc_columns(table)
                problem = (
                    f"backend '{config.name}' ({config.url}): /metadata of {table.name} failed "
                    f"({exc}); using the shipped column metadata"
                )
            tables.append(TableMeta(schema, table.name, f"HSC {table.path} (MAST)", columns))
        planner = self.planner(config)
        if problem is not None:
            log.warning("%s", problem)
            return KindLoad(tuple(tables), problem, planner, state="degraded")
        return KindLoad(tuple(tables), "columns from the service's /metadata", planner)
