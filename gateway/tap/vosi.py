"""VOSI documents: availability, capabilities (TAP 1.1 + TAPRegExt) and tables.

Identifiers and element names were checked against the schemas STILTS 3.4.7 bundles
(TAPRegExt-v1.0-Erratum1, VOSICapabilities-v1.0, VOSITables-v1.1, VODataService-v1.1/1.2)
and against what its ``taplint`` CAP stage accepts: feature-type IVOIDs are compared
case-sensitively with the ``ivo://ivoa.net/std/TAPRegExt`` prefix, an unknown standard
feature key is an error (E-CAP-KEYX), and declaring any upload method obliges
``#upload-inline`` *and* ``#upload-http`` (E-CAP-MUPM).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from vo_models.tapregext.models import (
    DataLimit,
    DataLimits,
    DataModelType,
    Language,
    LanguageFeature,
    LanguageFeatureList,
    TableAccess,
    TimeLimits,
    UploadMethod,
    Version,
)
from vo_models.tapregext.models import OutputFormat as OutputFormatModel
from vo_models.voresource.models import AccessURL, Capability, Interface
from vo_models.vosi.availability.models import Availability
from vo_models.vosi.capabilities.models import VOSICapabilities

from gateway.formats.columns import to_votable
from gateway.formats.output import OUTPUT_FORMATS, OutputFormat
from gateway.tap.uws_xml import model_xml, utc, xml_text

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from gateway.table_meta import SchemaMeta, TableMeta

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
VOSI_AVAILABILITY_NS = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VOSI_CAPABILITIES_NS = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_TABLES_NS = "http://www.ivoa.net/xml/VOSITables/v1.0"
VR_NS = "http://www.ivoa.net/xml/VOResource/v1.0"
VS_NS = "http://www.ivoa.net/xml/VODataService/v1.1"
TR_NS = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
#: ESA's TAP+ extension namespace. astroquery's ``TapPlus`` reads every ``column`` element's
#: ``esatapplus:flags`` attribute unconditionally (a KeyError without it). VODataService lets
#: ``vs:BaseParam`` carry attributes of other namespaces, but its wildcard is strict, so a
#: validator without ESA's schema (taplint: E-TMV-BENV) rejects them: the attribute is only
#: written when asked for (``tap_plus=True``).
ESATAPPLUS_NS = "http://esa.int/xml/EsaTapPlus"
#: TAP+ column flags are an ESA bit mask (ra, dec, magnitude, ... roles); we claim none.
ESATAPPLUS_NO_FLAGS = "0"

TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"
FEATURES_ADQLGEO = f"{TAPREGEXT}#features-adqlgeo"
FEATURES_UDF = f"{TAPREGEXT}#features-udf"
UPLOAD_INLINE = f"{TAPREGEXT}#upload-inline"
UPLOAD_HTTP = f"{TAPREGEXT}#upload-http"
UPLOAD_HTTPS = f"{TAPREGEXT}#upload-https"

#: ADQL geometry functions the grammar implements (REGION and COORDSYS are not offered).
GEOMETRY_FUNCTIONS = (
    "POINT", "CIRCLE", "POLYGON", "BOX", "CONTAINS", "INTERSECTS", "DISTANCE", "AREA",
    "CENTROID", "COORD1", "COORD2",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Feature:
    """One ``languageFeatures/feature``: a form and optional description."""

    form: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FeatureGroup:
    """A ``languageFeatures`` element: features of one type (an IVOID)."""

    type: str
    features: tuple[Feature, ...]


def _group(fragment: str, *forms: str) -> FeatureGroup:
    return FeatureGroup(f"{TAPREGEXT}#{fragment}", tuple(Feature(f) for f in forms))


#: ADQL 2.1 optional features (A §4) the grammar implements and every taplint accepts.
ADQL_FEATURES = (
    _group("features-adql-string", "LOWER", "UPPER", "ILIKE"),
    _group("features-adql-offset", "OFFSET"),
    _group("features-adql-common-table", "WITH"),
    _group("features-adql-sets", "UNION", "EXCEPT", "INTERSECT"),
    _group("features-adql-type", "CAST"),
    _group("features-adql-unit", "IN_UNIT"),
)
# taplint reports an unknown ``TAPRegExt#features-*`` key as an error (E-CAP-KEYX), and its
# versions disagree: STILTS 3.4.7 (our CI) knows #features-adql-bitwise (from the 2.1 PR) but
# not #features-adql-conditional; STILTS 2024+ knows conditional (2.1 REC) but not bitwise.
# So neither is declared by default; pass them in ``features`` to opt in.
#: COALESCE's feature group (ADQL 2.1 REC).
CONDITIONAL_FEATURES = _group("features-adql-conditional", "COALESCE")
#: Bitwise operators' feature group (ADQL 2.1 PR); the operator forms are our reading.
BITWISE_FEATURES = _group("features-adql-bitwise", "&", "|", "^", "~")


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """Every limit the service enforces; all are advertised in ``/capabilities``.

    Times are seconds, row counts rows, ``upload_bytes`` bytes. ``execution_duration_*`` of
    0 means unlimited (UWS). TAPRegExt allows one unit per ``uploadLimit/hard``, so
    ``upload_bytes`` is advertised when set and ``upload_rows`` otherwise; both are enforced.
    """

    max_rec_default: int
    max_rec_hard: int
    upload_rows: int | None
    upload_bytes: int | None
    execution_duration_default: int
    execution_duration_hard: int
    retention_default: int
    retention_hard: int
    max_concurrent_jobs: int


def _serialize(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def availability_xml(available: bool, notes: Sequence[str], up_since: datetime | None) -> bytes:
    """VOSI availability document (VOSIAvailability-v1.0: available, upSince?, note*)."""
    fields: dict[str, object] = {"available": available, "note": [xml_text(n) for n in notes]}
    if up_since is not None:
        fields["up_since"] = utc(up_since)
    return model_xml(Availability.model_validate(fields))


def _interface(url: str, use: Literal["full", "base"], xsi_type: str, **attrs: str) -> Interface:
    # model_validate: the models type URLs as pydantic's AnyUrl, which validates our strings.
    access_url = AccessURL.model_validate({"value": url, "use": use})
    return Interface.model_validate({"type": xsi_type, "access_url": [access_url], **attrs})


def _simple_capability(standard_id: str, url: str, xsi_type: str = "vs:ParamHTTP") -> Capability:
    interface = _interface(url, "full", xsi_type)
    return Capability.model_validate({"standard_id": standard_id, "interface": [interface]})


def _time_limits(default: int, hard: int) -> TimeLimits:
    # Time limits carry no unit (seconds by definition).
    return TimeLimits(default=default, hard=hard)


def _data_limits(default: int | None, hard: int | None, unit: Literal["row", "byte"]) -> DataLimits:
    # TAPRegExt-v1.0 Erratum 1 fixed the data units to "row"/"byte".
    fields: dict[str, DataLimit] = {}
    if default is not None:
        fields["default"] = DataLimit(value=default, unit=unit)
    if hard is not None:
        fields["hard"] = DataLimit(value=hard, unit=unit)
    return DataLimits.model_validate(fields)


def _feature(feature: Feature) -> LanguageFeature:
    if feature.description is None:
        return LanguageFeature(form=feature.form)
    return LanguageFeature(form=feature.form, description=feature.description)


def _language(
    geometry: Sequence[str], features: Sequence[FeatureGroup], udfs: Sequence[Feature]
) -> Language:
    groups = [FeatureGroup(FEATURES_ADQLGEO, tuple(Feature(g) for g in geometry)), *features]
    if udfs:
        groups.append(FeatureGroup(FEATURES_UDF, tuple(udfs)))
    return Language(
        name="ADQL",
        # Ascending order: taplint judges the features against the last version listed.
        version=[
            Version(value="2.0", ivo_id="ivo://ivoa.net/std/ADQL#v2.0"),
            Version(value="2.1", ivo_id="ivo://ivoa.net/std/ADQL#v2.1"),
        ],
        description="ADQL 2.1 (ADQL 2.0 queries are accepted too)",
        language_features=[
            LanguageFeatureList(type=g.type, feature=[_feature(f) for f in g.features])
            for g in groups
        ],
    )


def _output_format(fmt: OutputFormat) -> OutputFormatModel:
    if fmt.ivo_id is None:
        return OutputFormatModel(mime=fmt.media_type, alias=list(fmt.aliases))
    return OutputFormatModel(mime=fmt.media_type, alias=list(fmt.aliases), ivo_id=fmt.ivo_id)


def _table_access(
    base: str,
    limits: ServiceLimits,
    language: Language,
    *,
    output_formats: Sequence[OutputFormat],
    upload_methods: Sequence[str],
    data_models: Sequence[tuple[str, str]],
) -> TableAccess:
    fields: dict[str, object] = {
        # Defaults of the model, given so that exclude_unset writes them.
        "standard_id": "ivo://ivoa.net/std/TAP",
        "type": "tr:TableAccess",
        "interface": [_interface(base, "base", "vs:ParamHTTP", role="std", version="1.1")],
        "data_model": [DataModelType(value=label, ivo_id=ivo_id) for ivo_id, label in data_models],
        "language": [language],
        "output_format": [_output_format(fmt) for fmt in output_formats],
        "upload_method": [UploadMethod(ivo_id=method) for method in upload_methods],
        "retention_period": _time_limits(limits.retention_default, limits.retention_hard),
        "execution_duration": _time_limits(
            limits.execution_duration_default, limits.execution_duration_hard
        ),
        "output_limit": _data_limits(limits.max_rec_default, limits.max_rec_hard, "row"),
    }
    if upload_methods and limits.upload_bytes is not None:
        fields["upload_limit"] = _data_limits(None, limits.upload_bytes, "byte")
    elif upload_methods and limits.upload_rows is not None:
        fields["upload_limit"] = _data_limits(None, limits.upload_rows, "row")
    return TableAccess.model_validate(fields)


def capabilities_xml(
    base_url: str,
    limits: ServiceLimits,
    *,
    geometry_functions: Sequence[str] = GEOMETRY_FUNCTIONS,
    features: Sequence[FeatureGroup] = ADQL_FEATURES,
    udfs: Sequence[Feature] = (),
    output_formats: Sequence[OutputFormat] = OUTPUT_FORMATS,
    upload_methods: Sequence[str] = (UPLOAD_INLINE, UPLOAD_HTTP),
    data_models: Sequence[tuple[str, str]] = (),
    availability_url: str | None = None,
    examples: bool = False,
) -> bytes:
    """VOSI capabilities for a TAP 1.1 service at ``base_url``.

    ``udfs`` forms must read ``name(arg TYPE, ...) -> TYPE`` (taplint E-CAP-UDFE otherwise).
    ``data_models`` are ``(ivo-id, label)`` pairs, e.g. ObsCore. An empty ``upload_methods``
    declares that uploads are not supported.
    """
    base = base_url.rstrip("/")
    language = _language(geometry_functions, features, udfs)
    capabilities: list[TableAccess | Capability] = [
        _table_access(
            base,
            limits,
            language,
            output_formats=output_formats,
            upload_methods=upload_methods,
            data_models=data_models,
        ),
        _simple_capability("ivo://ivoa.net/std/VOSI#capabilities", f"{base}/capabilities"),
        _simple_capability(
            "ivo://ivoa.net/std/VOSI#availability", availability_url or f"{base}/availability"
        ),
        _simple_capability("ivo://ivoa.net/std/VOSI#tables-1.1", f"{base}/tables"),
    ]
    if examples:
        capabilities.append(
            _simple_capability(
                "ivo://ivoa.net/std/DALI#examples", f"{base}/examples", "vr:WebBrowser"
            )
        )
    return model_xml(VOSICapabilities(capability=capabilities))


# -- tables ------------------------------------------------------------------------------
# Written with ElementTree, not vo-models: its VODataService models escape every string they
# are given (then lxml escapes again: "a & b" is written "a &amp;amp; b"), quote column names
# that are ADQL reserved words (so /tables and TAP_SCHEMA.columns would disagree), and have
# no place for the column's ``std`` attribute, dataType's ``extendedType`` or ESA's
# ``esatapplus:flags``.


def _table(
    parent: ET.Element, tag: str, table: TableMeta, detail: Literal["min", "max"], tap_plus: bool
) -> None:
    el = _sub(parent, tag, type="output")
    _sub(el, "name", table.table_name)
    if table.description is not None:
        _sub(el, "description", table.description)
    if table.utype is not None:
        _sub(el, "utype", table.utype)
    if detail == "min":
        return
    for col in map(to_votable, table.columns):
        c = _sub(el, "column", **({"std": "true"} if col.std else {}))
        if tap_plus:
            c.set("esatapplus:flags", ESATAPPLUS_NO_FLAGS)
        _sub(c, "name", col.name)
        for tag_name, value in (
            ("description", col.description),
            ("unit", col.unit),
            ("ucd", col.ucd),
            ("utype", col.utype),
        ):
            if value is not None:
                _sub(c, tag_name, value)
        dt = _sub(c, "dataType", col.datatype, **{"xsi:type": "vs:VOTableType"})
        if col.arraysize is not None:
            dt.set("arraysize", col.arraysize)
        if col.xtype is not None:
            # VODataService 1.1 names VOTable's xtype "extendedType".
            dt.set("extendedType", col.xtype)
        # VODataService flags: "primary" is TAP_SCHEMA's principal.
        for flag, on in (("indexed", col.indexed), ("primary", col.principal)):
            if on:
                _sub(c, "flag", flag)
        if col.nullable:
            _sub(c, "flag", "nullable")
    for key in table.foreign_keys:
        fk = _sub(el, "foreignKey")
        _sub(fk, "targetTable", key.target_table)
        for from_col, target_col in key.columns:
            fkc = _sub(fk, "fkColumn")
            _sub(fkc, "fromColumn", from_col)
            _sub(fkc, "targetColumn", target_col)
        if key.description is not None:
            _sub(fk, "description", key.description)
        if key.utype is not None:
            _sub(fk, "utype", key.utype)


def _tables_root(tag: str, tap_plus: bool) -> ET.Element:
    root = ET.Element(
        f"vosi:{tag}", {"xmlns:vosi": VOSI_TABLES_NS, "xmlns:vs": VS_NS, "xmlns:xsi": XSI_NS}
    )
    if tap_plus:
        root.set("xmlns:esatapplus", ESATAPPLUS_NS)
    return root


def tableset_xml(
    schemas: Sequence[SchemaMeta], detail: Literal["min", "max"], *, tap_plus: bool = False
) -> bytes:
    """``vosi:tableset`` for ``GET /tables``; ``detail="min"`` omits columns and keys.

    ``tap_plus`` adds the ``esatapplus:flags`` column attribute astroquery's TapPlus needs.
    """
    root = _tables_root("tableset", tap_plus)
    for schema in schemas:
        s = _sub(root, "schema")
        _sub(s, "name", schema.name)
        if schema.description is not None:
            _sub(s, "description", schema.description)
        if schema.utype is not None:
            _sub(s, "utype", schema.utype)
        for table in schema.tables:
            _table(s, "table", table, detail, tap_plus)
    return _serialize(root)


def table_xml(table: TableMeta, *, tap_plus: bool = False) -> bytes:
    """``vosi:table`` with full detail for ``GET /tables/{name}`` (``tap_plus``: see above)."""
    root = _tables_root("table", tap_plus)
    _table_into(root, table, tap_plus)
    return _serialize(root)


def _table_into(root: ET.Element, table: TableMeta, tap_plus: bool) -> None:
    # The vosi:table root *is* the vs:Table element, so render a scratch table and move
    # its attributes and children onto the root.
    scratch = ET.Element("scratch")
    _table(scratch, "table", table, "max", tap_plus)
    (rendered,) = list(scratch)
    root.attrib.update(rendered.attrib)
    root.extend(list(rendered))
