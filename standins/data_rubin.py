"""Rubin DP1-like demo data in the ECDFS field: ``dp1.Object`` and ``ivoa.ObsCore``.

Both tables are written as Parquet files. Layout choices:

- Sky tiling. One tract (``5063``, DP1's ECDFS tract) cut into 0.2-degree patches on the
  tangent plane at the field centre; the central 6x6 of a 10x10 patch grid is populated, so
  patch numbers are ``x + 10 * y`` like the LSST skymap. Straight lines on the tangent plane
  are great circles on the sky, so every footprint is an exact great-circle polygon. The grid
  is shifted by :data:`GRID_SHIFT` so that the field centre, the position every example
  queries, lies well inside one patch (45) instead of on the corner four patches share.
- ``s_region`` is stored as ``list<double>`` of ``lon1, lat1, lon2, lat2, ...`` (degrees,
  ICRS, not closed, counter-clockwise: each edge's normal ``v_i x v_i+1`` points inside). That
  is the DALI ``polygon`` value as is, so the TAP layer and the SIA stand-in serve it as
  ``double[*]`` with ``xtype="polygon"`` without reformatting.
- Magnitudes are AB; fainter than the 5-sigma depth a band is NULL (no detection), plus a
  small fraction of random NULLs (flagged measurements), as in the real catalogue.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from standins.sky import ECDFS_CENTER, ecdfs_anchors, rng

TRACT = 5063
"""DP1's ECDFS tract."""

PATCH_DEG = 0.2
"""Patch side on the tangent plane (deg)."""

PATCH_GRID = 6
"""Populated patches per side (the central part of the 10x10 tract grid)."""

GRID_SHIFT = (-0.07, 0.05)
"""Tangent-plane offset (deg) of the patch grid's centre from the field centre: the centre
falls in patch 45, 0.07 deg from its nearest side edge and 0.05 deg from its top edge."""

GENERATOR_VERSION = "2"
"""Bumped when the generated data changes (2: shifted patch grid), so caches regenerate."""

BANDS = ("u", "g", "r", "i", "z", "y")
FILTERS = {"u": "u_02", "g": "g_01", "r": "r_03", "i": "i_06", "z": "z_03", "y": "y_04"}
"""Physical LSSTComCam filter of each band (``lsst_filter``)."""

BAND_RANGES_NM = {
    "u": (300.0, 393.2),
    "g": (402.6, 548.3),
    "r": (551.0, 689.1),
    "i": (693.6, 818.8),
    "z": (819.2, 920.1),
    "y": (927.8, 1100.0),
}
"""DP1 ``spectral_ranges`` of dax_obscore: the ``em_min``/``em_max`` of each band."""

DEPTH = {"u": 24.0, "g": 25.2, "r": 25.0, "i": 24.6, "z": 24.0, "y": 23.0}
"""5-sigma point-source depth of the demo coadds (mag); fainter measurements are NULL."""

OBJECT_ID_BASE = 611_254_799_680_000_000
"""DP1-looking object identifiers start here; anchors take the first ids."""

N_UNRELATED = 30_000
OBSCORE_COLLECTION = "LSST.DP1"
DID_NAMESPACE = uuid.UUID("6f1c1b8e-2d43-4f5e-9a51-0d1f3c2b7a10")
DID_PREFIX = "ivo://org.rubinobs/usdac/lsst-dp1?repo=dp1&id="
DATALINK_URL = "https://data.lsst.cloud/api/datalink/links?ID="


