"""One registry of output formats: what /capabilities advertises is what RESPONSEFORMAT takes."""

import xml.etree.ElementTree as ET

import pyarrow as pa
import pytest

from gateway.formats.output import OUTPUT_FORMATS, OutputFormat, resolve_format
from gateway.tap.vosi import ServiceLimits, capabilities_xml
from planners.sql_catalog import ColumnInfo

LIMITS = ServiceLimits(
    max_rec_default=10,
    max_rec_hard=100,
    upload_rows=None,
    upload_bytes=None,
    execution_duration_default=60,
    execution_duration_hard=600,
    retention_default=3600,
    retention_hard=7200,
    max_concurrent_jobs=2,
)


def advertised() -> list[tuple[str | None, list[str | None], str | None]]:
    """(mime, aliases, ivo-id) of every outputFormat, read with the stdlib XML parser."""
    root = ET.fromstring(capabilities_xml("http://x.test/tap", LIMITS))
    return [
        (f.findtext("mime"), [a.text for a in f.findall("alias")], f.get("ivo-id"))
        for cap in root.findall("capability")
        for f in cap.findall("outputFormat")
    ]


def test_capabilities_list_the_registry() -> None:
    expected = [(f.media_type, list(f.aliases), f.ivo_id) for f in OUTPUT_FORMATS]
    assert advertised() == expected


@pytest.mark.parametrize("alias", [a for f in OUTPUT_FORMATS for a in f.aliases])
def test_every_advertised_alias_negotiates_and_writes(alias: str) -> None:
    fmt = resolve_format(alias)
    assert alias in fmt.aliases
    columns = [ColumnInfo("x", "int")]
    batch = pa.record_batch([pa.array([1, 2], pa.int32())], names=["x"])
    assert b"".join(fmt.writer(columns, [batch]))


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS, ids=lambda f: f.name)
def test_every_advertised_mime_type_negotiates_to_its_format(fmt: OutputFormat) -> None:
    assert resolve_format(fmt.media_type).name == fmt.name
