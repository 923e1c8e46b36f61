"""Column layout of the HSC stand-in tables: the one source of truth for data and metadata.

The generator (:mod:`standins.data_hsc`) builds its Arrow schemas from these columns and the
server (:mod:`standins.hsc`) answers ``/metadata``, validates column names and writes FIELD
elements from them, so the files on disk and what the service advertises cannot drift apart.
Names, order and meanings follow hsc-rest.md §7; units and UCDs are our reading where the
sources do not state them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

_ARROW_TYPES = {
    "long": pa.int64(),
    "int": pa.int32(),
    "short": pa.int16(),
    "double": pa.float64(),
    "float": pa.float32(),
    "char": pa.string(),
}

NUMERIC_TYPES = frozenset({"long", "int", "short", "double", "float"})
"""VOTable datatypes that take numeric comparisons."""

FILTERS: tuple[tuple[str, str], ...] = (
    ("A", "F435W"),
    ("A", "F475W"),
    ("A", "F555W"),
    ("A", "F606W"),
    ("A", "F775W"),
    ("A", "F814W"),
    ("A", "F850LP"),
    ("W3", "F110W"),
    ("W3", "F160W"),
    ("W3", "F275W"),
    ("W3", "F336W"),
    ("W3", "F438W"),
    ("W2", "F300W"),
    ("W2", "F555W"),
    ("W2", "F814W"),
)
"""The filter/detector combinations of the stand-in (the real v3 summary has 133)."""

DETECTORS = {
    "A": ("ACS", "WFC", "ACS/WFC"),
    "W3": ("WFC3", "UVIS", "WFC3/UVIS"),
    "W2": ("WFPC2", "", "WFPC2"),
}
"""Prefix -> (instrument, mode, detector) as the detailed table spells them."""

IR_FILTERS = frozenset({"F110W", "F160W"})
"""WFC3 filters of the IR channel (detector ``WFC3/IR``)."""


@dataclass(frozen=True, slots=True)
class HscColumn:
    """One column: its name, VOTable datatype, and descriptive metadata.

    ``datatype`` is a VOTable datatype; ``xtype="timestamp"`` marks a ``char`` column stored
    as an Arrow timestamp and written as a DALI ISO-8601 string.
    """

    name: str
    datatype: str
    unit: str = ""
    ucd: str = ""
    description: str = ""
    xtype: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the column in the Parquet files."""
        if self.xtype == "timestamp":
            return pa.timestamp("ms")
        return _ARROW_TYPES[self.datatype]

    @property
    def numeric(self) -> bool:
        """Whether range decorators compare the column as a number."""
        return self.datatype in NUMERIC_TYPES


