"""The ``local`` kind: Parquet, CSV, FITS or VOTable files served by the gateway's own engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from gateway.engine.service import file_schema, table_columns
from gateway.kinds.registry import BackendKind, KindLoad
from gateway.table_meta import TableMeta

if TYPE_CHECKING:
    import httpx

    from gateway.settings import BackendConfig


class LocalKind(BackendKind):
    """Files named in the configuration; no HTTP, no planner (the engine runs the SQL)."""

    name = "local"
    remote = False

    @override
    def check_config(self, config: BackendConfig) -> str | None:
        """A local backend needs at least one table."""
        if not config.tables:
            return f"backend '{config.name}' of kind local needs at least one [[backends.tables]]"
        return None

    @override
    def load(self, client: httpx.Client, config: BackendConfig) -> KindLoad:
        """The configured files' columns, with the configured metadata overrides."""
        del client
        tables = []
        for table in config.tables:
            schema_name, _, _ = table.name.rpartition(".")
            columns = table_columns(file_schema(table.path), table.columns)
            meta = TableMeta(schema_name or "default", table.name, table.description, columns)
            tables.append(meta)
        return KindLoad(tuple(tables), "local files")
