"""Synthetic HSC match objects: the SMC pointings and the ECDFS field, as numpy columns.

Objects are generated per HST pointing (an ACS-sized square footprint with one filter set and
one epoch), which gives the patchy, clustered coverage of the real catalogue. Everything is
vectorised numpy and seeded from :mod:`standins.sky`, so the tables are identical on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from standins import sky
from standins.hsc_schema import FILTERS

BANDS = tuple(f"{p}_{b}" for p, b in FILTERS)
_BAND = {name: i for i, name in enumerate(BANDS)}

# Colour term of each band relative to V (F555W) per unit of V-I, so SEDs look stellar.
_COLOUR = np.array(
    [0.85, 0.55, 0.0, -0.28, -0.78, -1.0, -1.12, -1.55, -1.95, 2.1, 1.5, 0.8, 1.8, 0.0, -1.0],
    dtype=np.float32,
)

SMC_BOX = (11.68659, 14.68659, -74.3, -71.3)
"""The HSC SMC notebook's box: RA and Dec bounds (exclusive), deg."""

SMC_QUERY_ROWS = 764_000
"""Exact number of summary rows matching the SMC notebook query (fixed by construction)."""

_FOOTPRINT_DEG = 202.0 / 3600.0  # ACS/WFC field of view side

# Filter sets of SMC programmes, with their share of pointings.
_SMC_SETS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("A_F555W", "A_F814W"), 0.62),
    (("A_F475W", "A_F814W"), 0.05),
    (("A_F555W", "A_F814W", "W3_F336W"), 0.10),
    (("A_F606W", "A_F814W"), 0.05),
    (("W2_F555W", "W2_F814W", "A_F555W", "A_F814W"), 0.06),
    (("A_F435W", "A_F555W", "A_F814W", "W3_F275W"), 0.06),
    (("W3_F110W", "W3_F160W", "A_F814W"), 0.04),
    (("W2_F300W", "W2_F555W", "W3_F438W"), 0.02),
)
_ECDFS_SET = ("A_F435W", "A_F606W", "A_F775W", "A_F850LP", "W3_F110W", "W3_F160W")


@dataclass(frozen=True, slots=True)
class Objects:
    """Match-level columns; ``mag``/``mad``/``n`` are (rows, bands), NaN where not observed."""

    match_id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    pointing: np.ndarray
    ci: np.ndarray
    mag: np.ndarray
    mad: np.ndarray
    n: np.ndarray
    dsigma: np.ndarray
    abs_corr: np.ndarray
    start_mjd: np.ndarray
    stop_mjd: np.ndarray
    target: np.ndarray
    kron: np.ndarray
    extinction: np.ndarray
    spectrum: np.ndarray
    prop_id: np.ndarray

    def take(self, index: np.ndarray) -> Objects:
        """The objects at ``index`` (an integer or boolean array)."""
        return Objects(*(getattr(self, f.name)[index] for f in fields(self)))

    def __len__(self) -> int:
        return len(self.match_id)


