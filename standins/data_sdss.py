"""SDSS-DR16-like spectroscopic demo data: ``specobj``, ``specobjall`` and spectra recipes.

Choices (see ``specs/spectro-ids.md`` part A):

- ``specobjid`` is the real DR8+ bit packing of (plate, fiberid, mjd, run2d) and is stored
  **unsigned** (``uint64``), as the service outputs it; the ECDFS plates are >= 8192 so their
  signed database form is negative, which exercises the signed/unsigned conversions.
- Column names are lower case, as in Data Lab's PostgreSQL copy (``scienceprimary``,
  ``specprimary``, ``class``...).
- ``specobjall`` holds every spectrum; about one source in eight was re-observed on a later
  plate and that spectrum has ``scienceprimary = specprimary = 0``. ``specobj`` keeps only the
  primary spectra.
- Spectra are not stored pixel by pixel. ``sdss_dr16.spectra`` is a small Parquet table of
  per-spectrum *recipes* (start of the log-lambda grid, pixel count, redshift, class,
  magnitude, S/N) and :func:`synthesize` turns one recipe into the SDSS coadd record layout,
  deterministically (the noise stream is seeded by the ``specobjid``). Every spectrum shares the
  SDSS log-lambda grid (step 1e-4), so aligning by zero padding is exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from standins.sky import ECDFS_CENTER, ecdfs_anchors, rng
from standins.specobjid import pack_array, run2d_to_int

SPEC_DTYPE = np.dtype(
    [
        ("flux", "<f4"),
        ("loglam", "<f4"),
        ("ivar", "<f4"),
        ("and_mask", "<i4"),
        ("or_mask", "<i4"),
        ("wdisp", "<f4"),
        ("sky", "<f4"),
        ("model", "<f4"),
    ]
)
"""Record layout of an SDSS DR16 coadd spectrum as the legacy service returns it."""

LOGLAM_STEP = 1e-4
"""SDSS/BOSS coadd dispersion in log10(Angstrom)."""

# (survey, instrument, run2d, run1d, first loglam, pixels, fibers per plate)
_SDSS = ("sdss", "SDSS", "26", "", 3.5798, 3840, 640)
_BOSS = ("boss", "BOSS", "v5_13_0", "v5_13_0", 3.5523, 4620, 1000)
_EBOSS = ("eboss", "BOSS", "v5_13_0", "v5_13_0", 3.5523, 4620, 1000)

# (rest wavelength in Angstrom, strength relative to the continuum)
Lines = tuple[tuple[float, float], ...]
_LINES_EMISSION: Lines = (
    (3727.1, 3.0),
    (4862.7, 1.5),
    (5008.2, 2.0),
    (6564.6, 4.0),
    (6585.3, 1.2),
)
_LINES_QSO: Lines = (
    (1215.7, 8.0),
    (1549.1, 3.0),
    (1908.7, 1.5),
    (2799.1, 2.5),
    (4862.7, 1.5),
    (6564.6, 5.0),
)
_LINES_ABSORPTION: Lines = (
    (3934.8, 0.3),
    (3969.6, 0.3),
    (4102.9, 0.2),
    (4341.7, 0.2),
    (6564.6, 0.25),
)


def _sky_positions(gen: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform on the sphere between dec -10 and +70 (roughly the SDSS footprint)."""
    sin_dec = gen.uniform(np.sin(np.radians(-10.0)), np.sin(np.radians(70.0)), n)
    return gen.uniform(0.0, 360.0, n), np.degrees(np.arcsin(sin_dec))


def _disc(gen: np.random.Generator, n: int, centre: tuple[float, float], radius: float) -> Any:
    r = radius * np.sqrt(gen.uniform(0.0, 1.0, n))
    phi = gen.uniform(0.0, 2 * np.pi, n)
    dec = centre[1] + r * np.sin(phi)
    return (centre[0] + r * np.cos(phi) / np.cos(np.radians(dec))) % 360.0, dec


