"""TAP_SCHEMA (T §4) as Arrow tables, built from the same metadata that feeds ``/tables``.

:func:`build_tap_schema` adds TAP_SCHEMA's own description to the served schemas, so the
five tables describe themselves and ``/tables`` (rendered from :attr:`TapSchema.schemas`)
agrees with ``TAP_SCHEMA`` by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from gateway.formats.columns import to_votable
from gateway.table_meta import ForeignKey, SchemaMeta, TableMeta
from planners.sql_catalog import ColumnInfo

if TYPE_CHECKING:
    from collections.abc import Sequence

SCHEMA_NAME = "TAP_SCHEMA"
_ONE_D_SIZE = re.compile(r"(\d+)\*?")


def _str(name: str, description: str, *, required: bool = False) -> ColumnInfo:
    return ColumnInfo(
        name, "char", "*", description=description, principal=True, std=True,
        nullable=not required,
    )  # fmt: skip


def _int(name: str, description: str, *, required: bool = False) -> ColumnInfo:
    return ColumnInfo(
        name, "int", description=description, principal=True, std=True, nullable=not required
    )


def _t(name: str, description: str, cols: tuple[ColumnInfo, ...], *fks: ForeignKey) -> TableMeta:
    return TableMeta(SCHEMA_NAME, f"{SCHEMA_NAME}.{name}", description, cols, "table", fks)


def _fk(key_id: str, target: str, from_col: str, target_col: str) -> ForeignKey:
    return ForeignKey(f"{SCHEMA_NAME}.{target}", ((from_col, target_col),), key_id=key_id)


#: The required TAP 1.1 TAP_SCHEMA columns, plus the *_index columns TAP 1.1 defines.
TAP_SCHEMA_META = SchemaMeta(
    SCHEMA_NAME,
    "Metadata of the tables and columns this service offers (TAP 1.1 section 4).",
    (
        _t("schemas", "Schemas in this service.", (
            _str("schema_name", "Schema name as written in queries", required=True),
            _str("utype", "Data-model role of the schema"),
            _str("description", "Description of the schema"),
            _int("schema_index", "Recommended display order of schemas"),
        )),
        _t("tables", "Tables in this service.", (
            _str("schema_name", "Schema holding the table", required=True),
            _str("table_name", "Qualified table name as written in queries", required=True),
            _str("table_type", "table or view", required=True),
            _str("utype", "Data-model role of the table"),
            _str("description", "Description of the table"),
            _int("table_index", "Recommended display order of tables"),
        ), _fk("tap_schema_tables_schema", "schemas", "schema_name", "schema_name")),
        _t("columns", "Columns of the tables in this service.", (
            _str("table_name", "Qualified name of the table", required=True),
            _str("column_name", "Column name as written in queries", required=True),
            _str("datatype", "VOTable datatype", required=True),
            _str("arraysize", "VOTable arraysize"),
            _str("xtype", "VOTable/DALI xtype"),
            # "size" is an ADQL reserved word: the name as written in queries is delimited.
            _int('"size"', "Deprecated: length of 1-D arrays"),
            _str("description", "Description of the column"),
            _str("utype", "Data-model role of the column"),
            _str("unit", "VOUnit of the column values"),
            _str("ucd", "UCD of the column"),
            _int("indexed", "1 if an index speeds up constraints on the column", required=True),
            _int("principal", "1 if the column is of main interest", required=True),
            _int("std", "1 if the column is defined by a standard", required=True),
            _int("column_index", "Recommended display order of columns"),
        ), _fk("tap_schema_columns_table", "tables", "table_name", "table_name")),
        _t("keys", "Foreign keys between tables in this service.", (
            _str("key_id", "Unique key identifier", required=True),
            _str("from_table", "Table holding the key columns", required=True),
            _str("target_table", "Table the key points to", required=True),
            _str("description", "Description of the key"),
            _str("utype", "Data-model role of the key"),
        ),
            _fk("tap_schema_keys_from", "tables", "from_table", "table_name"),
            _fk("tap_schema_keys_target", "tables", "target_table", "table_name"),
        ),
        _t("key_columns", "Columns making up the foreign keys.", (
            _str("key_id", "Key the column pair belongs to", required=True),
            _str("from_column", "Column in the from_table", required=True),
            _str("target_column", "Column in the target_table", required=True),
        ), _fk("tap_schema_key_columns_key", "keys", "key_id", "key_id")),
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TapSchema:
    """The five TAP_SCHEMA tables and the schemas they describe.

    ``tables`` is keyed by unqualified lower-case name (``schemas``, ``tables``,
    ``columns``, ``keys``, ``key_columns``); Arrow column names are plain (``size``, not
    ``"size"``). ``schemas`` is the input plus TAP_SCHEMA itself: render ``/tables`` from it.
    """

    tables: dict[str, pa.Table]
    schemas: tuple[SchemaMeta, ...]
    meta: SchemaMeta


def array_size(arraysize: str | None) -> int | None:
    """TAP_SCHEMA.columns."size": the length of a 1-D array (``256*`` -> 256), else None."""
    if arraysize is None:
        return None
    match = _ONE_D_SIZE.fullmatch(arraysize)
    return int(match.group(1)) if match else None


def _plain(name: str) -> str:
    return name[1:-1] if name.startswith('"') and name.endswith('"') else name


def _arrow(meta: TableMeta, rows: list[tuple[Any, ...]]) -> pa.Table:
    names = [_plain(c.name) for c in meta.columns]
    types = [pa.string() if c.datatype == "char" else pa.int32() for c in meta.columns]
    schema = pa.schema(
        [
            pa.field(n, t, nullable=c.nullable)
            for n, t, c in zip(names, types, meta.columns, strict=True)
        ]
    )
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=t) for col, t in zip(columns, types, strict=True)],
        schema=schema,
    )


def build_tap_schema(schemas: Sequence[SchemaMeta]) -> TapSchema:
    """Build TAP_SCHEMA for ``schemas`` (which must not contain TAP_SCHEMA itself).

    Raises
    ------
    ValueError
        If a schema is called TAP_SCHEMA, or a table or key id appears twice.
    """
    if any(s.name.casefold() == SCHEMA_NAME.casefold() for s in schemas):
        msg = "TAP_SCHEMA is generated; do not pass a schema of that name"
        raise ValueError(msg)
    every = (*schemas, TAP_SCHEMA_META)
    schema_rows: list[tuple[Any, ...]] = []
    table_rows: list[tuple[Any, ...]] = []
    column_rows: list[tuple[Any, ...]] = []
    key_rows: list[tuple[Any, ...]] = []
    key_column_rows: list[tuple[Any, ...]] = []
    seen_tables: set[str] = set()
    seen_keys: set[str] = set()
    table_index = 0
    for schema_index, schema in enumerate(every, start=1):
        schema_rows.append((schema.name, schema.utype, schema.description, schema_index))
        for table in schema.tables:
            if table.table_name.casefold() in seen_tables:
                msg = f"table {table.table_name!r} is declared twice"
                raise ValueError(msg)
            seen_tables.add(table.table_name.casefold())
            table_index += 1
            table_rows.append((
                schema.name, table.table_name, table.table_type, table.utype,
                table.description, table_index,
            ))  # fmt: skip
            for column_index, c in enumerate(map(to_votable, table.columns), start=1):
                column_rows.append((
                    table.table_name, c.name, c.datatype, c.arraysize, c.xtype,
                    array_size(c.arraysize), c.description, c.utype, c.unit, c.ucd,
                    int(c.indexed), int(c.principal), int(c.std), column_index,
                ))  # fmt: skip
            for n, key in enumerate(table.foreign_keys, start=1):
                key_id = key.key_id or f"{table.table_name}-fk{n}"
                if key_id in seen_keys:
                    msg = f"foreign key id {key_id!r} is used twice"
                    raise ValueError(msg)
                seen_keys.add(key_id)
                key_rows.append(
                    (key_id, table.table_name, key.target_table, key.description, key.utype)
                )
                key_column_rows.extend((key_id, f, t) for f, t in key.columns)
    metas = {t.table_name.split(".", 1)[1]: t for t in TAP_SCHEMA_META.tables}
    rows = {
        "schemas": schema_rows,
        "tables": table_rows,
        "columns": column_rows,
        "keys": key_rows,
        "key_columns": key_column_rows,
    }
    return TapSchema(
        tables={name: _arrow(metas[name], r) for name, r in rows.items()},
        schemas=every,
        meta=TAP_SCHEMA_META,
    )