@dataclass(frozen=True, slots=True)
class HscTable:
    """One served table: federated name, columns, and the columns the cone and paging use."""

    name: str
    columns: tuple[HscColumn, ...]
    key: str
    ra: str
    dec: str

    def schema(self) -> pa.Schema:
        """The Arrow schema of the table's Parquet file."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    def column(self, name: str) -> HscColumn | None:
        """The column called ``name``, compared case-insensitively, or None."""
        return _by_lower_name(self.columns).get(name.lower())


def _by_lower_name(columns: tuple[HscColumn, ...]) -> dict[str, HscColumn]:
    return {c.name.lower(): c for c in columns}


def _c(name: str, datatype: str, unit: str, ucd: str, description: str) -> HscColumn:
    return HscColumn(name, datatype, unit, ucd, description)


_OBJECT_COLUMNS = (
    _c("MatchID", "long", "", "meta.id;meta.main", "HSC match (object) identifier"),
    _c("MatchRA", "double", "deg", "pos.eq.ra;meta.main", "Mean right ascension (ICRS)"),
    _c("MatchDec", "double", "deg", "pos.eq.dec;meta.main", "Mean declination (ICRS)"),
    _c("DSigma", "double", "mas", "stat.stdev;pos", "Scatter of member detection positions"),
    _c("AbsCorr", "char", "", "meta.code", "Y if absolute astrometry was corrected, else N"),
    _c("NumFilters", "int", "", "meta.number", "Number of filters with detections"),
    _c("NumVisits", "int", "", "meta.number", "Number of visits with detections"),
    _c("NumImages", "int", "", "meta.number", "Number of images with detections"),
    HscColumn("StartTime", "char", "", "time.start;obs", "First observation (UTC)", "timestamp"),
    HscColumn("StopTime", "char", "", "time.end;obs", "Last observation (UTC)", "timestamp"),
    _c("StartMJD", "double", "d", "time.start;obs", "First observation (MJD)"),
    _c("StopMJD", "double", "d", "time.end;obs", "Last observation (MJD)"),
    _c("TargetName", "char", "", "meta.id;obs.field", "HST target name of the visits"),
    _c("CI", "double", "mag", "phys.size;arith.ratio", "Concentration index (mean)"),
    _c("CI_Sigma", "double", "mag", "stat.stdev", "Scatter of the concentration index"),
    _c("KronRadius", "double", "pix", "phys.size.radius", "Kron radius (mean)"),
    _c("KronRadius_Sigma", "double", "pix", "stat.stdev", "Scatter of the Kron radius"),
    _c("Extinction", "double", "mag", "phys.absorption.gal", "Galactic extinction E(B-V)"),
    _c("SpectrumFlag", "char", "", "meta.code", "Y if an HSC spectrum is available, else N"),
)
OBJECT_COLUMN_COUNT = 19
"""hsc-rest.md §4: the summary tables start with 19 object columns (a test checks the tuple)."""


def filter_columns(prefix: str, band: str, magtype: str, spread: str) -> tuple[HscColumn, ...]:
    """The three summary columns of one filter/detector combination."""
    name = f"{prefix}_{band}"
    det = DETECTORS[prefix][2]
    kind = "aperture (MagAper2)" if magtype == "magaper2" else "Kron (MagAuto)"
    return (
        _c(name, "float", "mag", "phot.mag", f"Mean {kind} magnitude, {det} {band}"),
        _c(f"{name}_{spread}", "float", "mag", "stat.stdev;phot.mag", f"{spread} of {name}"),
        _c(f"{name}_N", "int", "", "meta.number", f"Number of {name} measurements"),
    )


def summary_table(release: str, magtype: str) -> HscTable:
    """The summary table of a release (``v3``/``v2``) and magnitude type."""
    spread = "MAD" if release == "v3" else "Sigma"
    cols = list(_OBJECT_COLUMNS)
    for prefix, band in FILTERS:
        cols.extend(filter_columns(prefix, band, magtype, spread))
    suffix = "" if magtype == "magaper2" else "_magauto"
    return HscTable(f"hsc{release}.summary{suffix}", tuple(cols), "MatchID", "MatchRA", "MatchDec")


_DETAILED_COLUMNS = (
    _c("CatID", "int", "", "meta.id", "Source catalog identifier"),
    _c("MatchID", "long", "", "meta.id;meta.main", "HSC match (object) identifier"),
    _c("MemID", "int", "", "meta.id", "Member index within the match"),
    _c("SourceID", "long", "", "meta.id", "Source (detection) identifier"),
    _c("ImageID", "int", "", "meta.id;obs.image", "Image identifier"),
    _c("Det", "char", "", "meta.code", "Y if detected on this image, else N"),
    _c("MatchRA", "double", "deg", "pos.eq.ra", "Match right ascension (ICRS)"),
    _c("MatchDec", "double", "deg", "pos.eq.dec", "Match declination (ICRS)"),
    _c("SourceRA", "double", "deg", "pos.eq.ra;meta.main", "Detection right ascension"),
    _c("SourceDec", "double", "deg", "pos.eq.dec;meta.main", "Detection declination"),
    _c("D", "double", "mas", "pos.angDistance", "Offset of the detection from the match"),
    _c("DSigma", "double", "mas", "stat.stdev;pos", "Scatter of member detection positions"),
    _c("AbsCorr", "char", "", "meta.code", "Y if absolute astrometry was corrected, else N"),
    _c("XImage", "float", "pix", "pos.cartesian.x;instr.det", "Detector x position"),
    _c("YImage", "float", "pix", "pos.cartesian.y;instr.det", "Detector y position"),
    _c("ImageName", "char", "", "meta.id;obs.image", "HAP image name"),
    _c("Instrument", "char", "", "instr", "HST instrument"),
    _c("Mode", "char", "", "instr.setup", "Instrument mode"),
    _c("Detector", "char", "", "instr.det", "Detector (ACS/WFC, WFC3/UVIS, ...)"),
    _c("Aperture", "char", "", "instr.setup", "HST aperture"),
    _c("ExposureTime", "double", "s", "time.duration;obs.exposure", "Exposure time"),
    _c("StartMJD", "double", "d", "time.start;obs", "Exposure start (MJD)"),
    _c("StopMJD", "double", "d", "time.end;obs", "Exposure end (MJD)"),
    _c("WaveLength", "double", "nm", "em.wl.effective", "Filter pivot wavelength"),
    _c("Filter", "char", "", "instr.filter", "HST filter (F475W, ...)"),
    _c("TargetName", "char", "", "meta.id;obs.field", "HST target name"),
    _c("FluxAper2", "double", "count", "phot.count", "Flux in aperture 2"),
    _c("MagAper2", "float", "mag", "phot.mag", "Aperture magnitude (aperture 2)"),
    _c("MagAuto", "float", "mag", "phot.mag", "Kron (SExtractor AUTO) magnitude"),
    _c("PropID", "int", "", "meta.id;obs.proposal", "HST proposal identifier"),
    _c("CI", "double", "mag", "phys.size;arith.ratio", "Concentration index"),
    _c("KronRadius", "double", "pix", "phys.size.radius", "Kron radius"),
    _c("Flags", "int", "", "meta.code.qual", "SExtractor flags"),
)

_PROPERMOTION_COLUMNS = (
    _c("ObjID", "long", "", "meta.id;meta.main", "Object identifier"),
    _c("raMean", "double", "deg", "pos.eq.ra;meta.main", "Mean right ascension (ICRS)"),
    _c("decMean", "double", "deg", "pos.eq.dec;meta.main", "Mean declination (ICRS)"),
    _c("raMeanErr", "double", "mas", "stat.error;pos.eq.ra", "Error of raMean"),
    _c("decMeanErr", "double", "mas", "stat.error;pos.eq.dec", "Error of decMean"),
    _c("NumFilters", "int", "", "meta.number", "Number of filters"),
    _c("NumVisits", "int", "", "meta.number", "Number of visits"),
    _c("NumImages", "int", "", "meta.number", "Number of images"),
    _c("pmLat", "double", "mas/yr", "pos.pm;pos.galactic.lat", "Proper motion in latitude"),
    _c("pmLon", "double", "mas/yr", "pos.pm;pos.galactic.lon", "Proper motion in longitude"),
    _c("pmLatErr", "double", "mas/yr", "stat.error;pos.pm", "Error of pmLat"),
    _c("pmLonErr", "double", "mas/yr", "stat.error;pos.pm", "Error of pmLon"),
    _c("pmLatDev", "double", "mas/yr", "stat.stdev;pos.pm", "Residual scatter in latitude"),
    _c("pmLonDev", "double", "mas/yr", "stat.stdev;pos.pm", "Residual scatter in longitude"),
    _c("epochMean", "double", "d", "time.epoch", "Mean epoch (MJD)"),
    _c("epochStart", "double", "d", "time.start", "First epoch (MJD)"),
    _c("epochEnd", "double", "d", "time.end", "Last epoch (MJD)"),
)

_SOURCEPOSITION_COLUMNS = (
    _c("ObjID", "long", "", "meta.id", "Object identifier (propermotions.ObjID)"),
    _c("SourceID", "long", "", "meta.id;meta.main", "Source (detection) identifier"),
    _c("SourceRA", "double", "deg", "pos.eq.ra;meta.main", "Detection right ascension"),
    _c("SourceDec", "double", "deg", "pos.eq.dec;meta.main", "Detection declination"),
    _c("Filter", "char", "", "instr.filter", "HST filter"),
    _c("MJD", "double", "d", "time.epoch", "Exposure mid-time (MJD)"),
    _c("dT", "double", "yr", "time.interval", "Time since the object's mean epoch"),
    _c("dLon", "double", "mas", "pos.galactic.lon;arith.diff", "Longitude offset from mean"),
    _c("dLat", "double", "mas", "pos.galactic.lat;arith.diff", "Latitude offset from mean"),
)


def detailed_table(release: str) -> HscTable:
    """The detailed (one row per detection) table of a release."""
    return HscTable(
        f"hsc{release}.detailed", _DETAILED_COLUMNS, "SourceID", "SourceRA", "SourceDec"
    )


PROPERMOTIONS = HscTable("hscv3.propermotions", _PROPERMOTION_COLUMNS, "ObjID", "raMean", "decMean")
SOURCEPOSITIONS = HscTable(
    "hscv3.sourcepositions", _SOURCEPOSITION_COLUMNS, "SourceID", "SourceRA", "SourceDec"
)

TABLES: dict[str, HscTable] = {
    t.name: t
    for t in (
        summary_table("v3", "magaper2"),
        summary_table("v3", "magauto"),
        detailed_table("v3"),
        PROPERMOTIONS,
        SOURCEPOSITIONS,
        summary_table("v2", "magaper2"),
        summary_table("v2", "magauto"),
        detailed_table("v2"),
    )
}
"""Every stand-in table by federated name (DESIGN.md "Federated names")."""

LEGAL_TABLES = {
    "v3": frozenset(
        {"summary", "detailed", "propermotions", "sourcepositions", "hcvsummary", "hcv"}
    ),
    "v2": frozenset({"summary", "detailed"}),
}
"""Path tables each release accepts (hsc-rest.md §1); hcv* are legal but not served here."""

MAGTYPES = frozenset({"magaper2", "magauto"})


def federated_name(release: str, table: str, magtype: str | None) -> str:
    """The federated table name of a (release, path table, magtype) triple."""
    if table == "summary":
        return f"hsc{release}.summary" + ("_magauto" if magtype == "magauto" else "")
    return f"hsc{release}.{table}"


def metadata_record(column: HscColumn, index: int) -> dict[str, object]:
    """The ``/metadata`` entry of one column: the superset of keys of hsc-rest.md §4."""
    size = {"long": 8, "int": 4, "short": 2, "double": 8, "float": 4}.get(column.datatype, 1)
    return {
        "name": column.name,
        "column_name": column.name,
        "type": column.datatype,
        "datatype": column.datatype,
        "db_type": "NUMBER" if column.numeric else "STRING",
        "description": column.description,
        "unit": column.unit,
        "ucd": column.ucd,
        "utype": "",
        "xtype": column.xtype,
        "size": size,
        "arraysize": "" if column.numeric else "*",
        "principal": index < 3,
        "indexed": index == 0,
        "std": True,
        "column_index": index,
        "search_priority": index,
        "default_value": "NULL",
    }
