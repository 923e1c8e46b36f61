"""Reading backends' VOSI documents (pyvo.io.vosi) into the catalogue's metadata."""

from __future__ import annotations

import pytest

from gateway.federation.catalog_sources import parse_capabilities, parse_tableset
from gateway.formats.output import OutputFormat
from gateway.table_meta import SchemaMeta, TableMeta
from gateway.tap.vosi import ServiceLimits, capabilities_xml, tableset_xml
from planners.sql_catalog import ColumnInfo

# Shaped like DaCHS's /tables?detail=max: a stylesheet PI, a prefixed root without a version,
# schemaLocation, a view with title/nrows, std and flag columns, a delimited column name;
# plus a schema of an older service that still writes vs:TAPType.
DACHS_TABLESET = b"""<?xml version="1.0" encoding="utf-8"?>
<?xml-stylesheet href='/static/xsl/vosi.xsl' type='text/xsl'?>
<vtm:tableset xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"
  xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
  xmlns:vtm="http://www.ivoa.net/xml/VOSITables/v1.0"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.ivoa.net/xml/VOSITables/v1.0 http://vo.example.org/VOSITables.xsd">
<schema><name>ivoa</name><title>IVOA standard tables</title>
<description>Tables defined by IVOA standards &amp; notes.</description>
<table type="view"><name>ivoa.obscore</name><title>Observations</title>
<description>The IVOA-defined obscore table.</description>
<utype>ivo://ivoa.net/std/obscore#table-1.1</utype><nrows>1893</nrows>
<column std="true"><name>dataproduct_type</name>
<description>High level scientific classification</description><ucd>meta.code.class</ucd>
<utype>obscore:obsdataset.dataproducttype</utype>
<dataType arraysize="*" xsi:type="vs:VOTableType">char</dataType><flag>nullable</flag></column>
<column><name>t_min</name><description>Lower bound of times</description><unit>d</unit>
<ucd>time.start;obs.exposure</ucd><dataType xsi:type="vs:VOTableType">double</dataType>
<flag>indexed</flag><flag>nullable</flag></column>
<column><name>s_region</name><ucd>phys.angArea;obs</ucd>
<dataType arraysize="*" extendedType="adql:REGION" xsi:type="vs:VOTableType">char</dataType>
</column>
<column><name>"size"</name><dataType xsi:type="vs:VOTableType">long</dataType>
<flag>primary</flag></column>
</table></schema>
<schema><name>tap_schema</name><table><name>tap_schema.tables</name>
<column><name>table_name</name><dataType xsi:type="vs:VOTableType" arraysize="*">char</dataType>
</column></table></schema>
<schema><name>gaia</name><table type="table"><name>dr3lite</name>
<column><name>source_id</name><dataType xsi:type="vs:TAPType">BIGINT</dataType></column>
<column><name>designation</name><dataType xsi:type="vs:TAPType" size="28">CHAR</dataType></column>
<column><name>obs_time</name><dataType xsi:type="vs:TAPType">TIMESTAMP</dataType></column>
</table></schema>
</vtm:tableset>
"""

# Shaped like DaCHS's /capabilities: TAPRegExt with an upload limit in bytes, output formats
# identified by ivo-id or by a serialization parameter, non-TAP capabilities around it.
DACHS_CAPABILITIES = b"""<?xml version="1.0" encoding="utf-8"?>
<cap:capabilities xmlns:cap="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
  xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0"
  xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"
  xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<capability standardID="ivo://ivoa.net/std/VOSI#availability">
<interface xsi:type="vs:ParamHTTP"><accessURL use="full">http://dc.example/tap/availability</accessURL></interface>
</capability>
<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">
<interface role="std" xsi:type="vs:ParamHTTP" version="1.1">
<accessURL use="base">http://dc.example/tap</accessURL></interface>
<dataModel ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1">Obscore-1.1</dataModel>
<language><name>ADQL</name><version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>
<description>The Astronomical Data Query Language</description></language>
<outputFormat><mime>text/xml</mime></outputFormat>
<outputFormat ivo-id="ivo://ivoa.net/std/TAPRegExt#output-votable-td">
<mime>application/x-votable+xml;serialization=TABLEDATA</mime><alias>votable/td</alias></outputFormat>
<outputFormat><mime>application/x-votable+xml;serialization=BINARY2</mime><alias>votable/b2</alias></outputFormat>
<outputFormat><mime>text/csv</mime><alias>csv</alias></outputFormat>
<uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-inline"/>
<uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-http"/>
<retentionPeriod><default>172800</default></retentionPeriod>
<executionDuration><default>3600</default></executionDuration>
<outputLimit><default unit="row">20000</default><hard unit="row">16000000</hard></outputLimit>
<uploadLimit><hard unit="byte">20000000</hard></uploadLimit>
</capability>
</cap:capabilities>
"""


