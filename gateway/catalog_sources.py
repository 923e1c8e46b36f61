"""Reading each backend's own metadata: HSC ``/metadata``, TAP VOSI ``/tables`` and capabilities.

These are the only network reads of the federated catalogue. Each returns plain values
(:class:`~gateway.columns.ColumnMeta`, :class:`~gateway.table_meta.TableMeta`,
:class:`~planners.tap_features.TapCapabilities`); any failure is an ``httpx.HTTPError`` or a
``ValueError`` that the catalogue turns into a backend status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from xml.etree import ElementTree as ET

import httpx

from gateway.backend_formats import preferred_format
from gateway.columns import ColumnMeta, column_info, column_meta
from gateway.table_meta import TableMeta
from planners.hsc_tables import NUMERIC_TYPES, HscTable, load_columns
from planners.sql_catalog import ColumnInfo
from planners.tap_features import TapCapabilities

__all__ = [
    "TapService",
    "column_info",
    "column_meta",
    "hsc_columns",
    "read_tap_service",
]

_SKIPPED_SCHEMAS = frozenset({"tap_schema", "tap_upload"})
"""Remote schemas never federated: our own TAP_SCHEMA and upload scratch space win."""


def _text(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    return str(value) if value not in (None, "") else None


def hsc_columns(client: httpx.Client, base_url: str, table: HscTable) -> tuple[ColumnMeta, ...]:
    """The columns of one HSC table from the service's ``/metadata`` (hsc-rest.md §4).

    Raises
    ------
    httpx.HTTPError
        The service did not answer.
    ValueError
        The answer is not the documented JSON array.
    """
    url = f"{base_url.rstrip('/')}/{table.path}/metadata"
    response = client.get(url)
    response.raise_for_status()
    records = response.json()
    if not isinstance(records, list) or not records:
        msg = f"{url}: expected a JSON array of column records"
        raise ValueError(msg)
    out = []
    for record in records:
        if not isinstance(record, dict) or "name" not in record:
            msg = f"{url}: a column record without a name"
            raise ValueError(msg)
        datatype = _text(record, "type") or _text(record, "datatype") or "char"
        out.append(
            ColumnMeta(
                str(record["name"]),
                datatype,
                None if datatype in NUMERIC_TYPES else "*",
                _text(record, "xtype"),
                _text(record, "unit"),
                _text(record, "ucd"),
                _text(record, "utype"),
                _text(record, "description"),
                indexed=bool(record.get("indexed")),
                principal=bool(record.get("principal")),
                std=bool(record.get("std")),
            )
        )
    return tuple(out)


def shipped_hsc_columns(table: HscTable) -> tuple[ColumnMeta, ...]:
    """The shipped copy of an HSC table's ``/metadata`` (used when the service is down)."""
    return tuple(column_meta(c) for c in load_columns(table.stem))


@dataclass(frozen=True, slots=True)
class TapService:
    """What the catalogue learns from a TAP service: its tables and its abilities.

    ``tables`` holds the remote names (service spelling) and ``federated`` the same tables
    under their federated names (schema prefix applied). ``upload_rows`` is the service's
    upload limit in rows, when it states one.
    """

    tables: Mapping[str, tuple[ColumnInfo, ...]]
    federated: tuple[TableMeta, ...]
    features: TapCapabilities
    upload_rows: int | None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _vosi_column(element: ET.Element) -> ColumnMeta:
    name = _child_text(element, "name")
    if name is None:
        msg = "a VOSI column without a name"
        raise ValueError(msg)
    datatype, arraysize, xtype = "char", None, None
    flags = set()
    for child in element:
        tag = _local(child.tag)
        if tag == "dataType":
            datatype = (child.text or "char").strip()
            arraysize = child.get("arraysize")
            xtype = child.get("extendedType") or child.get("xtype")
        elif tag == "flag":
            flags.add((child.text or "").strip())
    return ColumnMeta(
        name,
        datatype,
        arraysize,
        xtype,
        _child_text(element, "unit"),
        _child_text(element, "ucd"),
        _child_text(element, "utype"),
        _child_text(element, "description"),
        indexed="indexed" in flags,
        principal="primary" in flags,
        std=element.get("std") == "true",
        nullable="nullable" in flags,
    )


