"""Soundness of the spectral planner against the real legacy spectral stand-in.

The demo ``sdss_dr16.specobj`` spans the whole RA range (sources on both sides of RA 0),
has NULL velocity dispersions and a dense ECDFS field, so cones, polygons, NULLs and RA
wrap-around are all exercised on the shipped data.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from grammar import parse
from planners.spectral import SpectralPlanner
from standins.data import DemoData
from tests.planners.soundness import check, cone_forms

pytestmark = pytest.mark.integration

CENTRES = ((53.2, -28.1), (30.0, 0.5), (0.1, 0.2), (359.9, 10.0))


@st.composite
def atoms(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 8))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "<>"]))
    if kind == 0:
        v = draw(st.sampled_from([0.1, 0.5, 1.0, 2.2]))
        return draw(st.sampled_from([f"z {op} {v}", f"{v} {op} Z"]))
    if kind == 1:
        return draw(
            st.sampled_from(
                ["class = 'GALAXY'", "CLASS IN ('QSO', 'STAR')", "survey <> 'boss'", "zwarning = 0"]
            )
        )
    if kind == 2:
        return draw(st.sampled_from(["veldisp IS NULL", "veldisp > 150", "sn_median_all >= 5"]))
    if kind == 3:
        return draw(
            st.sampled_from(["(z > 1 OR class = 'STAR')", "NOT (plate BETWEEN 300 AND 4000)"])
        )
    if kind == 4:
        return draw(st.sampled_from(["subclass LIKE 'K%'", "run2d ILIKE 'V5%'", "z * 2 - 0.1 < 1"]))
    if kind == 5:
        return draw(st.sampled_from(["z / 2 > 0.2", "fiberid BETWEEN 1 AND 300", "mjd >= 55000"]))
    if kind == 6:
        return "CONTAINS(POINT(ra, dec), POLYGON(53.0, -28.4, 53.5, -28.4, 53.5, -27.8, 53.0, -27.8)) = 1"
    ra, dec = draw(st.sampled_from(CENTRES))
    r = draw(st.sampled_from([0.05, 0.3, 1.0, 5.0]))
    return draw(st.sampled_from(cone_forms("ra", "dec", ra, dec, r)))


@st.composite
def queries(draw: st.DrawFn) -> str:
    where = " AND ".join(draw(st.lists(atoms(), min_size=1, max_size=3)))
    table = draw(st.sampled_from(["sdss_dr16.specobj", "sdss_dr16.specobjall"]))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return f"SELECT * FROM {table} WHERE {where}"
    if shape == 1:
        return f"SELECT class, COUNT(*) AS n FROM {table} WHERE {where} GROUP BY class"
    top = draw(st.sampled_from(["", "TOP 5 ", "TOP 100 "]))
    order = draw(
        st.sampled_from(["specobjid", "z, specobjid", "z DESC, specobjid", "specobjid DESC"])
    )
    cols = draw(st.sampled_from(["specobjid, z", "z, class, veldisp", "plate, specobjid"]))
    return f"SELECT {top}{cols} FROM {table} WHERE {where} ORDER BY {order}"


def _file(demo_data: DemoData, text: str) -> tuple[str, Path]:
    name = "sdss_dr16.specobjall" if "specobjall" in text else "sdss_dr16.specobj"
    return name, demo_data.tables()[name]


@seed(20240602)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=queries())
def test_spectral_planner_is_sound(text: str, spectral_url: str, demo_data: DemoData) -> None:
    name, path = _file(demo_data, text)
    with httpx.Client(timeout=30) as client:
        check(SpectralPlanner(base_url=spectral_url), parse(text), name, path, client)


@pytest.mark.parametrize(
    "text",
    [
        (
            "SELECT specobjid, ra FROM sdss_dr16.specobj"
            " WHERE CONTAINS(POINT(ra, dec), CIRCLE(359.95, 0.1, 3)) = 1"
        ),
        "SELECT TOP 3 specobjid, z FROM sdss_dr16.specobj WHERE z > 0.5 ORDER BY z DESC, specobjid",
        "SELECT specobjid, veldisp FROM sdss_dr16.specobj WHERE veldisp IS NULL AND z < 0.3",
        "SELECT specobjid FROM sdss_dr16.specobj WHERE z >= 0.5 AND z > 0.5 AND z <= 0.7",
        # an OR conjunct must keep its parentheses inside cond
        "SELECT specobjid FROM sdss_dr16.specobj WHERE z > 0.5 AND (z < 0.1 OR class = 'STAR')",
    ],
)
def test_spectral_edge_cases(text: str, spectral_url: str, demo_data: DemoData) -> None:
    name, path = _file(demo_data, text)
    with httpx.Client(timeout=30) as client:
        check(SpectralPlanner(base_url=spectral_url), parse(text), name, path, client)


def test_spectral_id_lookup(spectral_url: str, demo_data: DemoData) -> None:
    """An id taken from the data comes back through ``id=``; its signed twin matches nothing."""
    path = demo_data.tables()["sdss_dr16.specobj"]
    ids = pq.read_table(path, columns=["specobjid"]).column(0).to_pylist()
    big = max(ids)
    signed = big - (1 << 64)
    planner = SpectralPlanner(base_url=spectral_url)
    text = f"SELECT specobjid, z FROM sdss_dr16.specobj WHERE specobjid = {big} AND z > -1"
    with httpx.Client(timeout=30) as client:
        fragment = check(planner, parse(text), "sdss_dr16.specobj", path, client)
        assert ("id", str(big)) in fragment.requests[0].params
        text = f"SELECT specobjid FROM sdss_dr16.specobj WHERE specobjid = {signed}"
        fragment = check(planner, parse(text), "sdss_dr16.specobj", path, client)
        assert ("id", "") in fragment.requests[0].params
