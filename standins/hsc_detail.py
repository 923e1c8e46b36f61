"""Detection-level HSC tables: detailed, SWEEPS proper motions and per-epoch positions.

The detailed rows are derived from the summary objects so that both tables agree: an object
with ``A_F814W_N = 3`` has exactly three ``Filter = 'F814W'`` ACS detections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from standins import sky
from standins.hsc_objects import BANDS, TARGET_NAMES, Objects
from standins.hsc_schema import DETECTORS, IR_FILTERS

if TYPE_CHECKING:
    from collections.abc import Callable

Columns = dict[str, "pa.Array | np.ndarray"]

# Pivot wavelengths (nm) of BANDS, in order.
_PIVOT_NM = np.array(
    [
        *(432.9, 474.7, 536.1, 592.2, 769.3, 805.7, 903.3),  # ACS/WFC
        *(1153.4, 1536.9, 271.0, 335.5, 432.6),  # WFC3
        *(298.9, 544.3, 799.6),  # WFPC2
    ]
)

SWEEPS_CENTER = (269.7213, -29.1954)
"""The SWEEPS field in the Galactic bulge, the only field with proper motions (deg)."""


def _strings(names: list[str] | tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.string()).take(pa.array(index.astype(np.int32)))


def _band_setup(band: int) -> tuple[str, str, str, str]:
    """(instrument, mode, detector, aperture) of one band."""
    prefix, name = BANDS[band].split("_", 1)
    instrument, mode, detector = DETECTORS[prefix]
    if prefix == "W3" and name in IR_FILTERS:
        mode, detector = "IR", "WFC3/IR"
    aperture = {"ACS": "WFC", "WFC3": mode, "WFPC2": "WFALL"}[instrument]
    return instrument, mode, detector, aperture


def _per_band(band: np.ndarray, pick: Callable[[int], str]) -> pa.Array:
    return _strings([pick(b) for b in range(len(BANDS))], band)


def detailed_rows(o: Objects, id_offset: int) -> Columns:
    """The detailed-table columns of every detection of ``o`` (MatchIDs shifted by offset)."""
    gen = sky.rng("hsc-detailed")
    bands = len(BANDS)
    flat = o.n.ravel().astype(np.int64)
    cell = np.repeat(np.arange(flat.size), flat)
    obj, band = cell // bands, cell % bands
    total = len(cell)
    exposure = np.arange(total) - np.repeat(np.cumsum(flat) - flat, flat)
    per_obj = o.n.sum(axis=1).astype(np.int64)
    member = np.arange(total) - np.repeat(np.cumsum(per_obj) - per_obj, per_obj)
    # One image per (pointing, band, exposure): every object of a pointing shares them.
    image = 10_000_000 + o.pointing[obj].astype(np.int64) * 128 + band * 8 + exposure
    unique, inverse = np.unique(image, return_inverse=True)
    rel = unique - 10_000_000
    u_point, u_band, u_exp = rel // 128, (rel // 8) % 16, rel % 8
    u_prop = o.prop_id[obj][np.unique(inverse, return_index=True)[1]]
    names = [
        "hst_{}_{:02d}_{}_{}".format(
            prop,
            (p * 7 + e) % 99 + 1,
            _band_setup(b)[2].replace("/", "_").lower(),
            BANDS[b].split("_", 1)[1].lower(),
        )
        for prop, p, b, e in zip(u_prop, u_point, u_band, u_exp, strict=True)
    ]
    exptime = gen.uniform(350.0, 1250.0, len(unique))[inverse]
    start = o.start_mjd[obj] + exposure * 0.07 + band * 0.011
    spread = np.nan_to_num(o.mad[obj, band], nan=0.0) + 0.01
    mag_aper2 = o.mag[obj, band] + gen.normal(0.0, 1.0, total) * spread
    mag_auto = mag_aper2 - 0.12 - 0.6 * np.clip(o.ci[obj] - 1.2, 0.0, None)
    # Offsets from the match position follow the object's positional scatter (mas).
    scatter = (o.dsigma[obj] + 1.0) * gen.normal(0.0, 1.0, (2, total))
    src_ra = o.ra[obj] + scatter[0] / 3.6e6 / np.cos(np.radians(o.dec[obj]))
    src_dec = o.dec[obj] + scatter[1] / 3.6e6
    flags = np.where(gen.random(total) < 0.85, 0, gen.choice([1, 2, 3, 16], total))
    return {
        "CatID": image.astype(np.int32),
        "MatchID": o.match_id[obj] + id_offset,
        "MemID": member.astype(np.int32),
        "SourceID": np.arange(total, dtype=np.int64) + 9_000_000_000_000,
        "ImageID": image.astype(np.int32),
        "Det": _strings(("N", "Y"), (gen.random(total) < 0.97).astype(np.int8)),
        "MatchRA": o.ra[obj],
        "MatchDec": o.dec[obj],
        "SourceRA": src_ra,
        "SourceDec": src_dec,
        "D": np.hypot(scatter[0], scatter[1]),
        "DSigma": o.dsigma[obj],
        "AbsCorr": _strings(("N", "Y"), o.abs_corr[obj].astype(np.int8)),
        "XImage": gen.uniform(1.0, 4096.0, total).astype(np.float32),
        "YImage": gen.uniform(1.0, 4096.0, total).astype(np.float32),
        "ImageName": _strings(names, inverse),
        "Instrument": _per_band(band, lambda b: _band_setup(b)[0]),
        "Mode": _per_band(band, lambda b: _band_setup(b)[1]),
        "Detector": _per_band(band, lambda b: _band_setup(b)[2]),
        "Aperture": _per_band(band, lambda b: _band_setup(b)[3]),
        "ExposureTime": exptime,
        "StartMJD": start,
        "StopMJD": start + exptime / 86_400.0,
        "WaveLength": _PIVOT_NM[band],
        "Filter": _per_band(band, lambda b: BANDS[b].split("_", 1)[1]),
        "TargetName": _strings(TARGET_NAMES, o.target[obj]),
        "FluxAper2": np.power(10.0, -0.4 * (mag_aper2.astype(np.float64) - 25.0)),
        "MagAper2": mag_aper2.astype(np.float32),
        "MagAuto": mag_auto.astype(np.float32),
        "PropID": o.prop_id[obj],
        "CI": o.ci[obj] + gen.normal(0.0, 0.03, total),
        "KronRadius": o.kron[obj] + np.abs(gen.normal(0.0, 0.15, total)),
        "Flags": flags.astype(np.int32),
    }


def propermotion_rows(count: int = 60_000) -> Columns:
    """SWEEPS proper motions: bulge and foreground-disk stars in one ACS field."""
    gen = sky.rng("hsc-sweeps")
    half = 101.0 / 3600.0
    dec = SWEEPS_CENTER[1] + gen.uniform(-half, half, count)
    ra = SWEEPS_CENTER[0] + gen.uniform(-half, half, count) / np.cos(np.radians(dec))
    faint = np.sqrt(gen.random(count))  # more faint stars than bright ones
    err = 0.04 + 1.1 * faint**3
    disk = gen.random(count) < 0.3
    pm_lon = np.where(disk, gen.normal(3.5, 2.0, count), gen.normal(0.0, 2.9, count))
    pm_lat = np.where(disk, gen.normal(0.0, 1.5, count), gen.normal(0.0, 2.5, count))
    images = gen.integers(20, 250, count).astype(np.int32)
    start = 53236.0 + gen.exponential(40.0, count)
    end = 56539.0 - gen.exponential(40.0, count)
    return {
        "ObjID": np.arange(count, dtype=np.int64) + 8_000_000_000,
        "raMean": ra,
        "decMean": dec,
        "raMeanErr": 0.2 + 2.0 * faint**3,
        "decMeanErr": 0.2 + 2.0 * faint**3,
        "NumFilters": np.where(gen.random(count) < 0.9, 2, 1).astype(np.int32),
        "NumVisits": np.maximum(images // 2, 1).astype(np.int32),
        "NumImages": images,
        "pmLat": pm_lat + gen.normal(0.0, 1.0, count) * err,
        "pmLon": pm_lon + gen.normal(0.0, 1.0, count) * err,
        "pmLatErr": err,
        "pmLonErr": err * gen.uniform(0.9, 1.1, count),
        "pmLatDev": err * np.sqrt(images) * gen.uniform(0.7, 1.3, count),
        "pmLonDev": err * np.sqrt(images) * gen.uniform(0.7, 1.3, count),
        "epochMean": (start + end) / 2 + gen.normal(0.0, 100.0, count),
        "epochStart": start,
        "epochEnd": end,
    }


def sourceposition_rows(pm: Columns, objects: int = 6_000) -> Columns:
    """Per-epoch positions of the first ``objects`` SWEEPS stars, consistent with their pm."""
    gen = sky.rng("hsc-sourcepositions")
    col = {
        k: np.asarray(v)
        for k, v in pm.items()
        if k
        in {"ObjID", "raMean", "decMean", "pmLon", "pmLat", "epochStart", "epochEnd", "epochMean"}
    }
    per = gen.integers(3, 13, objects)
    obj = np.repeat(np.arange(objects), per)
    total = len(obj)
    mjd = col["epochStart"][obj] + gen.random(total) * (
        col["epochEnd"][obj] - col["epochStart"][obj]
    )
    dt = (mjd - col["epochMean"][obj]) / 365.25
    d_lon = col["pmLon"][obj] * dt + gen.normal(0.0, 1.5, total)
    d_lat = col["pmLat"][obj] * dt + gen.normal(0.0, 1.5, total)
    # Offsets are applied along RA/Dec: the galactic rotation is irrelevant at this scale
    # for a stand-in, and it keeps positions and offsets obviously consistent.
    dec = col["decMean"][obj] + d_lat / 3.6e6
    return {
        "ObjID": col["ObjID"][obj],
        "SourceID": np.arange(total, dtype=np.int64) + 8_500_000_000_000,
        "SourceRA": col["raMean"][obj] + d_lon / 3.6e6 / np.cos(np.radians(dec)),
        "SourceDec": dec,
        "Filter": _strings(("F606W", "F814W"), gen.integers(0, 2, total)),
        "MJD": mjd,
        "dT": dt,
        "dLon": d_lon,
        "dLat": d_lat,
    }
