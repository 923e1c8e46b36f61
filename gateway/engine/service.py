"""The query service over ``local`` backends: data files served by the in-process engine.

Column metadata comes from the files themselves (Arrow field metadata keys ``unit``, ``ucd``,
``utype``, ``description``, ``xtype``) and from the sidecar ``columns`` of the configuration,
which wins. The same metadata feeds ``/tables``, ``TAP_SCHEMA`` and result FIELDs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pyarrow as pa

from gateway.engine.local import LocalEngine, QueryResult
from gateway.formats.arrow_types import column_meta_from_arrow, field_metadata
from gateway.formats.table_files import file_schema
from gateway.kinds.registry import kind_for
from gateway.query.cancellation import Cancellation, in_worker_thread
from gateway.query.options import RunOptions, check_query
from gateway.settings import ColumnOverride, GatewaySettings, LocalTable
from gateway.table_meta import SchemaMeta, TableMeta
from gateway.tap.example_catalog import runnable_examples
from gateway.tap.examples import Example
from gateway.tap.tap_schema import build_tap_schema
from gateway.tap.uploads import UploadedTable
from grammar.nodes import Query
from planners.sql_catalog import ColumnInfo

__all__ = ["LocalQueryService", "file_schema", "table_columns"]


def table_columns(
    schema: pa.Schema, overrides: Mapping[str, ColumnOverride]
) -> tuple[ColumnInfo, ...]:
    """Column metadata of a file's schema with the configured sidecar applied."""
    folded = {name.lower(): value for name, value in overrides.items()}
    columns = []
    for field in schema:
        meta = column_meta_from_arrow(field)
        override = folded.get(field.name.lower())
        if override is not None:
            changes = {k: v for k, v in override.model_dump().items() if v is not None}
            meta = dataclasses.replace(meta, **changes)
        columns.append(meta)
    return tuple(columns)


def _table_meta(table: LocalTable) -> TableMeta:
    schema_name, _, _ = table.name.rpartition(".")
    return TableMeta(
        schema_name=schema_name or "default",
        table_name=table.name,
        description=table.description,
        columns=table_columns(file_schema(table.path), table.columns),
    )


def _group(tables: Sequence[TableMeta]) -> list[SchemaMeta]:
    by_schema: dict[str, list[TableMeta]] = {}
    for table in tables:
        by_schema.setdefault(table.schema_name, []).append(table)
    return [SchemaMeta(name, None, tuple(members)) for name, members in by_schema.items()]


class LocalQueryService:
    """Answers ADQL over the tables of every ``local`` backend of the settings."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._engine = LocalEngine()
        metas: list[TableMeta] = []
        for backend in settings.backends:
            if kind_for(backend.kind).remote:
                continue
            for table in backend.tables:
                meta = _table_meta(table)
                self._engine.add_file(table.name, table.path, meta.columns)
                metas.append(meta)
        tap_schema = build_tap_schema(_group(metas))
        for name, data in tap_schema.tables.items():
            own = next(t for t in tap_schema.meta.tables if t.table_name.lower().endswith(name))
            self._engine.add_table(("TAP_SCHEMA", name), data, own.columns)
        self._schemas = tuple(tap_schema.schemas)
        # The known examples this service can run, then a first look at its own tables.
        self._examples = (*runnable_examples(self._schemas), *_default_examples(metas))

    def schemas(self) -> Sequence[SchemaMeta]:
        """Configured schemas plus TAP_SCHEMA."""
        return self._schemas

    def examples(self) -> Sequence[Example]:
        """Example queries built from the configured tables."""
        return self._examples

    async def start(self) -> None:
        """Nothing is bound to an event loop: the engine serves every thread."""

    async def run(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation,
        options: RunOptions,
    ) -> QueryResult:
        """Type-check and execute ``query`` in the engine (a worker thread).

        ``options`` are the federation's; with no backends there is nothing they change.
        """
        del options
        return await in_worker_thread(
            cancellation, self._execute, query, uploads, maxrec, cancellation
        )

    def _execute(
        self,
        query: Query,
        uploads: Mapping[str, UploadedTable],
        maxrec: int,
        cancellation: Cancellation,
    ) -> QueryResult:
        check_query(query, self._schemas, uploads)
        return self._engine.execute(
            query,
            uploads={name: _with_metadata(up) for name, up in uploads.items()},
            maxrec=maxrec,
            cancellation=cancellation,
        )

    async def aclose(self) -> None:
        """Close the engine."""
        self._engine.close()


def _with_metadata(upload: UploadedTable) -> pa.Table:
    """The upload's table with each column's VOTable metadata on its Arrow field.

    The engine reads units and xtypes from field metadata, so an uploaded timestamp or
    point column keeps its xtype through a query (TAP requires uploads to round-trip).
    """
    by_name = {meta.name: meta for meta in upload.columns}
    fields = [
        field.with_metadata(field_metadata(by_name[field.name])) if field.name in by_name else field
        for field in upload.table.schema
    ]
    return upload.table.cast(pa.schema(fields))


def _default_examples(tables: Sequence[TableMeta]) -> list[Example]:
    examples = []
    for table in tables[:3]:
        first = table.columns[0].name if table.columns else "*"
        examples.append(
            Example(
                f"First rows of {table.table_name}",
                f"A peek at {table.table_name}.",
                f"SELECT TOP 10 {first} FROM {table.table_name}",  # noqa: S608  (our own names)
                (table.table_name,),
            )
        )
    return examples