def parse_tableset(body: bytes, schema_prefix: str) -> list[tuple[str, TableMeta]]:
    """``(remote name, federated TableMeta)`` for every table of a VOSI tableset document."""
    root = ET.fromstring(body)  # noqa: S314  (a configured backend's answer)
    out = []
    for schema in (e for e in root.iter() if _local(e.tag) == "schema"):
        schema_name = _child_text(schema, "name") or ""
        if schema_name.lower() in _SKIPPED_SCHEMAS:
            continue
        for table in (e for e in schema if _local(e.tag) == "table"):
            remote = _child_text(table, "name")
            if remote is None:
                continue
            bare = (
                remote.split(".", 1)[1]
                if remote.lower().startswith(schema_name.lower() + ".")
                else remote
            )
            federated_schema = schema_prefix + schema_name if schema_name else ""
            federated = f"{federated_schema}.{bare}" if federated_schema else bare
            if not schema_name:
                remote_parts = remote.split(".")
                if len(remote_parts) > 1:
                    federated_schema = schema_prefix + remote_parts[0]
                    federated = ".".join([federated_schema, *remote_parts[1:]])
            columns = tuple(_vosi_column(c) for c in table if _local(c.tag) == "column")
            meta = TableMeta(
                federated_schema or "default",
                federated,
                _child_text(table, "description"),
                columns,
            )
            out.append((remote, meta))
    return out


def parse_capabilities(body: bytes) -> tuple[TapCapabilities, int | None]:
    """Upload support, MAXREC limits and the upload row limit from a VOSI capabilities doc."""
    root = ET.fromstring(body)  # noqa: S314  (a configured backend's answer)
    upload = any(_local(e.tag) == "uploadMethod" for e in root.iter())
    limits: dict[str, tuple[int | None, int | None, str | None]] = {}
    for element in root.iter():
        tag = _local(element.tag)
        if tag in {"outputLimit", "uploadLimit"}:
            values: dict[str, int] = {}
            unit = None
            for child in element:
                text = (child.text or "").strip()
                if text.isdigit():
                    values[_local(child.tag)] = int(text)
                    unit = child.get("unit") or unit
            limits[tag] = (values.get("default"), values.get("hard"), unit)
    output = limits.get("outputLimit", (None, None, None))
    up = limits.get("uploadLimit", (None, None, None))
    features = replace(
        TapCapabilities(),
        upload=upload,
        maxrec_default=output[0],
        maxrec_hard=output[1],
        response_format=preferred_format(root),
    )
    return features, up[1] if up[2] == "row" else None


def read_tap_service(client: httpx.Client, url: str, schema_prefix: str) -> TapService:
    """Read ``/tables`` (and ``/capabilities`` when it answers) of a TAP service.

    Raises
    ------
    httpx.HTTPError
        ``/tables`` did not answer.
    ValueError, xml.etree.ElementTree.ParseError
        The answer is not a VOSI tableset.
    """
    base = url.rstrip("/")
    response = client.get(f"{base}/tables", params={"detail": "max"})
    response.raise_for_status()
    pairs = parse_tableset(response.content, schema_prefix)
    features, upload_rows = TapCapabilities(), None
    try:
        caps = client.get(f"{base}/capabilities")
        caps.raise_for_status()
        features, upload_rows = parse_capabilities(caps.content)
    except (httpx.HTTPError, ET.ParseError):
        pass  # a service without capabilities: assume the TAP 1.1 defaults
    tables = {remote: tuple(column_info(c) for c in meta.columns) for remote, meta in pairs}
    return TapService(tables, tuple(meta for _, meta in pairs), features, upload_rows)


def names(tables: Sequence[TableMeta]) -> list[str]:
    """Qualified names of ``tables``."""
    return [t.table_name for t in tables]
