"""ObsCore 1.1 columns and the SIAv2 parameter vocabulary (specs/sia-obscore.md §2, §3.1, §6).

Shared by the forward planner (ADQL -> SIAv2, :mod:`planners.sia`) and the reverse mapping
(SIAv2 -> ADQL, :mod:`planners.sia_reverse`), so that both read the same table of which
parameter constrains which column and how.
"""

from __future__ import annotations

from planners.sql_catalog import ColumnInfo

__all__ = [
    "CALIB_LEVELS",
    "EQUALITY_PARAMS",
    "INTERVAL_OVERLAP",
    "INTERVAL_WITHIN",
    "NONNEGATIVE",
    "OBSCORE_COLUMNS",
    "PARAM_ORDER",
    "POL_STATES",
    "RUBIN_DP1_COLUMNS",
    "SIA_DPTYPES",
]


def _c(name: str, datatype: str, unit: str | None = None, ucd: str | None = None) -> ColumnInfo:
    arraysize = "*" if datatype == "char" else None
    return ColumnInfo(name, datatype, arraysize, None, unit, ucd, f"obscore:{name}")


OBSCORE_COLUMNS: tuple[ColumnInfo, ...] = (
    _c("dataproduct_type", "char", ucd="meta.code.class"),
    _c("calib_level", "int", ucd="meta.code;obs.calib"),
    _c("obs_collection", "char", ucd="meta.id"),
    _c("obs_id", "char", ucd="meta.id"),
    _c("obs_publisher_did", "char", ucd="meta.ref.ivoid"),
    _c("access_url", "char", ucd="meta.ref.url"),
    _c("access_format", "char", ucd="meta.code.mime"),
    _c("access_estsize", "long", "kbyte", "phys.size;meta.file"),
    _c("target_name", "char", ucd="meta.id;src"),
    _c("s_ra", "double", "deg", "pos.eq.ra"),
    _c("s_dec", "double", "deg", "pos.eq.dec"),
    _c("s_fov", "double", "deg", "phys.angSize;instr.fov"),
    ColumnInfo(
        "s_region", "double", "*", "polygon", "deg", "pos.outline;obs.field", "obscore:s_region"
    ),
    _c("s_resolution", "double", "arcsec", "pos.angResolution"),
    _c("s_xel1", "long", ucd="meta.number"),
    _c("s_xel2", "long", ucd="meta.number"),
    _c("t_min", "double", "d", "time.start;obs.exposure"),
    _c("t_max", "double", "d", "time.end;obs.exposure"),
    _c("t_exptime", "double", "s", "time.duration;obs.exposure"),
    _c("t_resolution", "double", "s", "time.resolution"),
    _c("t_xel", "long", ucd="meta.number"),
    _c("em_min", "double", "m", "em.wl;stat.min"),
    _c("em_max", "double", "m", "em.wl;stat.max"),
    _c("em_res_power", "double", ucd="spect.resolution"),
    _c("em_xel", "long", ucd="meta.number"),
    _c("o_ucd", "char", ucd="meta.ucd"),
    _c("pol_states", "char", ucd="meta.code;phys.polarization"),
    _c("pol_xel", "long", ucd="meta.number"),
    _c("facility_name", "char", ucd="meta.id;instr.tel"),
    _c("instrument_name", "char", ucd="meta.id;instr"),
)
"""The 30 mandatory ObsCore 1.1 columns, in the order of the standard's table 4."""

RUBIN_DP1_COLUMNS: tuple[ColumnInfo, ...] = (
    _c("dataproduct_subtype", "char", ucd="meta.code.class"),
    _c("lsst_band", "char"),
    _c("lsst_filter", "char"),
    _c("lsst_tract", "long"),
    _c("lsst_patch", "long"),
    _c("lsst_visit", "long"),
    _c("lsst_detector", "long"),
)
"""Extension columns of Rubin's DP1 ObsCore (sia-obscore.md §6)."""

INTERVAL_OVERLAP: dict[str, tuple[str, str]] = {
    "BAND": ("em_min", "em_max"),
    "TIME": ("t_min", "t_max"),
}
"""Parameters whose interval must intersect ``[col_min, col_max]``."""

INTERVAL_WITHIN: dict[str, str] = {
    "FOV": "s_fov",
    "SPATRES": "s_resolution",
    "SPECRP": "em_res_power",
    "EXPTIME": "t_exptime",
    "TIMERES": "t_resolution",
}
"""Parameters whose interval must contain the column value."""

NONNEGATIVE = frozenset({"BAND", *INTERVAL_WITHIN})
"""Interval parameters whose finite bounds must not be negative."""

EQUALITY_PARAMS: dict[str, str] = {
    "COLLECTION": "obs_collection",
    "FACILITY": "facility_name",
    "INSTRUMENT": "instrument_name",
    "DPTYPE": "dataproduct_type",
    "CALIB": "calib_level",
    "TARGET": "target_name",
    "FORMAT": "access_format",
    "ID": "obs_publisher_did",
    "DPSUBTYPE": "dataproduct_subtype",
}
"""Parameters matched by equality (ID case-insensitively; DPSUBTYPE is Rubin's)."""

POL_STATES = frozenset(
    ["I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX", "POLI", "POLA"]
)
SIA_DPTYPES = frozenset({"image", "cube"})
"""The only ``dataproduct_type`` values an SIA service returns."""
CALIB_LEVELS = frozenset({0, 1, 2, 3, 4})

PARAM_ORDER: tuple[str, ...] = (
    "POS",
    "BAND",
    "TIME",
    "POL",
    "FOV",
    "SPATRES",
    "SPECRP",
    "EXPTIME",
    "TIMERES",
    "ID",
    "COLLECTION",
    "FACILITY",
    "INSTRUMENT",
    "DPTYPE",
    "DPSUBTYPE",
    "CALIB",
    "TARGET",
    "FORMAT",
    "RELEASEDATE",
)
"""The order in which parameters are rendered and translated (the spec's table order)."""