def concat(parts: list[Objects]) -> Objects:
    """Rows of several object sets, in order."""
    names = [f.name for f in fields(Objects)]
    return Objects(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


TARGET_NAMES: tuple[str, ...] = (
    "SMC-FIELD",
    "NGC346",
    "NGC602",
    "NGC330",
    "SMC-BAR",
    "NGC419",
    "SMC-WING",
    "ECDFS",
    "GOODS-SOUTH",
    "CANDELS-GS",
)
"""Target names; ``Objects.target`` indexes this tuple."""


def _offsets_to_sky(
    ra0: np.ndarray, dec0: np.ndarray, dx: np.ndarray, dy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Small fields: a flat-sky offset with the cos(dec) stretch is exact to well below 1 mas.
    dec = dec0 + dy
    ra = (ra0 + dx / np.cos(np.radians(dec))) % 360.0
    return ra, dec


def _photometry(
    gen: np.random.Generator, vmag: np.ndarray, sets: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band magnitudes, MADs and counts for objects whose pointing observes ``sets`` bands.

    ``sets`` and ``depth`` are (rows, bands): the band mask of the pointing and its 5-sigma
    depth; an object is detected in a band when it is brighter than the (noisy) depth there.
    """
    # Work on the observed (row, band) pairs only: a pointing has 2-6 of the 15 bands.
    rows, bands = sets.shape
    r, b = np.nonzero(sets)
    v_i = np.asarray(gen.normal(0.75, 0.35, rows), dtype=np.float32)
    m = vmag[r] + _COLOUR[b] * v_i[r] + gen.normal(0.0, 0.03, len(r)).astype(np.float32)
    limit = depth[r, b]
    seen = m < limit + gen.normal(0.0, 0.3, len(r)).astype(np.float32)
    # HSC only keeps matches detected somewhere: force the deepest band of the set.
    order = np.lexsort((-limit, r))
    deepest = order[np.r_[0, np.flatnonzero(np.diff(r[order])) + 1]]
    detected = np.zeros(rows, dtype=bool)
    detected[r[seen]] = True
    seen[deepest[~detected[r[deepest]]]] = True
    count = np.where(seen, gen.integers(1, 5, len(r)), 0).astype(np.int32)
    err = 0.004 + 0.03 * np.power(np.float32(10.0), np.float32(0.4) * (m - limit))
    spread = np.where(count > 1, np.abs(gen.normal(0.0, 1.0, len(r))) * err, 0.0)
    mag = np.full((rows, bands), np.nan, dtype=np.float32)
    mad = np.full((rows, bands), np.nan, dtype=np.float32)
    n = np.zeros((rows, bands), dtype=np.int32)
    rs, bs = r[seen], b[seen]
    mag[rs, bs], mad[rs, bs], n[rs, bs] = m[seen], spread[seen], count[seen]
    return mag, mad, n


def _object_columns(
    gen: np.random.Generator,
    *,
    ra: np.ndarray,
    dec: np.ndarray,
    pointing: np.ndarray,
    ci: np.ndarray,
    phot: tuple[np.ndarray, np.ndarray, np.ndarray],
    per_pointing: dict[str, np.ndarray],
    ids: tuple[int, int],
) -> Objects:
    """Assemble objects; ``ids`` is (first MatchID, first global pointing number)."""
    mag, mad, n = phot
    images = n.sum(axis=1)
    faint = np.nan_to_num(np.nanmin(mag, axis=1), nan=27.0)
    dsigma = np.where(
        images > 1, np.abs(gen.normal(0, 1, len(ra))) * (2 + 10 ** (0.4 * (faint - 24))), 0
    )
    extended = np.clip(ci - 1.2, 0.0, None)
    return Objects(
        match_id=np.arange(ids[0], ids[0] + len(ra), dtype=np.int64),
        ra=ra,
        dec=dec,
        pointing=(pointing + ids[1]).astype(np.int32),
        ci=ci,
        mag=mag,
        mad=mad,
        n=n,
        dsigma=dsigma,
        abs_corr=per_pointing["abs_corr"][pointing],
        start_mjd=per_pointing["start"][pointing],
        stop_mjd=per_pointing["stop"][pointing],
        target=per_pointing["target"][pointing],
        kron=3.3 + 4.0 * extended + np.abs(gen.normal(0, 0.25, len(ra))),
        extinction=0.04
        + 0.02 * np.sin(np.radians(ra) * 40) ** 2
        + 0.01 * np.cos(np.radians(dec) * 30),
        spectrum=gen.random(len(ra)) < 0.002,
        prop_id=per_pointing["prop_id"][pointing],
    )


def _pointing_metadata(
    gen: np.random.Generator, count: int, targets: np.ndarray
) -> dict[str, np.ndarray]:
    start = gen.uniform(51500.0, 59500.0, count)
    return {
        "abs_corr": gen.random(count) < 0.92,
        "start": start,
        "stop": start + gen.exponential(300.0, count) * (gen.random(count) < 0.5),
        "target": targets.astype(np.int16),
        "prop_id": gen.integers(9000, 17000, count).astype(np.int32),
    }


def smc_objects(first_id: int) -> Objects:
    """The SMC field: clustered pointings, exactly ``SMC_QUERY_ROWS`` rows in the notebook box."""
    gen = sky.rng("hsc-smc")
    ra_c, dec_c = sky.SMC_CENTER
    count = 470
    # Pointings concentrate on the SMC bar; the first sits on the notebook's centre.
    pdy = np.concatenate([[0.0], gen.normal(0.0, 0.55, count - 1)])
    pdx = np.concatenate([[0.0], gen.normal(0.0, 0.25, count - 1)])
    p_ra, p_dec = _offsets_to_sky(np.full(count, ra_c), np.full(count, dec_c), pdx, pdy)
    order = np.argsort(p_dec)  # ids follow declination, so Parquet row groups prune well
    p_ra, p_dec = p_ra[order], p_dec[order]
    shares = np.array([s for _, s in _SMC_SETS])
    set_index = gen.choice(len(_SMC_SETS), count, p=shares / shares.sum())
    masks = np.array([[b in bands for b in BANDS] for bands, _ in _SMC_SETS])
    per_pointing = _pointing_metadata(gen, count, gen.integers(0, 7, count))
    sizes = np.maximum(gen.lognormal(np.log(2200.0), 0.35, count).astype(np.int64), 50)
    pointing = np.repeat(np.arange(count), sizes)
    rows = len(pointing)
    half = _FOOTPRINT_DEG / 2
    ra, dec = _offsets_to_sky(
        p_ra[pointing],
        p_dec[pointing],
        gen.uniform(-half, half, rows),
        gen.uniform(-half, half, rows),
    )
    # Luminosity function rising to the faint end (dN/dm ~ 10^(0.3 m)), V from 14 to 26.8.
    low = 10 ** (0.3 * (14.0 - 26.8))
    vmag = (26.8 + np.log10(gen.uniform(low, 1.0, rows)) / 0.3).astype(np.float32)
    depth = (27.4 + gen.normal(0.0, 0.4, (count, len(BANDS)))).astype(np.float32)[pointing]
    phot = _photometry(gen, vmag, masks[set_index][pointing], depth)
    # Stars (CI ~ 1.15, wider when faint), background galaxies, and artefacts (hot pixels).
    kind = gen.random(rows)
    spread = 0.07 + 0.01 * np.clip(vmag - 22.0, 0.0, None)
    ci = np.select(
        [kind < 0.93, kind < 0.97],
        [1.15 + gen.normal(0.0, 1.0, rows) * spread, 1.6 + gen.exponential(0.6, rows)],
        gen.uniform(0.3, 0.9, rows),
    )
    objects = _object_columns(
        gen,
        ra=ra,
        dec=dec,
        pointing=pointing,
        ci=ci,
        phot=phot,
        per_pointing=per_pointing,
        ids=(first_id, 0),
    )
    return _trim_to_query_count(gen, objects)


def smc_query_mask(o: Objects) -> np.ndarray:
    """Rows the SMC notebook query selects (box, F555W and F814W measured, 0.9 < CI < 1.6)."""
    ra0, ra1, dec0, dec1 = SMC_BOX
    return (
        (o.ra > ra0)
        & (o.ra < ra1)
        & (o.dec > dec0)
        & (o.dec < dec1)
        & (o.n[:, _BAND["A_F555W"]] >= 1)
        & (o.n[:, _BAND["A_F814W"]] >= 1)
        & (o.ci > 0.9)
        & (o.ci < 1.6)
    )


def _trim_to_query_count(gen: np.random.Generator, o: Objects) -> Objects:
    # Drop a random few matching rows so the notebook count is exact whatever the draw gave;
    # the generator is tuned to overshoot by ~1-3 %, so distributions are barely touched.
    hits = np.flatnonzero(smc_query_mask(o))
    excess = len(hits) - SMC_QUERY_ROWS
    if excess < 0:
        raise RuntimeError(f"SMC generator undershoots the notebook count by {-excess} rows")
    keep = np.ones(len(o), dtype=bool)
    keep[gen.choice(hits, excess, replace=False)] = False
    trimmed = o.take(keep)
    ids = np.arange(o.match_id[0], o.match_id[0] + len(trimmed), dtype=np.int64)
    return replace(trimmed, match_id=ids)


def _min_separation_deg(
    ra: np.ndarray, dec: np.ndarray, ref_ra: np.ndarray, ref_dec: np.ndarray
) -> np.ndarray:
    """Great-circle distance from each (ra, dec) to its nearest reference position."""
    r1, d1 = np.radians(ra)[:, None], np.radians(dec)[:, None]
    r2, d2 = np.radians(ref_ra)[None, :], np.radians(ref_dec)[None, :]
    hav = np.sin((d1 - d2) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r1 - r2) / 2) ** 2
    return np.asarray(np.degrees(2 * np.arcsin(np.sqrt(hav.min(axis=1)))))


def ecdfs_objects(first_id: int, unrelated: int = 12_000) -> Objects:
    """The ECDFS field: one object per shared anchor (< 0.1 arcsec off) plus field galaxies."""
    gen = sky.rng("hsc-ecdfs")
    anchors = sky.ecdfs_anchors()
    # Scatter the anchors by ~15 mas per axis, capped so no pair is 0.1 arcsec apart.
    scatter = np.clip(gen.normal(0.0, 0.015, (2, len(anchors.ra))), -0.06, 0.06) / 3600.0
    a_ra, a_dec = _offsets_to_sky(anchors.ra, anchors.dec, scatter[0], scatter[1])
    cos_max = np.cos(np.radians(sky.ECDFS_RADIUS_DEG))
    theta = np.degrees(np.arccos(gen.uniform(cos_max, 1.0, unrelated)))
    phi = gen.uniform(0.0, 2 * np.pi, unrelated)
    f_ra, f_dec = _offsets_to_sky(
        np.full(unrelated, sky.ECDFS_CENTER[0]),
        np.full(unrelated, sky.ECDFS_CENTER[1]),
        theta * np.sin(phi),
        theta * np.cos(phi),
    )
    # Keep field galaxies >= 2 arcsec from the anchors so a positional join finds one pair.
    clear = _min_separation_deg(f_ra, f_dec, anchors.ra, anchors.dec) >= 2.0 / 3600.0
    f_ra, f_dec = f_ra[clear], f_dec[clear]
    unrelated = len(f_ra)
    ra = np.concatenate([a_ra, f_ra])
    dec = np.concatenate([a_dec, f_dec])
    rows = len(ra)
    # Anchors keep their shared r magnitude (F606W ~ r); field galaxies go faint.
    r_field = (28.5 + np.log10(gen.uniform(1e-3, 1.0, unrelated)) / 0.3).astype(np.float32)
    vmag = np.concatenate([anchors.rmag.astype(np.float32) + 0.25, r_field + 0.25])
    sets = np.broadcast_to(np.array([b in _ECDFS_SET for b in BANDS]), (rows, len(BANDS)))
    depth = np.full((rows, len(BANDS)), 28.2, dtype=np.float32)
    phot = _photometry(gen, vmag, sets.copy(), depth)
    ci = np.where(
        gen.random(rows) < 0.3, gen.normal(1.2, 0.08, rows), 1.5 + gen.exponential(0.7, rows)
    )
    # Eight GOODS/CANDELS pointing epochs, assigned by position angle around the centre.
    pointing = (
        np.floor(np.degrees(np.arctan2(dec - sky.ECDFS_CENTER[1], ra - sky.ECDFS_CENTER[0])) + 180)
        // 45
    ).astype(np.int64) % 8
    per_pointing = _pointing_metadata(gen, 8, gen.integers(7, 10, 8))
    return _object_columns(
        gen,
        ra=ra,
        dec=dec,
        pointing=pointing,
        ci=ci,
        phot=phot,
        per_pointing=per_pointing,
        ids=(first_id, 1000),
    )
