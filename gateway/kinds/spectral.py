"""The ``spectral`` kind: the legacy spectral-ID service (spectro-ids.md).

Tables are ``<context>.specobj`` and ``<context>.specobjall`` with the planner's catalogue
columns; credentials go in Data Lab's ``X-DL-AuthToken`` header unless configured otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from gateway.kinds.registry import BackendKind, KindLoad
from gateway.settings import BackendConfig
from gateway.table_meta import TableMeta
from grammar.nodes import Identifier, TableName
from planners.base import Capability
from planners.spectral import DEFAULT_BASE_URL, SpectralPlanner
from planners.spectral_ids import ID_COLUMN
from planners.spectral_reverse import spectral_params_to_query

if TYPE_CHECKING:
    import httpx

    from grammar.nodes import Query

DEFAULT_CONTEXT = "sdss_dr16"


class SpectralKind(BackendKind):
    """Spectral-ID search: cone and column constraints, id lookups, projection, ORDER, LIMIT."""

    name = "spectral"
    capabilities = (
        Capability.PROJECTION
        | Capability.FILTER
        | Capability.CONE
        | Capability.LIMIT
        | Capability.ORDER
        | Capability.ID_LOOKUP
    )
    default_auth = "datalab"
    spectrum_links = True

    reverse_table = "the context's specobj"
    row_keys = (ID_COLUMN,)

    @override
    def params_to_query(self, params: str | dict[str, Any], table: str | None) -> Query:
        """A legacy spectral ``/query`` request as ADQL."""
        return spectral_params_to_query(params, table=table)

    @override
    def public_backend(self) -> BackendConfig:
        """The public service (Data Lab, context sdss_dr16)."""
        return BackendConfig(
            name="spec", kind=self.name, url=DEFAULT_BASE_URL, context=DEFAULT_CONTEXT
        )

    @override
    def planner(self, config: BackendConfig) -> SpectralPlanner:
        """The planner of ``config`` (public Data Lab service and context when unset)."""
        return SpectralPlanner(
            backend=config.name,
            base_url=config.url or DEFAULT_BASE_URL,
            contexts=(config.context or DEFAULT_CONTEXT,),
        )

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The context's ``specobj`` tables with the planner's columns."""
        del client
        planner = self.planner(config)
        tables = []
        for name in planner.table_names():
            handle = planner.scan(TableName(tuple(Identifier(p) for p in name.split("."))))
            columns = tuple(planner.columns(handle))
            tables.append(TableMeta(name.split(".")[0], name, "Spectroscopic objects", columns))
        return KindLoad(tuple(tables), "spectral catalogue columns", planner)