def _sources() -> dict[str, np.ndarray]:
    """Astrophysical sources with a spectrum: ECDFS anchors, ECDFS field, elsewhere."""
    gen = rng("sdss-dr16-sources")
    anchors = ecdfs_anchors()
    # Three anchors in four have a spectrum; fibres land within ~0.1 arcsec of the source.
    pick = np.flatnonzero(gen.uniform(0.0, 1.0, anchors.ra.size) < 0.75)
    jitter = gen.normal(0.0, 0.03 / 3600, (2, pick.size))
    a_dec = anchors.dec[pick] + jitter[1]
    a_ra = (anchors.ra[pick] + jitter[0] / np.cos(np.radians(a_dec))) % 360.0
    f_ra, f_dec = _disc(gen, 1500, ECDFS_CENTER, 0.7)
    c_ra, c_dec = _disc(gen, 500, (30.0, 1.0), 1.0)  # the spec's worked-example cone
    s_ra, s_dec = _sky_positions(gen, 6000)
    ra = np.concatenate([a_ra, f_ra, c_ra, s_ra])
    dec = np.concatenate([a_dec, f_dec, c_dec, s_dec])
    n = ra.size
    n_ecdfs = pick.size + 1500
    z = np.concatenate([anchors.redshift[pick], np.round(gen.gamma(2.0, 0.25, n - pick.size), 5)])
    # About one unrelated target in seven is a star (SEGUE/calibration targets); an anchor is
    # a star when its shared redshift is ~0.
    star = (z < 0.02) | ((np.arange(n) >= pick.size) & (gen.uniform(0.0, 1.0, n) < 0.15))
    z[star] = np.round(gen.normal(0.0, 0.0002, int(star.sum())), 6)
    rmag = np.concatenate([anchors.rmag[pick], gen.uniform(16.5, 22.5, n - pick.size)])
    # Group sources into plates: ECDFS on BOSS plates >= 8192, the cone at (30, 1) on
    # SDSS-I plates (run2d 26), the rest alternately SDSS and BOSS/eBOSS.
    group = np.concatenate([np.zeros(n_ecdfs, int), np.ones(500, int), 2 + (np.arange(6000) % 3)])
    return {
        "ra": ra,
        "dec": dec,
        "z": z,
        "rmag": rmag,
        "group": group,
        "anchor": np.arange(n) < pick.size,
    }


_GROUPS = (
    (_BOSS, 9701, 57720),
    (_SDSS, 400, 51820),
    (_SDSS, 500, 52000),
    (_BOSS, 4000, 55500),
    (_EBOSS, 8400, 57300),
)


def _assign_plates(group: np.ndarray, first_plate_shift: int, mjd_shift: int) -> dict[str, Any]:
    """Plate, fibre, MJD and reduction tags for each row of ``group``."""
    n = group.size
    out: dict[str, Any] = {
        k: np.empty(n, object) for k in ("survey", "instrument", "run2d", "run1d")
    }
    out |= {k: np.zeros(n, np.int64) for k in ("plate", "fiberid", "mjd", "loglam0_k", "npix")}
    gen = rng(f"sdss-dr16-plates-{first_plate_shift}")
    for g, (config, plate0, mjd0) in enumerate(_GROUPS):
        idx = np.flatnonzero(group == g)
        survey, instrument, run2d, run1d, _, npix, nfib = config
        per_plate = nfib - 40  # sky and standard fibres are not science targets
        plate_off = np.arange(idx.size) // per_plate
        out["plate"][idx] = plate0 + first_plate_shift + plate_off
        out["fiberid"][idx] = np.arange(idx.size) % per_plate + 1
        out["mjd"][idx] = mjd0 + mjd_shift + 3 * plate_off
        for key, value in zip(
            ("survey", "instrument", "run2d", "run1d"),
            (survey, instrument, run2d, run1d),
            strict=True,
        ):
            out[key][idx] = value
        # Each fibre's coverage starts a few pixels apart, so lengths differ (align matters).
        out["loglam0_k"][idx] = gen.integers(0, 40, idx.size)
        out["npix"][idx] = npix - gen.integers(0, 120, idx.size)
    return out