def test_a_dachs_shaped_tableset() -> None:
    tables = dict(parse_tableset(DACHS_TABLESET, "dc_"))
    assert list(tables) == ["ivoa.obscore", "dr3lite"]  # tap_schema is never federated
    obscore = tables["ivoa.obscore"]
    assert (obscore.schema_name, obscore.table_name) == ("dc_ivoa", "dc_ivoa.obscore")
    assert obscore.description == "The IVOA-defined obscore table."
    assert obscore.columns == (
        ColumnInfo(
            "dataproduct_type",
            "char",
            "*",
            ucd="meta.code.class",
            utype="obscore:obsdataset.dataproducttype",
            description="High level scientific classification",
            std=True,
            nullable=True,
        ),
        ColumnInfo(
            "t_min",
            "double",
            unit="d",
            ucd="time.start;obs.exposure",
            description="Lower bound of times",
            indexed=True,
            nullable=True,
        ),
        ColumnInfo("s_region", "char", "*", "adql:REGION", ucd="phys.angArea;obs", nullable=False),
        ColumnInfo('"size"', "long", principal=True, nullable=False),
    )
    gaia = tables["dr3lite"]
    assert (gaia.schema_name, gaia.table_name) == ("dc_gaia", "dc_gaia.dr3lite")
    assert [(c.name, c.datatype, c.arraysize, c.xtype) for c in gaia.columns] == [
        ("source_id", "long", None, None),
        ("designation", "char", "28", None),
        ("obs_time", "char", "*", "timestamp"),
    ]


def test_our_own_tableset_reads_back_as_written() -> None:
    columns = (
        ColumnInfo("id", "long", principal=True, indexed=True, nullable=False, std=True),
        ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main", description="R & A"),
        ColumnInfo("pos", "double", "2", "point", utype="stc:x"),
        ColumnInfo("name", "char", "32*", description="<name>", nullable=True),
    )
    table = TableMeta("dp1", "dp1.Object", "objects", columns)
    document = tableset_xml([SchemaMeta("dp1", "DP1", (table,))], "max")
    ((remote, meta),) = parse_tableset(document, "")
    assert remote == "dp1.Object"
    assert meta == table


def test_a_dachs_shaped_capabilities_document() -> None:
    features, upload_rows = parse_capabilities(DACHS_CAPABILITIES)
    assert features.upload
    assert (features.maxrec_default, features.maxrec_hard) == (20_000, 16_000_000)
    assert features.response_format == "application/x-votable+xml;serialization=BINARY2"
    assert upload_rows is None  # the limit is in bytes


def test_our_own_capabilities_read_back() -> None:
    limits = ServiceLimits(100, 1000, 50, None, 600, 3600, 60, 60, 2)
    document = capabilities_xml(
        "http://x.test/tap", limits, output_formats=(OutputFormat("text/csv", ("csv",)),)
    )
    features, upload_rows = parse_capabilities(document)
    assert (features.upload, features.maxrec_default, features.maxrec_hard) == (True, 100, 1000)
    assert features.response_format == "text/csv"
    assert upload_rows == 50
    no_uploads, rows = parse_capabilities(
        capabilities_xml("http://x.test/tap", limits, upload_methods=())
    )
    assert (no_uploads.upload, rows) == (False, None)


@pytest.mark.parametrize(
    "body",
    [b"", b"<not xml", b"<html><body>502 Bad Gateway</body></html>", b"<a/>"],
)
def test_answers_that_are_not_vosi_are_value_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_tableset(body, "")
    with pytest.raises(ValueError):
        parse_capabilities(body)


def test_a_single_table_document_and_a_tableset_without_namespaces() -> None:
    single = (
        b'<vosi:table xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" type="output">'
        b"<name>cat.stars</name><column><name>id</name><dataType>int</dataType></column>"
        b"</vosi:table>"
    )
    ((remote, meta),) = parse_tableset(single, "x_")
    assert (remote, meta.schema_name, meta.table_name) == ("cat.stars", "x_cat", "x_cat.stars")
    assert meta.columns == (ColumnInfo("id", "int", nullable=False),)
    bare = (
        b"<tableset><schema><name>default</name><table><name>t</name>"
        b"<column><name>c</name></column></table></schema></tableset>"
    )
    ((remote, meta),) = parse_tableset(bare, "")
    assert (remote, meta.table_name) == ("t", "default.t")
    assert meta.columns == (ColumnInfo("c", "char", "*", nullable=False),)
