"""The ``tap`` kind: a TAP 1.1 service (tap-server.md), whole queries pushed where possible.

Tables and columns come from the service's VOSI ``/tables`` (its ``/capabilities`` say whether
it takes uploads and how many rows), with the configured schema prefix applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from gateway.federation.catalog_sources import read_tap_service
from gateway.kinds.registry import BackendKind, KindLoad
from planners.base import Capability
from planners.tap import TapPlanner

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig


class TapKind(BackendKind):
    """A TAP service: ADQL pushed whole, TAP_UPLOAD joins when the service takes uploads."""

    name = "tap"
    capabilities = (
        Capability.PROJECTION
        | Capability.FILTER
        | Capability.CONE
        | Capability.LIMIT
        | Capability.ORDER
        | Capability.AGGREGATE
        | Capability.JOIN
        | Capability.UPLOAD_SEMIJOIN
    )
    runid_parameter = True
    row_keys = ("objectId", "obs_publisher_did")  # Rubin-style catalogues, ObsCore tables

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The remote tables from ``/tables``; the planner knows the service's features."""
        assert config.url is not None
        prefix = config.schema_prefix or ""
        service = read_tap_service(client, config.url, prefix)
        planner = TapPlanner(
            backend=config.name,
            url=config.url,
            tables=service.tables,
            schema_prefix=prefix,
            features=service.features,
        )
        message = f"{len(service.federated)} tables from /tables"
        return KindLoad(service.federated, message, planner, upload_rows=service.upload_rows)
