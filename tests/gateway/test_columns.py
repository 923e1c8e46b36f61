"""One column type; unsigned 64-bit ids declared ``char`` only where clients read declarations.

Inside, an SDSS-style id is ``long`` with ``xtype="uint64"`` (what the compiler types as an
integer); TAP_SCHEMA rows and the VOSI tableset say ``char``/``*``/``uint64``, checked here
with ElementTree and the Arrow table, and reading our own tableset back gives the integer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gateway.federation.catalog_sources import parse_tableset
from gateway.formats.columns import from_votable, to_votable
from gateway.table_meta import SchemaMeta, TableMeta
from gateway.tap.tap_schema import build_tap_schema
from gateway.tap.vosi import tableset_xml
from planners.sql_catalog import ColumnInfo

ID = ColumnInfo("specobjid", "long", xtype="uint64", ucd="meta.id", principal=True)
Z = ColumnInfo("z", "double", ucd="src.redshift")
ARRAY = ColumnInfo("ids", "long", "*")
SCHEMAS = [SchemaMeta("sdss", None, (TableMeta("sdss", "sdss.specobj", None, (ID, Z, ARRAY)),))]


def test_ids_are_declared_as_char_text_and_read_back_as_integers() -> None:
    declared = to_votable(ID)
    assert (declared.datatype, declared.arraysize, declared.xtype) == ("char", "*", "uint64")
    assert declared.ucd == "meta.id"
    assert declared.principal
    assert from_votable(declared) == ID
    assert ID.is_integer


def test_other_columns_are_declared_as_they_are() -> None:
    assert to_votable(Z) == Z
    assert to_votable(ARRAY) == ARRAY
    assert from_votable(ColumnInfo("name", "char", "*")) == ColumnInfo("name", "char", "*")


def test_unknown_type_is_declared_as_char() -> None:
    assert to_votable(ColumnInfo("x")).datatype == "char"


def test_tap_schema_rows_declare_ids_as_char() -> None:
    columns = build_tap_schema(SCHEMAS).tables["columns"].to_pylist()
    rows = {row["column_name"]: row for row in columns if row["table_name"] == "sdss.specobj"}
    got = {k: rows["specobjid"][k] for k in ("datatype", "arraysize", "xtype", "principal")}
    assert got == {"datatype": "char", "arraysize": "*", "xtype": "uint64", "principal": 1}
    assert (rows["z"]["datatype"], rows["z"]["arraysize"], rows["z"]["xtype"]) == (
        "double",
        None,
        None,
    )
    assert (rows["ids"]["datatype"], rows["ids"]["arraysize"]) == ("long", "*")


def test_vosi_tableset_declares_ids_as_char_and_reads_back() -> None:
    body = tableset_xml(SCHEMAS, "max")
    types = {c.findtext("name"): c.find("dataType") for c in ET.fromstring(body).iter("column")}
    declared = types["specobjid"]
    assert declared is not None
    assert (declared.text, declared.get("arraysize"), declared.get("extendedType")) == (
        "char",
        "*",
        "uint64",
    )
    [(_, table)] = parse_tableset(body, "")
    assert table.columns[0] == ID
    assert table.columns[1:] == (Z, ARRAY)
