"""Schema and table metadata as VOSI-tables and TAP_SCHEMA describe them.

One set of values feeds both ``/tables`` (:mod:`gateway.tap.vosi`) and the ``TAP_SCHEMA`` tables
(:mod:`gateway.tap.tap_schema`), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from planners.sql_catalog import ColumnInfo

TableType: TypeAlias = Literal["table", "view"]


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key from the owning table to ``target_table``.

    Parameters
    ----------
    target_table
        Qualified name of the referenced table, as written in queries.
    columns
        ``(from_column, target_column)`` pairs, in key order.
    key_id
        Identifier for ``TAP_SCHEMA.keys.key_id``; generated when None.
    description
        Free text.
    utype
        Data-model role of the key.
    """

    target_table: str
    columns: tuple[tuple[str, str], ...]
    key_id: str | None = None
    description: str | None = None
    utype: str | None = None


@dataclass(frozen=True, slots=True)
class TableMeta:
    """One table or view a client can query.

    Parameters
    ----------
    schema_name
        Name of the schema holding the table.
    table_name
        Qualified name as written in queries (``schema.table``; quoted parts if delimited).
    description
        Free text, or None.
    columns
        Columns in their natural order (this order becomes ``column_index``).
    table_type
        ``"table"`` or ``"view"`` (TAP_SCHEMA.tables.table_type).
    foreign_keys
        Keys from this table to others.
    utype
        Data-model role of the table.
    """

    schema_name: str
    table_name: str
    description: str | None
    columns: tuple[ColumnInfo, ...]
    table_type: TableType = "table"
    foreign_keys: tuple[ForeignKey, ...] = ()
    utype: str | None = None

    def column(self, name: str) -> ColumnInfo | None:
        """Return the column called ``name`` (case-insensitive), or None."""
        folded = name.casefold()
        return next((c for c in self.columns if c.name.casefold() == folded), None)


@dataclass(frozen=True, slots=True)
class SchemaMeta:
    """One schema and its tables, in display order.

    Parameters
    ----------
    name
        Schema name as written in queries.
    description
        Free text, or None.
    tables
        The schema's tables.
    utype
        Data-model role of the schema.
    """

    name: str
    description: str | None
    tables: tuple[TableMeta, ...]
    utype: str | None = None