def _classes(gen: np.random.Generator, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cls = np.where(np.abs(z) < 0.01, "STAR", np.where(z > 1.0, "QSO", "GALAXY")).astype(object)
    sub = np.full(z.size, "", object)
    stars = np.flatnonzero(cls == "STAR")
    sub[stars] = gen.choice(np.array(["A0", "F5", "G2", "K3", "M2", "WD"], object), stars.size)
    gal = np.flatnonzero(cls == "GALAXY")
    sub[gal] = gen.choice(np.array(["", "", "STARFORMING", "STARBURST", "AGN"], object), gal.size)
    qso = np.flatnonzero(cls == "QSO")
    sub[qso] = gen.choice(np.array(["BROADLINE", ""], object), qso.size)
    return cls, sub


def _specobjall() -> tuple[pa.Table, pa.Table]:
    src = _sources()
    gen = rng("sdss-dr16-specobj")
    n = src["ra"].size
    repeat = np.flatnonzero(gen.uniform(0.0, 1.0, n) < 0.125)
    first = _assign_plates(src["group"], 0, 0)
    again = _assign_plates(src["group"][repeat], 50, 400)
    cat = {k: np.concatenate([first[k], again[k]]) for k in first}
    rows = np.concatenate([np.arange(n), repeat])
    total = rows.size
    primary = (np.arange(total) < n).astype(np.int16)
    zerr = np.abs(gen.normal(0.0, 1.0, total)) * 2e-5 * (1 + np.abs(src["z"][rows])) + 1e-5
    z = src["z"][rows] + np.where(primary == 1, 0.0, gen.normal(0.0, 1.0, total) * zerr)
    cls, sub = _classes(gen, src["z"][rows])
    run2d_int = np.array([run2d_to_int(str(r)) for r in cat["run2d"]], np.int64)
    specobjid = pack_array(cat["plate"], cat["fiberid"], cat["mjd"], run2d_int)
    sn = np.clip(40.0 * 10 ** (-0.4 * (src["rmag"][rows] - 17.5)), 0.5, None).astype(np.float32)
    veldisp = np.where(cls == "GALAXY", gen.uniform(60.0, 320.0, total), np.nan)
    table = pa.table(
        {
            "specobjid": pa.array(specobjid, pa.uint64()),
            "bestobjid": pa.array(1237_650_000_000_000_000 + rows.astype(np.int64) * 7919),
            "ra": src["ra"][rows],
            "dec": src["dec"][rows],
            "z": z,
            "zerr": zerr,
            "zwarning": pa.array(np.where(gen.uniform(0.0, 1.0, total) < 0.03, 4, 0), pa.int32()),
            "class": pa.array(cls, pa.string()),
            "subclass": pa.array(sub, pa.string()),
            "plate": pa.array(cat["plate"], pa.int32()),
            "mjd": pa.array(cat["mjd"], pa.int32()),
            "fiberid": pa.array(cat["fiberid"], pa.int32()),
            "run2d": pa.array(cat["run2d"], pa.string()),
            "run1d": pa.array(cat["run1d"], pa.string()),
            "survey": pa.array(cat["survey"], pa.string()),
            "instrument": pa.array(cat["instrument"], pa.string()),
            "specprimary": pa.array(primary, pa.int16()),
            "scienceprimary": pa.array(primary, pa.int16()),
            "sn_median_all": pa.array(sn, pa.float32()),
            "veldisp": pa.array(veldisp.astype(np.float32), mask=np.isnan(veldisp)),
        }
    )
    recipes = pa.table(
        {
            "specobjid": table["specobjid"],
            "loglam0": np.round(
                np.where(cat["survey"] == "sdss", _SDSS[4], _BOSS[4])
                + cat["loglam0_k"] * LOGLAM_STEP,
                4,
            ),
            "npix": pa.array(cat["npix"], pa.int32()),
            "z": z,
            "class": table["class"],
            "rmag": pa.array(src["rmag"][rows], pa.float32()),
            "sn": pa.array(sn, pa.float32()),
        }
    )
    order = np.argsort(specobjid, kind="stable")
    return table.take(order), recipes.take(order)


def synthesize(recipe: dict[str, Any]) -> np.ndarray:
    """One spectrum in the SDSS coadd layout (:data:`SPEC_DTYPE`) from its recipe row.

    Parameters
    ----------
    recipe
        A row of the ``sdss_dr16.spectra`` table (``specobjid``, ``loglam0``, ``npix``, ``z``,
        ``class``, ``rmag``, ``sn``).

    Returns
    -------
    numpy.ndarray
        A 1-D structured array; flux, model and sky in 1e-17 erg/s/cm2/Angstrom.
    """
    specobjid = int(recipe["specobjid"])
    noise = np.random.default_rng([specobjid >> 32, specobjid & 0xFFFFFFFF])
    npix = int(recipe["npix"])
    loglam = float(recipe["loglam0"]) + LOGLAM_STEP * np.arange(npix)
    wave = 10**loglam
    z, cls = float(recipe["z"]), str(recipe["class"])
    rest = wave / (1 + z)
    # Continuum normalised to the r-band magnitude at 6200 Angstrom (f_lambda from AB mag).
    amp = 10 ** (-0.4 * (float(recipe["rmag"]) + 48.6)) * 2.998e18 / 6200**2 * 1e17
    lines: Lines
    if cls == "STAR":
        model = amp * (wave / 6200) ** -2.0 * (1 - np.exp(-(((wave - 3000) / 1500) ** 2)))
        lines, emit = _LINES_ABSORPTION, -1.0
    elif cls == "QSO":
        model = amp * (wave / 6200) ** -0.5
        lines, emit = _LINES_QSO, 1.0
    else:
        model = amp * (wave / 6200) ** 0.5 * np.where(rest < 4000, 0.6, 1.0)
        lines, emit = _LINES_EMISSION, 1.0
    width = 30.0 if cls == "QSO" else 3.0
    for centre, strength in lines:
        profile = np.exp(-0.5 * ((rest - centre) / width) ** 2)
        model = (
            model * (1 - 0.5 * strength * profile) if emit < 0 else model + amp * strength * profile
        )
    sigma = np.maximum(model, amp) / max(float(recipe["sn"]), 0.5)
    out = np.zeros(npix, SPEC_DTYPE)
    out["loglam"] = loglam
    out["model"] = model
    out["flux"] = model + noise.normal(0.0, 1.0, npix) * sigma
    out["ivar"] = 1 / sigma**2
    out["wdisp"] = 1.0 + 0.1 * np.sin(np.arange(npix) / 500)
    out["sky"] = 2.0 + 1.5 * np.exp(-0.5 * ((wave - 5578.5) / 3.0) ** 2)
    bad = noise.uniform(0.0, 1.0, npix) < 0.002
    out["and_mask"][bad] = 1 << 22  # BRIGHTSKY-like bit, so masks are not all zero
    out["or_mask"][bad] = 1 << 22
    out["ivar"][bad] = 0.0
    return out


def generate_sdss(out_dir: Path) -> dict[str, Path]:
    """Write ``sdss_dr16.specobj``, ``sdss_dr16.specobjall`` and the spectra recipes.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing).

    Returns
    -------
    dict of str to Path
        Keys ``"sdss_dr16.specobj"``, ``"sdss_dr16.specobjall"``, ``"sdss_dr16.spectra"``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "sdss_dr16.specobj": out_dir / "sdss_dr16_specobj.parquet",
        "sdss_dr16.specobjall": out_dir / "sdss_dr16_specobjall.parquet",
        "sdss_dr16.spectra": out_dir / "sdss_dr16_spectra.parquet",
    }
    table, recipes = _specobjall()
    pq.write_table(table, paths["sdss_dr16.specobjall"])
    pq.write_table(table.filter(pc.equal(table["scienceprimary"], 1)), paths["sdss_dr16.specobj"])
    pq.write_table(recipes, paths["sdss_dr16.spectra"])
    return paths
