"""Queries users copy, run through the running demo: README's, the seed ObsCore queries, SIA.

The whole demo runs as processes (``adql-gateway demo``); queries go through the federated
gateway with pyvo, and answers are checked against the Parquet files with independent
geometry (``spherical_geometry`` for point in polygon, astropy separations from sampled
great-circle edges for circles).
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy.coordinates import SkyCoord
from spherical_geometry.polygon import SphericalPolygon

from standins.data import ensure_demo_data
from tests.gateway.test_demo import ROOT, DemoRun, _cleanup, _free_port, _launch

CENTRE = (53.2, -28.1)
SEED_OBSCORE = (
    "SELECT obs_id FROM ivoa.ObsCore "
    "WHERE CONTAINS(POINT('ICRS', 53.2, -28.1), s_region) = 1 "
    "AND dataproduct_subtype = 'lsst.deep_coadd' AND lsst_band = 'r'"
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def service() -> Iterator[pyvo.dal.TAPService]:
    runs: list[DemoRun] = []
    try:
        run = _launch(runs, "--port", str(_free_port()))
        yield pyvo.dal.TAPService(str(run.state["tap_url"]))
    finally:
        for run in runs:
            _cleanup(run)


def _footprints() -> list[dict[str, object]]:
    path = ensure_demo_data().tables()["ivoa.ObsCore"]
    columns = ["obs_id", "s_region", "dataproduct_subtype", "lsst_band", "calib_level"]
    return list(pq.read_table(path, columns=columns).to_pylist())


def _oracle(region: list[float]) -> SphericalPolygon:
    ra, dec = np.array(region[0::2]), np.array(region[1::2])
    # The footprints are convex quadrilaterals: the mean vertex is inside.
    return SphericalPolygon.from_radec(ra, dec, center=(float(ra.mean()), float(dec.mean())))


def _meets_circle(region: list[float], ra: float, dec: float, radius: float) -> bool:
    v = np.stack(
        [
            np.cos(np.radians(region[1::2])) * np.cos(np.radians(region[0::2])),
            np.cos(np.radians(region[1::2])) * np.sin(np.radians(region[0::2])),
            np.sin(np.radians(region[1::2])),
        ],
        axis=-1,
    )
    t = np.linspace(0.0, 1.0, 3000)[:, None]
    edge = np.concatenate([a * (1 - t) + b * t for a, b in zip(v, np.roll(v, -1, 0), strict=True)])
    samples = SkyCoord(
        np.degrees(np.arctan2(edge[:, 1], edge[:, 0])),
        np.degrees(np.arctan2(edge[:, 2], np.hypot(edge[:, 0], edge[:, 1]))),
        unit="deg",
    )
    nearest = float(SkyCoord(ra, dec, unit="deg").separation(samples).deg.min())
    return bool(_oracle(region).contains_radec(ra, dec)) or nearest <= radius


def test_seed_obscore_point_query_returns_one_patch(service: pyvo.dal.TAPService) -> None:
    got = [str(x) for x in service.run_sync(SEED_OBSCORE).to_table()["obs_id"]]
    want = [
        str(row["obs_id"])
        for row in _footprints()
        if row["dataproduct_subtype"] == "lsst.deep_coadd"
        and row["lsst_band"] == "r"
        and _oracle(row["s_region"]).contains_radec(*CENTRE)  # type: ignore[arg-type]
    ]
    assert got == want == ["5063_45_r"]
    # Fewer conjuncts find the same footprint: the answer does not depend on the rest.
    fewer = service.run_sync(
        "SELECT obs_id FROM ivoa.ObsCore WHERE CONTAINS(POINT('ICRS', 53.2, -28.1), s_region) = 1"
    ).to_table()
    assert {str(x) for x in fewer["obs_id"]} >= {f"5063_45_{b}" for b in "ugrizy"}


def test_sia_to_adql_circle_runs_on_obscore(service: pyvo.dal.TAPService) -> None:
    radius = 0.2
    adql = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "to-adql", "--from", "sia",
         f"POS=CIRCLE {CENTRE[0]} {CENTRE[1]} {radius}"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert "INTERSECTS(s_region, CIRCLE(" in adql
    got = {str(x) for x in service.run_sync(adql, maxrec=10_000).to_table()["obs_id"]}
    want = {
        str(row["obs_id"])
        for row in _footprints()
        if _meets_circle(row["s_region"], *CENTRE, radius)  # type: ignore[arg-type]
    }
    assert got == want
    assert 40 < len(want) < len(_footprints())
    # The SIA stand-in over the same images answers the same query the same way.
    sia = service.run_sync(
        adql.replace("ivoa.obscore", "rsp_sia.obscore"), maxrec=10_000
    ).to_table()
    assert {str(x) for x in sia["obs_id"]} == want


def test_polygon_queries_on_obscore(service: pyvo.dal.TAPService) -> None:
    box = [53.16, -28.2, 53.28, -28.2, 53.28, -28.08, 53.16, -28.08]
    literal = "POLYGON('ICRS', " + ", ".join(map(str, box)) + ")"
    got = service.run_sync(
        f"SELECT obs_id FROM ivoa.ObsCore WHERE INTERSECTS(s_region, {literal}) = 1 "
        "AND calib_level = 3",
        maxrec=10_000,
    ).to_table()
    query = _oracle(box)
    want = {
        str(row["obs_id"])
        for row in _footprints()
        if row["calib_level"] == 3 and _oracle(row["s_region"]).intersects_poly(query)  # type: ignore[arg-type]
    }
    assert want
    assert {str(x) for x in got["obs_id"]} == want
    inside = service.run_sync(
        f"SELECT obs_id FROM ivoa.ObsCore WHERE CONTAINS({literal}, s_region) = 1 "
        "AND dataproduct_subtype = 'lsst.deep_coadd' AND lsst_band = 'g'"
    ).to_table()
    covering = [
        str(row["obs_id"])
        for row in _footprints()
        if row["dataproduct_subtype"] == "lsst.deep_coadd"
        and row["lsst_band"] == "g"
        and all(
            _oracle(row["s_region"]).contains_radec(ra, dec)  # type: ignore[arg-type]
            for ra, dec in zip(box[0::2], box[1::2], strict=True)
        )
    ]
    assert [str(x) for x in inside["obs_id"]] == covering == ["5063_45_g"]


def _readme_queries() -> list[str]:
    """ADQL in README.md: pyvo ``run_sync`` calls, and what its CLI examples translate."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    queries: list[str] = [
        ast.literal_eval(node.args[0])
        for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
        for node in ast.walk(ast.parse(block))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run_sync"
    ]
    for line in re.findall(r"^adql-gateway (?:translate|to-adql) .*$", text, re.MULTILINE):
        words = shlex.split(line.split("#")[0])
        if "--dialect" in words:
            continue  # a translation to another SQL dialect, over a made-up table
        if words[1] == "translate":
            queries.append(words[-1])
            continue
        cli = [sys.executable, "-m", "gateway.cli", *words[1:]]
        done = subprocess.run(cli, capture_output=True, text=True, check=True, cwd=ROOT)
        queries.append(done.stdout.strip())
    return queries


