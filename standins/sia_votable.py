"""VOTable and VOSI documents of the SIA stand-in: results, errors, capabilities, availability.

Results are written as VOTable 1.4 TABLEDATA by hand (a few hundred rows at most), with the
ObsCore 1.1 metadata of sia-obscore.md §3.1 and the service self-description resource.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
SIA_STANDARD_ID = "ivo://ivoa.net/std/SIA#query-2.0"

# name -> (unit, ucd, utype without the "obscore:" prefix)
OBSCORE_FIELDS: dict[str, tuple[str, str, str]] = {
    "dataproduct_type": ("", "meta.code.class", "ObsDataset.dataProductType"),
    "dataproduct_subtype": ("", "meta.code.class", "ObsDataset.dataProductSubtype"),
    "calib_level": ("", "meta.code;obs.calib", "ObsDataset.calibLevel"),
    "obs_collection": ("", "meta.id", "DataID.collection"),
    "obs_id": ("", "meta.id", "DataID.observationID"),
    "obs_publisher_did": ("", "meta.ref.ivoid", "Curation.publisherDID"),
    "access_url": ("", "meta.ref.url", "Access.reference"),
    "access_format": ("", "meta.code.mime", "Access.format"),
    "access_estsize": ("kbyte", "phys.size;meta.file", "Access.size"),
    "target_name": ("", "meta.id;src", "Target.name"),
    "s_ra": ("deg", "pos.eq.ra", "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1"),
    "s_dec": ("deg", "pos.eq.dec", "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2"),
    "s_fov": ("deg", "phys.angSize;instr.fov", "Char.SpatialAxis.Coverage.Bounds.Extent.diameter"),
    "s_region": ("", "pos.outline;obs.field", "Char.SpatialAxis.Coverage.Support.Area"),
    "s_resolution": ("arcsec", "pos.angResolution", "Char.SpatialAxis.Resolution.Refval.value"),
    "s_xel1": ("", "meta.number", "Char.SpatialAxis.numBins1"),
    "s_xel2": ("", "meta.number", "Char.SpatialAxis.numBins2"),
    "t_min": ("d", "time.start;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StartTime"),
    "t_max": ("d", "time.end;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StopTime"),
    "t_exptime": ("s", "time.duration;obs.exposure", "Char.TimeAxis.Coverage.Support.Extent"),
    "t_resolution": ("s", "time.resolution", "Char.TimeAxis.Resolution.Refval.value"),
    "t_xel": ("", "meta.number", "Char.TimeAxis.numBins"),
    "em_min": ("m", "em.wl;stat.min", "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit"),
    "em_max": ("m", "em.wl;stat.max", "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit"),
    "em_res_power": ("", "spect.resolution", "Char.SpectralAxis.Resolution.ResolPower.refVal"),
    "em_xel": ("", "meta.number", "Char.SpectralAxis.numBins"),
    "o_ucd": ("", "meta.ucd", "Char.ObservableAxis.ucd"),
    "pol_states": ("", "meta.code;phys.polarization", "Char.PolarizationAxis.stateList"),
    "pol_xel": ("", "meta.number", "Char.PolarizationAxis.numBins"),
    "facility_name": ("", "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name"),
    "instrument_name": ("", "meta.id;instr", "Provenance.ObsConfig.Instrument.name"),
}

# Rubin extension columns: (unit, ucd)
EXTRA_FIELDS = {
    "lsst_band": "instr.bandpass",
    "lsst_filter": "instr.filter",
    "lsst_tract": "meta.id.part",
    "lsst_patch": "meta.id.part",
    "lsst_visit": "meta.id.part",
    "lsst_detector": "meta.id.part",
}

# (name, datatype, arraysize, xtype, unit) of the service descriptor's input parameters
INPUT_PARAMS = (
    ("POS", "double", "3", "circle", "deg"),
    ("POS", "double", "4", "range", "deg"),
    ("POS", "double", "*", "polygon", "deg"),
    ("BAND", "double", "*", "interval", "m"),
    ("TIME", "double", "*", "interval", "d"),
    ("POL", "char", "*", "", ""),
    ("FOV", "double", "*", "interval", "deg"),
    ("SPATRES", "double", "*", "interval", "arcsec"),
    ("EXPTIME", "double", "*", "interval", "s"),
    ("TIMERES", "double", "*", "interval", "s"),
    ("SPECRP", "double", "*", "interval", ""),
    ("ID", "char", "*", "", ""),
    ("COLLECTION", "char", "*", "", ""),
    ("FACILITY", "char", "*", "", ""),
    ("INSTRUMENT", "char", "*", "", ""),
    ("DPTYPE", "char", "*", "", ""),
    ("DPSUBTYPE", "char", "*", "", ""),
    ("CALIB", "int", "", "", ""),
    ("TARGET", "char", "*", "", ""),
    ("FORMAT", "char", "*", "", ""),
    ("MAXREC", "int", "", "", ""),
    ("RESPONSEFORMAT", "char", "*", "", ""),
)


def _attrs(**attrs: str) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items() if v)


def _field(name: str, dtype: pa.DataType) -> str:
    unit, ucd, utype = OBSCORE_FIELDS.get(name, ("", EXTRA_FIELDS.get(name, ""), ""))
    xtype, arraysize = "", ""
    if pa.types.is_list(dtype):
        datatype, arraysize, xtype = "double", "*", "polygon"
    elif pa.types.is_floating(dtype):
        datatype = "double"
    elif pa.types.is_int64(dtype):
        datatype = "long"
    elif pa.types.is_integer(dtype):
        datatype = "int"
    elif pa.types.is_boolean(dtype):
        datatype = "boolean"
    else:
        datatype, arraysize = "char", "*"
    return (
        "<FIELD"
        + _attrs(
            name=name,
            datatype=datatype,
            arraysize=arraysize,
            xtype=xtype,
            unit=unit,
            ucd=ucd,
            utype=f"obscore:{utype}" if utype else "",
        )
        + "/>"
    )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<TD/>"
    if isinstance(value, list):
        return "<TD>" + " ".join(repr(float(v)) for v in value) + "</TD>"
    if isinstance(value, bool):
        return "<TD>" + ("T" if value else "F") + "</TD>"
    if isinstance(value, float):
        return f"<TD>{value!r}</TD>"
    return f"<TD>{escape(str(value))}</TD>"


def _service_descriptor(access_url: str) -> str:
    params = "".join(
        "<PARAM"
        + _attrs(name=name, datatype=dt, arraysize=size, xtype=xtype, unit=unit, value="")
        + "/>"
        for name, dt, size, xtype, unit in INPUT_PARAMS
    )
    return (
        '<RESOURCE type="meta" utype="adhoc:service" name="this">'
        f'<PARAM name="standardID" datatype="char" arraysize="*" value="{SIA_STANDARD_ID}"/>'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(access_url)}/>'
        f'<GROUP name="inputParams">{params}</GROUP></RESOURCE>'
    )


def results_document(table: pa.Table, overflow: bool, access_url: str) -> Iterable[str]:
    """The result VOTable, in pieces; OVERFLOW is a trailing INFO so rows can stream."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">'
        '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/>'
        '<TABLE name="results">'
    )
    yield "".join(_field(f.name, f.type) for f in table.schema)
    yield "<DATA><TABLEDATA>"
    for batch in table.to_batches(max_chunksize=200):
        rows = zip(*(col.to_pylist() for col in batch.columns), strict=True)
        yield "".join("<TR>" + "".join(_cell(v) for v in row) + "</TR>" for row in rows)
    yield "</TABLEDATA></DATA></TABLE>"
    if overflow:
        yield '<INFO name="QUERY_STATUS" value="OVERFLOW"/>'
    yield "</RESOURCE>" + _service_descriptor(access_url) + "</VOTABLE>\n"


def error_document(message: str) -> str:
    """A DALI error VOTable whose QUERY_STATUS text is ``message``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}"><RESOURCE type="results">'
        f'<INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>'
        "</RESOURCE></VOTABLE>\n"
    )


def capabilities_document(base_url: str) -> str:
    """VOSI capabilities with absolute access URLs under ``base_url``."""

    def cap(standard_id: str, path: str, extra: str = "") -> str:
        return (
            f'<capability standardID="{standard_id}">'
            f'<interface xsi:type="vs:ParamHTTP"{extra}>'
            f'<accessURL use="full">{escape(base_url + path)}</accessURL></interface></capability>'
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">'
        + cap("ivo://ivoa.net/std/VOSI#capabilities", "/capabilities")
        + cap("ivo://ivoa.net/std/VOSI#availability", "/availability")
        + cap(SIA_STANDARD_ID, "/query", ' role="std" version="2.0"')
        + "</vosi:capabilities>\n"
    )


def availability_document() -> str:
    """VOSI availability: always up."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<avail:availability xmlns:avail="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        "<avail:available>true</avail:available>"
        "<avail:note>SIAv2 stand-in is accepting queries</avail:note></avail:availability>\n"
    )
