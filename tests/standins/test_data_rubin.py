"""The DP1-like Object and ObsCore tables: shape, anchors, ObsCore vocabulary, determinism."""

from __future__ import annotations

import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord

from standins.data_rubin import generate_rubin
from standins.sia_geometry import SphericalPolygon, unit
from standins.sky import ECDFS_CENTER, ecdfs_anchors

MANDATORY = [
    "dataproduct_type",
    "calib_level",
    "obs_collection",
    "obs_id",
    "obs_publisher_did",
    "access_url",
    "access_format",
    "access_estsize",
    "target_name",
    "s_ra",
    "s_dec",
    "s_fov",
    "s_region",
    "s_resolution",
    "s_xel1",
    "s_xel2",
    "t_min",
    "t_max",
    "t_exptime",
    "t_resolution",
    "t_xel",
    "em_min",
    "em_max",
    "em_res_power",
    "em_xel",
    "o_ucd",
    "pol_states",
    "pol_xel",
    "facility_name",
    "instrument_name",
]


@pytest.fixture(scope="module")
def rubin(tmp_path_factory):
    start = time.perf_counter()
    paths = generate_rubin(tmp_path_factory.mktemp("rubin"))
    elapsed = time.perf_counter() - start
    return paths, elapsed


def test_generation_is_fast_and_writes_both_tables(rubin):
    paths, elapsed = rubin
    assert set(paths) == {"dp1.Object", "ivoa.ObsCore"}
    assert elapsed < 10
    assert all(p.exists() for p in paths.values())


def test_generation_is_deterministic(rubin, tmp_path):
    again = generate_rubin(tmp_path)
    for key, path in rubin[0].items():
        assert pq.read_table(path).equals(pq.read_table(again[key])), key


def test_object_table_shape_and_nulls(rubin):
    obj = pq.read_table(rubin[0]["dp1.Object"])
    assert 20_000 <= obj.num_rows <= 50_000
    ids = obj["objectId"].to_numpy()
    assert obj.schema.field("objectId").type == "int64"
    assert np.unique(ids).size == ids.size
    for band in "ugrizy":
        assert f"{band}_cModelMag" in obj.column_names
        assert f"{band}_cModelMagErr" in obj.column_names
    # Realistic NULLs: some, but not most, magnitudes are missing.
    u_nulls = obj["u_cModelMag"].null_count / obj.num_rows
    assert 0.01 < u_nulls < 0.7
    # Everything lies in the ECDFS field.
    sep = np.degrees(
        np.arccos(
            np.clip(
                unit(obj["coord_ra"].to_numpy(), obj["coord_dec"].to_numpy()) @ unit(*ECDFS_CENTER),
                -1,
                1,
            )
        )
    )
    assert sep.max() < 0.75


def test_every_anchor_has_one_object_within_0_1_arcsec(rubin):
    obj = pq.read_table(rubin[0]["dp1.Object"])
    anchors = ecdfs_anchors()
    ra, dec = obj["coord_ra"].to_numpy(), obj["coord_dec"].to_numpy()
    rmag = obj["r_cModelMag"].to_numpy(zero_copy_only=False)
    points = unit(ra, dec)
    for a_ra, a_dec, a_r in zip(anchors.ra, anchors.dec, anchors.rmag, strict=True):
        sep = np.degrees(np.arccos(np.clip(points @ unit(a_ra, a_dec), -1, 1))) * 3600
        near = np.flatnonzero(sep < 0.1)
        assert near.size >= 1
        best = near[np.argmin(sep[near])]
        assert abs(rmag[best] - a_r) < 0.5


def test_obscore_columns_and_vocabulary(rubin):
    oc = pq.read_table(rubin[0]["ivoa.ObsCore"])
    assert 200 <= oc.num_rows <= 600
    for name in [
        *MANDATORY,
        "dataproduct_subtype",
        "lsst_band",
        "lsst_filter",
        "lsst_tract",
        "lsst_patch",
        "lsst_visit",
    ]:
        assert name in oc.column_names, name
    for name in ("calib_level", "obs_collection", "obs_id", "obs_publisher_did"):
        assert oc[name].null_count == 0, name
    assert set(oc["dataproduct_type"].to_pylist()) == {"image"}
    assert set(oc["dataproduct_subtype"].to_pylist()) >= {"lsst.deep_coadd", "lsst.visit_image"}
    assert set(oc["lsst_band"].to_pylist()) <= set("ugrizy")
    assert len(set(oc["obs_publisher_did"].to_pylist())) == oc.num_rows
    assert (oc["em_min"].to_numpy() < oc["em_max"].to_numpy()).all()
    assert (oc["t_min"].to_numpy() <= oc["t_max"].to_numpy()).all()
    coadd = np.array(oc["dataproduct_subtype"].to_pylist()) == "lsst.deep_coadd"
    assert (oc["calib_level"].to_numpy()[coadd] == 3).all()


def test_s_region_is_a_ccw_polygon_around_s_ra_s_dec(rubin):
    oc = pq.read_table(rubin[0]["ivoa.ObsCore"])
    for region, ra, dec in zip(
        oc["s_region"].to_pylist(), oc["s_ra"].to_pylist(), oc["s_dec"].to_pylist(), strict=True
    ):
        assert len(region) == 8
        poly = SphericalPolygon.from_flat(region)
        assert poly.contains(unit(ra, dec))[0]
        # Counter-clockwise: every edge normal points to the inside.
        a, b = poly.edges()
        assert (np.einsum("ij,j->i", np.cross(a, b), unit(ra, dec)) > 0).all()


def test_field_centre_lies_well_inside_one_patch_per_band(rubin):
    # Every example queries the field centre: it must not sit on a patch edge or corner,
    # where closed regions make several patches answer.
    oc = pq.read_table(rubin[0]["ivoa.ObsCore"]).to_pylist()
    centre = SkyCoord(*ECDFS_CENTER, unit="deg")
    hits = []
    for row in oc:
        if row["dataproduct_subtype"] != "lsst.deep_coadd":
            continue
        region = np.array(row["s_region"])
        v = unit(region[0::2], region[1::2])
        t = np.linspace(0.0, 1.0, 2000)[:, None]
        edges = np.concatenate(
            [a * (1 - t) + b * t for a, b in zip(v, np.roll(v, -1, 0), strict=True)]
        )
        edges /= np.linalg.norm(edges, axis=1, keepdims=True)
        samples = SkyCoord(
            np.degrees(np.arctan2(edges[:, 1], edges[:, 0])),
            np.degrees(np.arcsin(edges[:, 2])),
            unit="deg",
        )
        assert centre.separation(samples).deg.min() > 0.04, row["obs_id"]
        if SphericalPolygon.from_flat(region).contains(unit(*ECDFS_CENTER))[0]:
            hits.append(row["obs_id"])
    assert sorted(hits) == sorted(f"5063_45_{band}" for band in "ugrizy")