def test_every_readme_query_returns_rows(service: pyvo.dal.TAPService) -> None:
    queries = _readme_queries()
    assert len(queries) >= 5
    for adql in queries:
        assert len(service.run_sync(adql, maxrec=100)) > 0, adql


def test_unmatched_left_join_rows_have_null_distance(service: pyvo.dal.TAPService) -> None:
    cone = 0.02
    table = service.run_sync(
        "SELECT h.MatchID, s.specobjid, "
        "DISTANCE(POINT(h.MatchRA, h.MatchDec), POINT(s.ra, s.dec)) * 3600 AS sep "
        "FROM hscv3.summary AS h LEFT JOIN sdss_dr16.specobj AS s "
        "ON CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(s.ra, s.dec, 1.0 / 3600)) = 1 "
        f"WHERE CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(53.2, -28.1, {cone})) = 1",
        maxrec=100_000,
    ).to_table()
    tables = ensure_demo_data().tables()
    hsc = pq.read_table(tables["hscv3.summary"], columns=["MatchID", "MatchRA", "MatchDec"])
    spec = pq.read_table(tables["sdss_dr16.specobj"], columns=["ra", "dec"])
    sources = SkyCoord(hsc["MatchRA"].to_numpy(), hsc["MatchDec"].to_numpy(), unit="deg")
    in_cone = sources.separation(SkyCoord(*CENTRE, unit="deg")).deg <= cone
    spectra = SkyCoord(spec["ra"].to_numpy(), spec["dec"].to_numpy(), unit="deg")
    pairs = sources[in_cone][:, None].separation(spectra[None, :]).arcsec
    matched = int((pairs.min(axis=1) <= 1.0).sum())
    assert matched > 0
    assert len(table) == int(in_cone.sum())  # every source once (no spectrum has two here)
    sep = np.ma.getmaskarray(table["sep"])
    assert int((~sep).sum()) == matched
    assert all(str(x) for x in table["specobjid"][~sep])
    assert float(np.ma.max(table["sep"])) <= 1.0  # never the 648000 of a NULL position
