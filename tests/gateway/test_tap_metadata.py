"""VOSI and TAP_SCHEMA acceptance tests: /capabilities, /availability, /tables, /examples."""

from __future__ import annotations

import html
import re
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.gateway.conftest import TapService, query_statuses, read_votable

pytestmark = pytest.mark.integration

VOSI_CAP = "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}"
VOSI_TABLES = "{http://www.ivoa.net/xml/VOSITables/v1.0}"
VOSI_AVAIL = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _get(url: str, **params: str) -> httpx.Response:
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text)
    return response


def test_capabilities(tap_service: TapService) -> None:
    root = ET.fromstring(_get(f"{tap_service.url}/capabilities").content)
    assert root.tag == f"{VOSI_CAP}capabilities"
    caps = root.findall("capability")
    tap = [c for c in caps if c.get("standardID") == "ivo://ivoa.net/std/TAP"]
    assert len(tap) == 1
    interface = tap[0].find("interface")
    assert interface is not None
    assert interface.get("role") == "std"
    assert interface.get("version") == "1.1"
    assert interface.findtext("accessURL") == tap_service.url
    assert interface.find("accessURL").get("use") == "base"  # type: ignore[union-attr]
    # TAPRegExt: languages, limits straight from the settings (conftest: maxrec_default 20000)
    assert tap[0].findtext("language/name") == "ADQL"
    assert tap[0].findtext("outputLimit/default") == "20000"
    assert tap[0].find("outputLimit/default").get("unit") == "row"  # type: ignore[union-attr]
    assert tap[0].findtext("outputLimit/hard") == "10000000"
    assert tap[0].findtext("executionDuration/default") == "60"
    mimes = {m.text for m in tap[0].iter("mime")}
    assert "application/x-votable+xml" in mimes
    assert any(m and m.startswith("text/csv") for m in mimes)
    upload_methods = {m.get("ivo-id") for m in tap[0].iter("uploadMethod")}
    assert "ivo://ivoa.net/std/TAPRegExt#upload-inline" in upload_methods
    others = {c.get("standardID") for c in caps}
    assert "ivo://ivoa.net/std/VOSI#capabilities" in others
    assert "ivo://ivoa.net/std/VOSI#availability" in others
    # every advertised full URL answers
    for cap in caps:
        for access in cap.iter("accessURL"):
            if access.get("use") == "full":
                assert access.text is not None
                _get(access.text)


def test_capabilities_follow_the_settings(limited_tap_service: TapService) -> None:
    root = ET.fromstring(_get(f"{limited_tap_service.url}/capabilities").content)
    tap = next(c for c in root if c.get("standardID") == "ivo://ivoa.net/std/TAP")
    assert tap.findtext("uploadLimit/hard") == "4000"


def test_availability(tap_service: TapService) -> None:
    root = ET.fromstring(_get(f"{tap_service.url}/availability").content)
    assert root.tag == f"{VOSI_AVAIL}availability"
    assert root.findtext(f"{VOSI_AVAIL}available") == "true"


def _tableset(tap_service: TapService, **params: str) -> ET.Element:
    root = ET.fromstring(_get(f"{tap_service.url}/tables", **params).content)
    assert root.tag == f"{VOSI_TABLES}tableset"
    return root


def _vosi_columns(table: ET.Element) -> dict[str, tuple[str, str | None, str | None]]:
    out = {}
    for column in table.findall("column"):
        data_type = column.find("dataType")
        assert data_type is not None
        assert data_type.get(XSI_TYPE) == "vs:VOTableType"
        out[column.findtext("name") or ""] = (
            data_type.text or "",
            data_type.get("arraysize"),
            column.findtext("unit"),
        )
    return out


def test_tables_detail_min_and_max(tap_service: TapService) -> None:
    minimal = _tableset(tap_service, detail="min")
    names = [t.findtext("name") for t in minimal.iter("table")]
    assert "demo.stars" in names
    assert {"TAP_SCHEMA.tables", "TAP_SCHEMA.columns"} <= set(names)
    assert not list(minimal.iter("column"))
    maximal = _tableset(tap_service, detail="max")
    stars = next(t for t in maximal.iter("table") if t.findtext("name") == "demo.stars")
    columns = _vosi_columns(stars)
    assert list(columns) == ["id", "ra", "dec", "gmag", "flags", "name"]
    assert columns["ra"] == ("double", None, "deg")
    assert columns["id"][0] == "long"
    assert columns["name"][:2] == ("char", "*")
    default = _tableset(tap_service)
    assert [t.findtext("name") for t in default.iter("table")] == [
        t.findtext("name") for t in maximal.iter("table")
    ]


