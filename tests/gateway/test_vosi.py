"""VOSI availability, capabilities (TAPRegExt) and tables documents."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from gateway.table_meta import ForeignKey, SchemaMeta, TableMeta
from gateway.tap import vosi
from planners.sql_catalog import ColumnInfo

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
AV = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
CAPS = "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities"
TABLES = "{http://www.ivoa.net/xml/VOSITables/v1.0}"
BASE = "http://127.0.0.1:8000/tap"
LIMITS = vosi.ServiceLimits(
    max_rec_default=10_000,
    max_rec_hard=1_000_000,
    upload_rows=100_000,
    upload_bytes=50_000_000,
    execution_duration_default=600,
    execution_duration_hard=3600,
    retention_default=86_400,
    retention_hard=604_800,
    max_concurrent_jobs=4,
)
# taplint CapabilityStage's UDF form check.
UDF_FORM = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\s*\((.*)\)\s*->\s*(.*)")


def one(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    assert found is not None, path
    return found


def xsd_validate(tmp_path, data: bytes) -> None:
    if shutil.which("stilts") is None:
        pytest.skip("stilts (XSD validation with bundled IVOA schemas) is not installed")
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    proc = subprocess.run(
        ["stilts", "xsdvalidate", "uselocals=true", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def tap_capability(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == CAPS
    caps = [
        c for c in root.findall("capability") if c.get("standardID") == "ivo://ivoa.net/std/TAP"
    ]
    assert len(caps) == 1
    return caps[0]


def test_availability(tmp_path):
    data = vosi.availability_xml(
        available=True,
        notes=("accepting queries", "backend 'spec' is down"),
        up_since=datetime(2026, 11, 21, tzinfo=UTC),
    )
    root = ET.fromstring(data)
    assert root.tag == f"{AV}availability"
    assert [c.tag.removeprefix(AV) for c in root] == ["available", "upSince", "note", "note"]
    assert root.findtext(f"{AV}available") == "true"
    assert root.findtext(f"{AV}upSince") == "2026-11-21T00:00:00.000Z"
    xsd_validate(tmp_path, data)
    down = ET.fromstring(vosi.availability_xml(available=False, notes=(), up_since=None))
    assert [c.text for c in down] == ["false"]


def test_tap_capability_interface_and_order(tmp_path):
    data = vosi.capabilities_xml(BASE + "/", LIMITS, examples=True)
    cap = tap_capability(data)
    assert cap.get(XSI_TYPE) == "tr:TableAccess"
    intf = one(cap, "interface")
    assert intf.get(XSI_TYPE) == "vs:ParamHTTP"
    assert intf.get("role") == "std"
    assert intf.get("version") == "1.1"
    url = one(intf, "accessURL")
    assert (url.get("use"), url.text) == ("base", BASE)
    tags = [c.tag for c in cap]
    # TableAccess sequence: interface, language+, outputFormat+, uploadMethod*, limits.
    order = ["interface", "language", "outputFormat", "uploadMethod", "retentionPeriod",
             "executionDuration", "outputLimit", "uploadLimit"]  # fmt: skip
    assert [t for i, t in enumerate(tags) if i == 0 or tags[i - 1] != t] == order
    xsd_validate(tmp_path, data)


def test_vosi_capabilities_use_full_urls():
    root = ET.fromstring(vosi.capabilities_xml(BASE, LIMITS, examples=True))
    urls = {
        c.get("standardID"): one(c, "interface/accessURL")
        for c in root.findall("capability")
        if c.get("standardID") != "ivo://ivoa.net/std/TAP"
    }
    assert {k: (v.get("use"), v.text) for k, v in urls.items()} == {
        "ivo://ivoa.net/std/VOSI#capabilities": ("full", f"{BASE}/capabilities"),
        "ivo://ivoa.net/std/VOSI#availability": ("full", f"{BASE}/availability"),
        "ivo://ivoa.net/std/VOSI#tables-1.1": ("full", f"{BASE}/tables"),
        "ivo://ivoa.net/std/DALI#examples": ("full", f"{BASE}/examples"),
    }


def test_language_versions_and_feature_ivoids():
    udf = vosi.Feature(
        "ivo_healpix_index(order INTEGER, ra DOUBLE, dec DOUBLE) -> BIGINT", "HEALPix"
    )
    cap = tap_capability(vosi.capabilities_xml(BASE, LIMITS, udfs=[udf]))
    lang = one(cap, "language")
    assert lang.findtext("name") == "ADQL"
    versions = [(v.text, v.get("ivo-id")) for v in lang.findall("version")]
    assert versions == [
        ("2.0", "ivo://ivoa.net/std/ADQL#v2.0"),
        ("2.1", "ivo://ivoa.net/std/ADQL#v2.1"),
    ]
    features = {
        lf.get("type"): [f.findtext("form") for f in lf.findall("feature")]
        for lf in lang.findall("languageFeatures")
    }
    prefix = "ivo://ivoa.net/std/TAPRegExt#"
    assert features == {
        f"{prefix}features-adqlgeo": list(vosi.GEOMETRY_FUNCTIONS),
        f"{prefix}features-adql-string": ["LOWER", "UPPER", "ILIKE"],
        f"{prefix}features-adql-offset": ["OFFSET"],
        f"{prefix}features-adql-common-table": ["WITH"],
        f"{prefix}features-adql-sets": ["UNION", "EXCEPT", "INTERSECT"],
        f"{prefix}features-adql-type": ["CAST"],
        f"{prefix}features-adql-unit": ["IN_UNIT"],
        f"{prefix}features-udf": [udf.form],
    }
    # taplint 3.4.7's accepted geometry forms and UDF syntax.
    assert set(features[f"{prefix}features-adqlgeo"]) <= {
        "AREA", "BOX", "CENTROID", "CIRCLE", "CONTAINS", "COORD1", "COORD2", "COORDSYS",
        "DISTANCE", "INTERSECTS", "POINT", "POLYGON", "REGION",
    }  # fmt: skip
    assert UDF_FORM.fullmatch(udf.form)


def test_opt_in_feature_groups_are_appended():
    cap = tap_capability(
        vosi.capabilities_xml(
            BASE, LIMITS, features=(*vosi.ADQL_FEATURES, vosi.CONDITIONAL_FEATURES)
        )
    )
    forms = {
        lf.get("type"): [f.findtext("form") for f in lf]
        for lf in one(cap, "language").findall("languageFeatures")
    }
    assert forms["ivo://ivoa.net/std/TAPRegExt#features-adql-conditional"] == ["COALESCE"]


def test_output_formats_upload_methods_and_limits():
    cap = tap_capability(vosi.capabilities_xml(BASE, LIMITS))
    formats = {
        f.findtext("mime"): ([a.text for a in f.findall("alias")], f.get("ivo-id"))
        for f in cap.findall("outputFormat")
    }
    assert formats["application/x-votable+xml"][1] == (
        "ivo://ivoa.net/std/TAPRegExt#output-votable-binary2"
    )
    assert "votable" in formats["application/x-votable+xml"][0]
    assert formats["application/x-votable+xml;serialization=TABLEDATA"][1] == (
        "ivo://ivoa.net/std/TAPRegExt#output-votable-td"
    )
    aliases = {a for al, _ in formats.values() for a in al}
    assert {"votable", "votable/td", "csv", "tsv", "json", "parquet"} <= aliases
    assert [u.get("ivo-id") for u in cap.findall("uploadMethod")] == [
        "ivo://ivoa.net/std/TAPRegExt#upload-inline",
        "ivo://ivoa.net/std/TAPRegExt#upload-http",
    ]

    def limit(tag: str) -> dict[str, tuple[str | None, str | None]]:
        return {c.tag: (c.get("unit"), c.text) for c in one(cap, tag)}

    assert limit("outputLimit") == {"default": ("row", "10000"), "hard": ("row", "1000000")}
    assert limit("executionDuration") == {"default": (None, "600"), "hard": (None, "3600")}
    assert limit("retentionPeriod") == {"default": (None, "86400"), "hard": (None, "604800")}
    assert limit("uploadLimit") == {"hard": ("byte", "50000000")}


def test_upload_limit_in_rows_and_no_uploads():
    rows_only = dataclasses.replace(LIMITS, upload_bytes=None)
    cap = tap_capability(vosi.capabilities_xml(BASE, rows_only))
    assert [(c.get("unit"), c.text) for c in one(cap, "uploadLimit")] == [("row", "100000")]
    cap = tap_capability(vosi.capabilities_xml(BASE, LIMITS, upload_methods=()))
    assert cap.find("uploadMethod") is None
    assert cap.find("uploadLimit") is None


OBJ = TableMeta(
    "dp1",
    "dp1.Object",
    "Objects",
    (
        ColumnInfo("objectId", "long", indexed=True, principal=True, std=False, nullable=False),
        ColumnInfo("pos", "double", "2", "point", "deg", "pos.eq", "obscore:x", "Position"),
        ColumnInfo("band", "char", "*"),
    ),
    "table",
    (ForeignKey("dp1.Source", (("objectId", "objectId"),), description="sources"),),
)
SRC = TableMeta("dp1", "dp1.Source", None, (ColumnInfo("objectId", "long", std=True),), "view")
SCHEMAS = [SchemaMeta("dp1", "Data Preview 1", (OBJ, SRC))]


def test_tableset_max(tmp_path):
    data = vosi.tableset_xml(SCHEMAS, "max")
    root = ET.fromstring(data)
    assert root.tag == f"{TABLES}tableset"
    schema = one(root, "schema")
    assert schema.findtext("name") == "dp1"
    assert schema.findtext("description") == "Data Preview 1"
    tables = schema.findall("table")
    assert [t.findtext("name") for t in tables] == ["dp1.Object", "dp1.Source"]
    assert all(t.get("type") == "output" for t in tables)
    cols = tables[0].findall("column")
    assert [c.findtext("name") for c in cols] == ["objectId", "pos", "band"]
    assert [f.text for f in cols[0].findall("flag")] == ["indexed", "primary"]
    assert [f.text for f in cols[1].findall("flag")] == ["nullable"]
    assert [c.tag for c in cols[1]] == [
        "name",
        "description",
        "unit",
        "ucd",
        "utype",
        "dataType",
        "flag",
    ]
    dt = one(cols[1], "dataType")
    assert (dt.text, dt.get(XSI_TYPE), dt.get("arraysize"), dt.get("extendedType")) == (
        "double", "vs:VOTableType", "2", "point",
    )  # fmt: skip
    assert one(cols[0], "dataType").get("arraysize") is None
    assert one(tables[1], "column").get("std") == "true"
    fk = one(tables[0], "foreignKey")
    assert fk.findtext("targetTable") == "dp1.Source"
    assert [
        (c.findtext("fromColumn"), c.findtext("targetColumn")) for c in fk.findall("fkColumn")
    ] == [("objectId", "objectId")]
    xsd_validate(tmp_path, data)


def test_tableset_min_has_no_columns(tmp_path):
    data = vosi.tableset_xml(SCHEMAS, "min")
    root = ET.fromstring(data)
    assert root.findall(".//column") == []
    assert root.findall(".//foreignKey") == []
    assert len(root.findall("schema/table")) == 2
    xsd_validate(tmp_path, data)


def test_single_table_document(tmp_path):
    data = vosi.table_xml(OBJ)
    root = ET.fromstring(data)
    assert root.tag == f"{TABLES}table"
    assert root.get("type") == "output"
    assert [c.tag for c in root][:3] == ["name", "description", "column"]
    assert len(root.findall("column")) == 3
    xsd_validate(tmp_path, data)


ESA_FLAGS = f"{{{vosi.ESATAPPLUS_NS}}}flags"


def test_tableset_tap_plus_dialect_flags_every_column():
    # astroquery's TapPlus reads esatapplus:flags of every column with a non-namespace-aware
    # SAX parser: the literal prefix matters, not just the namespace.
    data = vosi.tableset_xml(SCHEMAS, "max", tap_plus=True)
    assert b'xmlns:esatapplus="http://esa.int/xml/EsaTapPlus"' in data
    assert data.count(b'esatapplus:flags="0"') == 4
    columns = ET.fromstring(data).findall(".//column")
    assert len(columns) == 4
    assert all(c.get(ESA_FLAGS) == "0" for c in columns)
    single = vosi.table_xml(OBJ, tap_plus=True)
    assert single.count(b'esatapplus:flags="0"') == 3


def test_standard_tables_documents_carry_no_tap_plus_attribute():
    # VODataService's attribute wildcard is strict: taplint rejects unknown-namespace ones.
    for data in (vosi.tableset_xml(SCHEMAS, "max"), vosi.table_xml(OBJ)):
        assert b"esatapplus" not in data