def tangent_to_sky(xi: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse gnomonic projection about the ECDFS centre; offsets and result in degrees."""
    a0, d0 = np.radians(ECDFS_CENTER)
    x, y = np.radians(xi), np.radians(eta)
    denom = np.cos(d0) - y * np.sin(d0)
    ra = (a0 + np.arctan2(x, denom)) % (2 * np.pi)
    dec = np.arctan2(np.sin(d0) + y * np.cos(d0), np.hypot(x, denom))
    return np.degrees(ra), np.degrees(dec)


def sky_to_tangent(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic projection about the ECDFS centre; positions and offsets in degrees."""
    a0, d0 = np.radians(ECDFS_CENTER)
    a, d = np.radians(ra), np.radians(dec)
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    xi = np.cos(d) * np.sin(a - a0) / cos_c
    eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cos_c
    return np.degrees(xi), np.degrees(eta)


def patch_of(xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """LSST-style patch number (``x + 10 y`` in the 10x10 tract grid) of tangent offsets."""
    half = PATCH_GRID * PATCH_DEG / 2
    offset = (10 - PATCH_GRID) // 2
    x, y = xi - GRID_SHIFT[0] + half, eta - GRID_SHIFT[1] + half
    ix = np.clip(np.floor(x / PATCH_DEG), 0, PATCH_GRID - 1).astype(np.int64)
    iy = np.clip(np.floor(y / PATCH_DEG), 0, PATCH_GRID - 1).astype(np.int64)
    return (ix + offset) + 10 * (iy + offset)


def _cap_positions(gen: np.random.Generator, n: int, radius: float) -> tuple[np.ndarray, ...]:
    """Uniform positions (on the tangent plane, fine at this size) inside ``radius`` deg."""
    r = radius * np.sqrt(gen.uniform(0.0, 1.0, n))
    phi = gen.uniform(0.0, 2 * np.pi, n)
    return tangent_to_sky(r * np.cos(phi), r * np.sin(phi))


def _object_table() -> pa.Table:
    gen = rng("rubin-dp1-object")
    anchors = ecdfs_anchors()
    n_anchor = anchors.ra.size
    # Anchors carry a small astrometric scatter (sigma 0.02 arcsec, clipped at 0.08) so
    # cross-matches at 0.1-1 arcsec find every one of them, but not at zero separation.
    scatter = np.clip(gen.normal(0.0, 0.02 / 3600, (2, n_anchor)), -0.08 / 3600, 0.08 / 3600)
    a_ra = (anchors.ra + scatter[0] / np.cos(np.radians(anchors.dec))) % 360.0
    a_dec = anchors.dec + scatter[1]
    u_ra, u_dec = _cap_positions(gen, N_UNRELATED, 0.65)
    ra = np.concatenate([a_ra, u_ra])
    dec = np.concatenate([a_dec, u_dec])
    n = ra.size
    # Unrelated objects follow a rising number count: more faint than bright sources.
    u_r = 27.0 - gen.power(3.0, N_UNRELATED) * 9.5
    rmag = np.concatenate([anchors.rmag, u_r])
    extended = gen.uniform(0.0, 1.0, n) < np.clip((rmag - 18.0) / 6.0, 0.15, 0.85)
    colour_g_r = np.where(extended, gen.normal(0.75, 0.25, n), gen.normal(0.45, 0.35, n))
    true = {
        "r": rmag,
        "g": rmag + colour_g_r,
        "u": rmag + colour_g_r + gen.normal(1.0, 0.4, n),
        "i": rmag - gen.normal(0.3, 0.15, n),
    }
    true["z"] = true["i"] - gen.normal(0.15, 0.1, n)
    true["y"] = true["z"] - gen.normal(0.1, 0.08, n)

    columns: dict[str, pa.Array] = {
        "objectId": pa.array(OBJECT_ID_BASE + np.arange(n, dtype=np.int64), pa.int64()),
        "coord_ra": pa.array(ra, pa.float64()),
        "coord_dec": pa.array(dec, pa.float64()),
    }
    columns["coord_raErr"] = pa.array(
        (0.01 + 0.05 * 10 ** (0.4 * (rmag - 25.0))).astype(np.float32) / 3600, pa.float32()
    )
    columns["coord_decErr"] = columns["coord_raErr"]
    for band in BANDS:
        err = 0.005 + 0.2 * 10 ** (0.4 * (true[band] - DEPTH[band]))
        measured = true[band] + gen.normal(0.0, 1.0, n) * err
        # Non-detections (fainter than ~1 mag past depth) and flagged fits are NULL.
        null = (true[band] > DEPTH[band] + 1.0) | (gen.uniform(0.0, 1.0, n) < 0.01)
        null[:n_anchor] &= band != "r"  # anchors are always measured in r
        columns[f"{band}_cModelMag"] = pa.array(measured.astype(np.float32), mask=null)
        columns[f"{band}_cModelMagErr"] = pa.array(err.astype(np.float32), mask=null)
        flux_njy = 10 ** ((31.4 - measured) / 2.5)
        columns[f"{band}_cModelFlux"] = pa.array(flux_njy.astype(np.float32), mask=null)
    ext_null = gen.uniform(0.0, 1.0, n) < 0.02
    columns["refExtendedness"] = pa.array(extended.astype(np.float32), mask=ext_null)
    columns["refBand"] = pa.array(np.where(rmag < 25.5, "r", "i"))
    columns["detect_isPrimary"] = pa.array(gen.uniform(0.0, 1.0, n) > 0.03)
    columns["detect_isIsolated"] = pa.array(gen.uniform(0.0, 1.0, n) > 0.1)
    columns["ebv"] = pa.array(gen.normal(0.008, 0.0008, n).astype(np.float32))
    xi, eta = sky_to_tangent(ra, dec)
    columns["tract"] = pa.array(np.full(n, TRACT, dtype=np.int64))
    columns["patch"] = pa.array(patch_of(xi, eta))
    return pa.table(columns)


def _footprint(xi0: float, eta0: float, half: float, angle: float = 0.0) -> list[float]:
    """Counter-clockwise corners of a square on the tangent plane as DALI polygon values."""
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    c, s = np.cos(angle), np.sin(angle)
    rotated = corners @ np.array([[c, s], [-s, c]])
    ra, dec = tangent_to_sky(xi0 + rotated[:, 0], eta0 + rotated[:, 1])
    return [float(v) for pair in zip(ra, dec, strict=True) for v in pair]


def _obscore_rows() -> list[dict[str, object]]:
    gen = rng("rubin-dp1-obscore")
    rows: list[dict[str, object]] = []
    half_grid = PATCH_GRID * PATCH_DEG / 2
    for iy in range(PATCH_GRID):
        for ix in range(PATCH_GRID):
            xi0 = GRID_SHIFT[0] - half_grid + (ix + 0.5) * PATCH_DEG
            eta0 = GRID_SHIFT[1] - half_grid + (iy + 0.5) * PATCH_DEG
            patch = int(patch_of(np.array([xi0]), np.array([eta0]))[0])
            for band in BANDS:
                nvisit = int(gen.integers(4, 40))
                rows.append(
                    {
                        "subtype": "lsst.deep_coadd",
                        "calib_level": 3,
                        "obs_id": f"{TRACT}_{patch}_{band}",
                        "band": band,
                        "region": _footprint(xi0, eta0, PATCH_DEG / 2),
                        "t_min": 60623.0 + float(gen.uniform(0.0, 3.0)),
                        "t_max": 60655.0 + float(gen.uniform(0.0, 3.0)),
                        "exptime": 30.0 * nvisit,
                        "resolution": float(gen.uniform(0.85, 1.1)),
                        "xel": 3400,
                        "patch": patch,
                        "visit": None,
                        "detector": None,
                    }
                )
    for k in range(12):
        visit = 2024112600000 + 37 * k + int(gen.integers(0, 30))
        band = BANDS[1 + k % 4]
        dither = gen.normal(0.0, 0.05, 2)
        angle = float(gen.uniform(0.0, np.pi / 2))
        t0 = 60625.0 + 2.5 * k + float(gen.uniform(0.0, 0.3))
        for det in range(9):
            # ComCam: a 3x3 raft of 0.22-degree detectors, rotated with the camera.
            dx, dy = (det % 3 - 1) * 0.22, (det // 3 - 1) * 0.22
            c, s = np.cos(angle), np.sin(angle)
            xi0 = float(dither[0] + c * dx - s * dy)
            eta0 = float(dither[1] + s * dx + c * dy)
            base = {
                "band": band,
                "region": _footprint(xi0, eta0, 0.11, angle),
                "t_min": t0,
                "t_max": t0 + 30.0 / 86400,
                "exptime": 30.0,
                "resolution": float(gen.uniform(0.8, 1.6)),
                "xel": 4000,
                "patch": None,
                "visit": visit,
                "detector": det,
            }
            rows.append(
                base | {"subtype": "lsst.visit_image", "calib_level": 2, "obs_id": f"{visit}_{det}"}
            )
            if k % 3 == 0:
                rows.append(
                    base
                    | {
                        "subtype": "lsst.difference_image",
                        "calib_level": 3,
                        "obs_id": f"{visit}_{det}_diff",
                    }
                )
    return rows


def _obscore_table() -> pa.Table:
    rows = _obscore_rows()
    cols: dict[str, list[object]] = {}

    def put(name: str, value: object) -> None:
        cols.setdefault(name, []).append(value)

    for row in rows:
        region = row["region"]
        assert isinstance(region, list)
        ra, dec = np.array(region[0::2]), np.array(region[1::2])
        xi, eta = sky_to_tangent(ra, dec)
        cx, cy = tangent_to_sky(xi.mean(keepdims=True), eta.mean(keepdims=True))
        diag = float(np.hypot(xi.max() - xi.min(), eta.max() - eta.min()))
        band = str(row["band"])
        lo, hi = BAND_RANGES_NM[band]
        did = DID_PREFIX + str(uuid.uuid5(DID_NAMESPACE, str(row["obs_id"])))
        put("dataproduct_type", "image")
        put("dataproduct_subtype", row["subtype"])
        put("calib_level", row["calib_level"])
        put("obs_collection", OBSCORE_COLLECTION)
        put("obs_id", row["obs_id"])
        put("obs_publisher_did", did)
        put("access_url", DATALINK_URL + quote(did, safe=""))
        put("access_format", "application/x-votable+xml;content=datalink")
        xel = int(str(row["xel"]))
        put("access_estsize", xel * xel * 12 // 1024)
        put("target_name", "ECDFS")
        put("s_ra", float(cx[0]))
        put("s_dec", float(cy[0]))
        put("s_fov", diag)
        put("s_region", region)
        put("s_resolution", row["resolution"])
        put("s_xel1", xel)
        put("s_xel2", xel + 100)
        put("t_min", row["t_min"])
        put("t_max", row["t_max"])
        put("t_exptime", row["exptime"])
        put("t_resolution", row["exptime"])
        put("t_xel", 1)
        put("em_min", lo / 1e9)
        put("em_max", hi / 1e9)
        put("em_res_power", (lo + hi) / 2 / (hi - lo))
        put("em_xel", 1)
        put("o_ucd", "phot.flux.density")
        put("pol_states", None)
        put("pol_xel", None)
        put("facility_name", "Rubin:Simonyi")
        put("instrument_name", "LSSTComCam")
        put("lsst_band", band)
        put("lsst_filter", FILTERS[band])
        put("lsst_tract", TRACT if row["patch"] is not None else None)
        put("lsst_patch", row["patch"])
        put("lsst_visit", row["visit"])
        put("lsst_detector", row["detector"])
    schema = pa.schema(
        [(name, _OBSCORE_TYPES.get(name, pa.string())) for name in cols],
    )
    return pa.table(cols, schema=schema)


_OBSCORE_TYPES: dict[str, pa.DataType] = {
    "calib_level": pa.int32(),
    "access_estsize": pa.int64(),
    "s_region": pa.list_(pa.float64()),
    "s_xel1": pa.int64(),
    "s_xel2": pa.int64(),
    "t_xel": pa.int64(),
    "em_xel": pa.int64(),
    "pol_xel": pa.int64(),
    "lsst_tract": pa.int64(),
    "lsst_patch": pa.int64(),
    "lsst_visit": pa.int64(),
    "lsst_detector": pa.int64(),
} | {
    name: pa.float64()
    for name in (
        "s_ra",
        "s_dec",
        "s_fov",
        "s_resolution",
        "t_min",
        "t_max",
        "t_exptime",
        "t_resolution",
        "em_min",
        "em_max",
        "em_res_power",
    )
}


def generate_rubin(out_dir: Path) -> dict[str, Path]:
    """Write the DP1-like ``dp1.Object`` and ``ivoa.ObsCore`` tables as Parquet.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing).

    Returns
    -------
    dict of str to Path
        ``{"dp1.Object": ..., "ivoa.ObsCore": ...}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "dp1.Object": out_dir / "dp1_object.parquet",
        "ivoa.ObsCore": out_dir / "ivoa_obscore.parquet",
    }
    pq.write_table(_object_table(), paths["dp1.Object"])
    pq.write_table(_obscore_table(), paths["ivoa.ObsCore"])
    return paths