def test_single_table_resource(tap_service: TapService) -> None:
    root = ET.fromstring(_get(f"{tap_service.url}/tables/demo.stars").content)
    assert root.tag == f"{VOSI_TABLES}table"
    assert root.findtext("name") == "demo.stars"
    assert list(_vosi_columns(root)) == ["id", "ra", "dec", "gmag", "flags", "name"]
    missing = httpx.get(f"{tap_service.url}/tables/demo.nosuchtable", timeout=10)
    assert missing.status_code == 404


def _sync_votable(tap_service: TapService, query: str):
    response = httpx.post(
        f"{tap_service.url}/sync", data={"LANG": "ADQL", "QUERY": query}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response


def test_tap_schema_agrees_with_vosi_tables(tap_service: TapService) -> None:
    tables = read_votable(
        _sync_votable(tap_service, "SELECT schema_name, table_name FROM TAP_SCHEMA.tables").content
    )
    schema_tables = {str(t) for t in tables["table_name"]}
    vosi = _tableset(tap_service, detail="max")
    vosi_tables = {t.findtext("name") or "": t for t in vosi.iter("table")}
    assert schema_tables == set(vosi_tables)
    columns = read_votable(
        _sync_votable(
            tap_service,
            "SELECT table_name, column_name, datatype, arraysize, unit, column_index "
            "FROM TAP_SCHEMA.columns ORDER BY table_name, column_index",
        ).content
    )

    def text(value) -> str | None:
        if value is None or (hasattr(value, "mask") and value.mask) or str(value) in {"", "--"}:
            return None
        return str(value)

    by_table: dict[str, dict[str, tuple[str, str | None, str | None]]] = {}
    for row in columns:
        entry = (str(row["datatype"]), text(row["arraysize"]), text(row["unit"]))
        by_table.setdefault(str(row["table_name"]), {})[str(row["column_name"])] = entry
    assert set(by_table) == set(vosi_tables)
    for name, element in vosi_tables.items():
        assert by_table[name] == _vosi_columns(element), name
    # TAP_SCHEMA describes itself with the required columns
    required = {"table_name", "column_name", "datatype", "arraysize", "xtype", "unit"}
    own = set(by_table["TAP_SCHEMA.columns"])
    assert required <= own
    assert own & {"size", '"size"'}, "the deprecated size column (written quoted in queries)"


def test_tap_schema_schemas_and_keys_are_queryable(tap_service: TapService) -> None:
    schemas = read_votable(
        _sync_votable(tap_service, "SELECT schema_name FROM TAP_SCHEMA.schemas").content
    )
    assert {"demo", "TAP_SCHEMA"} <= {str(s) for s in schemas["schema_name"]}
    for table in ("keys", "key_columns"):
        response = _sync_votable(tap_service, f"SELECT * FROM TAP_SCHEMA.{table}")
        assert query_statuses(response.content)[0] == ("before", "OK")
    sized = read_votable(
        _sync_votable(
            tap_service,
            "SELECT column_name, \"size\" FROM TAP_SCHEMA.columns WHERE table_name = 'demo.stars'",
        ).content
    )
    assert len(sized) == 6


def test_every_example_runs(tap_service: TapService) -> None:
    response = _get(f"{tap_service.url}/examples")
    root = ET.fromstring(response.content)
    queries = [
        html.unescape("".join(el.itertext())) for el in root.iter() if el.get("property") == "query"
    ]
    assert len(queries) >= 2
    for query in queries:
        result = _sync_votable(tap_service, query)
        assert query_statuses(result.content)[0] == ("before", "OK"), query
        assert len(read_votable(result.content)) > 0, query
    # examples are advertised in the capabilities
    capabilities = _get(f"{tap_service.url}/capabilities").text
    assert re.search(r"DALI#examples", capabilities)
