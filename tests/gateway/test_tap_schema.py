"""TAP_SCHEMA tables: required columns, self-description, consistency with /tables."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from gateway.table_meta import ForeignKey, SchemaMeta, TableMeta
from gateway.tap.tap_schema import TAP_SCHEMA_META, array_size, build_tap_schema
from gateway.tap.vosi import tableset_xml
from planners.sql_catalog import ColumnInfo

OBJ = TableMeta(
    "dp1",
    "dp1.Object",
    "Objects",
    (
        ColumnInfo("objectId", "long", indexed=True, principal=True, nullable=False),
        ColumnInfo("coord", "double", "2", "point", "deg", "pos.eq"),
        ColumnInfo("name", "char", "32*"),
        ColumnInfo("img", "short", "10x20"),
    ),
    foreign_keys=(ForeignKey("dp1.Source", (("objectId", "objectId"),), key_id="obj-src"),),
)
SRC = TableMeta("dp1", "dp1.Source", "Sources", (ColumnInfo("objectId", "long"),), "view")
HSC = TableMeta("hscv3", "hscv3.summary", None, (ColumnInfo("MatchID", "long", std=True),))
SCHEMAS = [
    SchemaMeta("dp1", "Data Preview 1", (OBJ, SRC)),
    SchemaMeta("hscv3", None, (HSC,), utype="x"),
]

REQUIRED = {
    "schemas": ["schema_name", "utype", "description", "schema_index"],
    "tables": ["schema_name", "table_name", "table_type", "utype", "description", "table_index"],
    "columns": [
        "table_name", "column_name", "datatype", "arraysize", "xtype", "size", "description",
        "utype", "unit", "ucd", "indexed", "principal", "std", "column_index",
    ],
    "keys": ["key_id", "from_table", "target_table", "description", "utype"],
    "key_columns": ["key_id", "from_column", "target_column"],
}  # fmt: skip


@pytest.fixture(scope="module")
def ts():
    return build_tap_schema(SCHEMAS)


def rows(table: pa.Table) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = table.to_pylist()
    return out


def test_five_tables_with_the_required_columns(ts):
    assert {k: v.column_names for k, v in ts.tables.items()} == REQUIRED
    assert ts.tables["columns"].schema.field("indexed").type == pa.int32()
    assert ts.tables["columns"].schema.field("column_name").type == pa.string()
    assert not ts.tables["columns"].schema.field("column_name").nullable


def test_schemas_include_tap_schema_last_with_indices(ts):
    got = [(r["schema_name"], r["schema_index"]) for r in rows(ts.tables["schemas"])]
    assert got == [("dp1", 1), ("hscv3", 2), ("TAP_SCHEMA", 3)]
    assert ts.schemas[-1] is TAP_SCHEMA_META
    assert ts.meta is TAP_SCHEMA_META


def test_tables_rows(ts):
    got = [(r["table_name"], r["table_type"], r["table_index"]) for r in rows(ts.tables["tables"])]
    assert got[:3] == [
        ("dp1.Object", "table", 1),
        ("dp1.Source", "view", 2),
        ("hscv3.summary", "table", 3),
    ]
    assert [g[0] for g in got[3:]] == [
        "TAP_SCHEMA.schemas", "TAP_SCHEMA.tables", "TAP_SCHEMA.columns", "TAP_SCHEMA.keys",
        "TAP_SCHEMA.key_columns",
    ]  # fmt: skip


def test_columns_rows_flags_and_size(ts):
    by_name = {(r["table_name"], r["column_name"]): r for r in rows(ts.tables["columns"])}
    oid = by_name[("dp1.Object", "objectId")]
    assert (oid["datatype"], oid["indexed"], oid["principal"], oid["std"]) == ("long", 1, 1, 0)
    assert (oid["size"], oid["column_index"]) == (None, 1)
    coord = by_name[("dp1.Object", "coord")]
    assert (coord["arraysize"], coord["xtype"], coord["size"], coord["unit"]) == (
        "2",
        "point",
        2,
        "deg",
    )
    assert by_name[("dp1.Object", "name")]["size"] == 32
    assert by_name[("dp1.Object", "img")]["size"] is None  # multi-dimensional
    assert by_name[("hscv3.summary", "MatchID")]["std"] == 1
    size = by_name[("TAP_SCHEMA.columns", '"size"')]
    assert (size["datatype"], size["std"], size["column_index"]) == ("int", 1, 6)


def test_array_size():
    assert array_size(None) is None
    assert array_size("256*") == 256
    assert array_size("*") is None
    assert array_size("3") == 3
    assert array_size("2x3") is None


def test_tap_schema_describes_itself_consistently(ts):
    columns = rows(ts.tables["columns"])
    for meta in TAP_SCHEMA_META.tables:
        short = meta.table_name.split(".", 1)[1]
        declared = [
            r["column_name"].strip('"') for r in columns if r["table_name"] == meta.table_name
        ]
        assert declared == ts.tables[short].column_names, short


def test_every_declared_column_is_in_the_tableset(ts):
    root = ET.fromstring(tableset_xml(ts.schemas, "max"))
    in_xml = {
        (t.findtext("name"), c.findtext("name"))
        for t in root.iter("table")
        for c in t.findall("column")
    }
    in_tap_schema = {(r["table_name"], r["column_name"]) for r in rows(ts.tables["columns"])}
    assert in_xml == in_tap_schema
    tables_xml = {t.findtext("name") for t in root.iter("table")}
    assert tables_xml == {r["table_name"] for r in rows(ts.tables["tables"])}


def test_keys_include_declared_and_tap_schema_foreign_keys(ts):
    keys = {r["key_id"]: (r["from_table"], r["target_table"]) for r in rows(ts.tables["keys"])}
    assert keys["obj-src"] == ("dp1.Object", "dp1.Source")
    assert keys["tap_schema_columns_table"] == ("TAP_SCHEMA.columns", "TAP_SCHEMA.tables")
    assert len(keys) == 6
    key_columns = [
        (r["key_id"], r["from_column"], r["target_column"]) for r in rows(ts.tables["key_columns"])
    ]
    assert ("obj-src", "objectId", "objectId") in key_columns
    assert ("tap_schema_key_columns_key", "key_id", "key_id") in key_columns
    assert {k for k, _, _ in key_columns} == set(keys)


def test_generated_key_ids_and_duplicates():
    fk = ForeignKey("dp1.Source", (("objectId", "objectId"),))
    t = TableMeta("dp1", "dp1.T", None, (ColumnInfo("objectId", "long"),), foreign_keys=(fk, fk))
    ts = build_tap_schema([SchemaMeta("dp1", None, (t, SRC))])
    ids = [r["key_id"] for r in rows(ts.tables["keys"]) if r["from_table"] == "dp1.T"]
    assert ids == ["dp1.T-fk1", "dp1.T-fk2"]
    with pytest.raises(ValueError, match="declared twice"):
        build_tap_schema([SchemaMeta("a", None, (SRC,)), SchemaMeta("b", None, (SRC,))])
    with pytest.raises(ValueError, match="TAP_SCHEMA is generated"):
        build_tap_schema([SchemaMeta("tap_schema", None, ())])


def test_empty_federation_still_has_tap_schema():
    ts = build_tap_schema([])
    assert ts.tables["schemas"].num_rows == 1
    assert ts.tables["tables"].num_rows == 5


def test_duckdb_can_query_the_tables(ts):
    con = duckdb.connect()
    try:
        con.execute("CREATE SCHEMA tap_schema")
        for name, table in ts.tables.items():
            con.register(f"arrow_{name}", table)
            con.execute(f'CREATE VIEW tap_schema."{name}" AS SELECT * FROM arrow_{name}')
        got = con.execute(
            'SELECT column_name, "size" FROM tap_schema.columns '
            "WHERE table_name = 'dp1.Object' ORDER BY column_index"
        ).fetchall()
        assert got == [("objectId", None), ("coord", 2), ("name", 32), ("img", None)]
    finally:
        con.close()
