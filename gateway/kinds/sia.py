"""The ``sia`` kind: an SIAv2 query service exposed as ``<backend>.obscore`` (sia-obscore.md).

The columns are the ObsCore 1.1 ones (plus the Rubin extension columns for ``sia_profile =
"rubin"``): SIAv2 answers with ObsCore, so nothing needs to be read from the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from gateway.kinds.registry import BackendKind, KindLoad
from gateway.table_meta import TableMeta
from planners.base import Capability
from planners.sia import RUBIN_DP1_COLUMNS, SiaPlanner, sia_params_to_query

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig
    from grammar.nodes import Query


class SiaKind(BackendKind):
    """SIAv2: POS/BAND/TIME... parameters, MAXREC; one ObsCore table per backend."""

    name = "sia"
    capabilities = Capability.FILTER | Capability.CONE | Capability.LIMIT
    runid_parameter = True

    reverse_table = "ivoa.obscore"
    row_keys = ("obs_publisher_did",)

    @override
    def params_to_query(self, params: str | dict[str, Any], table: str | None) -> Query:
        """An SIAv2 request as ADQL on ObsCore; a JSON list is a repeated parameter."""
        if not isinstance(params, str):
            params = {
                key: [str(v) for v in value] if isinstance(value, list) else str(value)
                for key, value in params.items()
            }
        return sia_params_to_query(params, table=table or self.reverse_table)

    @override
    def planner(self, config: BackendConfig) -> SiaPlanner | None:
        """The SIAv2 planner of ``config`` (None without a url)."""
        if not config.url:
            return None
        rubin = config.sia_profile == "rubin"
        return SiaPlanner(
            backend=config.name,
            url=config.url,
            extra_columns=RUBIN_DP1_COLUMNS if rubin else (),
            extensions=frozenset({"DPSUBTYPE"}) if rubin else frozenset(),
        )

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """``<backend>.obscore`` with the planner's ObsCore columns."""
        del client
        planner = self.planner(config)
        assert planner is not None  # check_config requires a url
        columns = tuple(planner.columns(None))
        meta = TableMeta(config.name, f"{config.name}.obscore", "ObsCore 1.1 (SIAv2)", columns)
        return KindLoad((meta,), "ObsCore columns", planner)
