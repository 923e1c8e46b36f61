"""SDSS-like spectroscopic tables: specobjid packing, primaries, anchors, synthetic spectra."""

from __future__ import annotations

import time

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from standins import specobjid as sid
from standins.data_sdss import SPEC_DTYPE, generate_sdss, synthesize
from standins.sia_geometry import unit
from standins.sky import ecdfs_anchors

WORKED_EXAMPLE = 4565636362342690816  # plate 4055, fiber 408, mjd 55359, run2d v5_7_0


@pytest.fixture(scope="module")
def sdss(tmp_path_factory):
    start = time.perf_counter()
    paths = generate_sdss(tmp_path_factory.mktemp("sdss"))
    return paths, time.perf_counter() - start


def test_worked_example_packs_and_unpacks():
    assert sid.pack(4055, 408, 55359, "v5_7_0") == WORKED_EXAMPLE
    assert sid.unpack(WORKED_EXAMPLE) == sid.SpecObjId(4055, 408, 55359, "v5_7_0")


@pytest.mark.parametrize(
    ("text", "packed"), [("26", 26), ("103", 103), ("v5_13_0", 1300), ("v6_0_4", 10004)]
)
def test_run2d_round_trip(text, packed):
    assert sid.run2d_to_int(text) == packed
    assert sid.run2d_from_int(packed) == text


def test_signed_view_of_large_plates():
    big = sid.pack(9000, 1, 57000, "v5_13_0")
    assert sid.to_signed(big) < 0
    assert sid.to_unsigned(sid.to_signed(big)) == big
    assert sid.unpack(sid.to_signed(big)).plate == 9000
    with pytest.raises(ValueError, match="fiberid"):
        sid.pack(4055, 5000, 55359, 26)


def test_generation_fast_and_deterministic(sdss, tmp_path):
    paths, elapsed = sdss
    assert elapsed < 10
    assert set(paths) == {"sdss_dr16.specobj", "sdss_dr16.specobjall", "sdss_dr16.spectra"}
    again = generate_sdss(tmp_path)
    for key, path in paths.items():
        assert pq.read_table(path).equals(pq.read_table(again[key])), key


def test_specobjid_matches_its_columns(sdss):
    table = pq.read_table(sdss[0]["sdss_dr16.specobjall"])
    assert table.schema.field("specobjid").type == "uint64"
    for row in table.slice(0, 3000).to_pylist()[::7]:
        fields = sid.unpack(row["specobjid"])
        assert (fields.plate, fields.fiberid, fields.mjd, fields.run2d) == (
            row["plate"],
            row["fiberid"],
            row["mjd"],
            row["run2d"],
        )
    assert len(table["specobjid"].unique()) == table.num_rows


def test_primary_and_duplicates(sdss):
    everything = pq.read_table(sdss[0]["sdss_dr16.specobjall"])
    primary = pq.read_table(sdss[0]["sdss_dr16.specobj"])
    assert set(primary["scienceprimary"].to_pylist()) == {1}
    dupes = everything.filter(pc.equal(everything["scienceprimary"], 0))
    assert 0.05 * everything.num_rows < dupes.num_rows < 0.3 * everything.num_rows
    assert primary.num_rows + dupes.num_rows == everything.num_rows
    # Every duplicate has exactly one primary spectrum of the same object.
    best_primary = primary["bestobjid"].to_pylist()
    assert len(set(best_primary)) == len(best_primary)
    assert set(dupes["bestobjid"].to_pylist()) <= set(best_primary)
    assert {"GALAXY", "QSO", "STAR"} == set(everything["class"].to_pylist())


def test_most_anchors_have_a_primary_spectrum_at_their_position(sdss):
    primary = pq.read_table(sdss[0]["sdss_dr16.specobj"])
    points = unit(primary["ra"].to_numpy(), primary["dec"].to_numpy())
    z = primary["z"].to_numpy()
    anchors = ecdfs_anchors()
    found = 0
    for ra, dec, zz in zip(anchors.ra, anchors.dec, anchors.redshift, strict=True):
        sep = np.degrees(np.arccos(np.clip(points @ unit(ra, dec), -1, 1))) * 3600
        near = np.flatnonzero(sep < 0.2)
        if near.size:
            found += 1
            assert abs(z[near[0]] - zz) < 0.01 or zz < 0.02
    assert found > 0.6 * anchors.ra.size


def test_ecdfs_plates_are_negative_in_the_signed_view(sdss):
    primary = pq.read_table(sdss[0]["sdss_dr16.specobj"])
    row = primary.filter(pc.equal(primary["plate"], 9701)).slice(0, 1).to_pylist()[0]
    assert sid.to_signed(row["specobjid"]) < 0


def test_synthesized_spectrum_layout_and_determinism(sdss):
    recipes = pq.read_table(sdss[0]["sdss_dr16.spectra"]).slice(0, 20).to_pylist()
    for recipe in recipes:
        spec = synthesize(recipe)
        assert spec.dtype == SPEC_DTYPE
        assert spec.size == recipe["npix"]
        assert np.isclose(spec["loglam"][0], recipe["loglam0"])
        assert np.allclose(np.diff(spec["loglam"].astype(float)), 1e-4, atol=2e-6)
        assert np.array_equal(spec, synthesize(recipe))
        assert np.isfinite(spec["flux"]).all()
    assert not np.array_equal(synthesize(recipes[0])["flux"], synthesize(recipes[1])["flux"])
