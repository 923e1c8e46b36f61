"""Soundness of the HSC planner against the real HSC stand-in over 127.0.0.1.

The table is synthetic (built here from the stand-in's own schema) so that it has what the
demo sky lacks: sources across RA 0/360, around the north pole, NULL magnitudes, and values
on a 0.1 grid so that strict and inclusive bounds select different rows. The planner's page
size is small, so the executor's page-following is exercised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from grammar import parse
from planners.hsc import HscPlanner
from standins.data import DemoData
from standins.hsc import BASE_PATH, create_hsc_app
from standins.hsc_schema import TABLES
from tests.live_server import serve_app
from tests.planners.soundness import check, cone_forms

pytestmark = pytest.mark.integration

CENTRES = ((0.2, 10.0), (359.7, 10.2), (120.0, 89.6), (53.2, -28.1))
TARGETS = ("SMC-FIELD", "ECDFS", "POLE_A", "Wrap%Field")


def _synthetic(path: Path, rows: int = 6000) -> None:
    rng = np.random.default_rng(7)
    table = TABLES["hscv3.summary"]
    centre = rng.integers(0, len(CENTRES), rows)
    ra0 = np.array([CENTRES[i][0] for i in centre])
    dec0 = np.array([CENTRES[i][1] for i in centre])
    dec = np.clip(dec0 + rng.uniform(-1.6, 1.6, rows), -90, 89.999)
    ra = (ra0 + rng.uniform(-2.0, 2.0, rows) / np.maximum(np.cos(np.radians(dec)), 0.05)) % 360
    data: dict[str, pa.Array] = {}
    for col in table.columns:
        kind = col.arrow_type
        if col.name == "MatchID":
            data[col.name] = pa.array(np.arange(1, rows + 1) * 11, kind)
        elif col.name == "MatchRA":
            data[col.name] = pa.array(ra, kind)
        elif col.name == "MatchDec":
            data[col.name] = pa.array(dec, kind)
        elif col.xtype == "timestamp":
            days = rng.integers(0, 6000, rows).astype("timedelta64[D]")
            data[col.name] = pa.array(np.datetime64("2004-01-01") + days).cast(kind)
        elif col.datatype == "char":
            words = TARGETS if col.name == "TargetName" else ("Y", "N")
            data[col.name] = pa.array([words[i] for i in rng.integers(0, len(words), rows)])
        elif col.datatype in {"int", "long", "short"}:
            data[col.name] = pa.array(rng.integers(0, 8, rows), kind)
        else:
            values = np.round(rng.uniform(0, 3 if col.datatype == "double" else 25, rows), 1)
            mask = rng.uniform(0, 1, rows) < 0.15
            data[col.name] = pa.array(values, kind, mask=mask)
    pq.write_table(pa.table(data, schema=table.schema()), path)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hsc") / "summary.parquet"
    _synthetic(path)
    return path


@pytest.fixture(scope="module")
def server(summary: Path) -> Iterator[str]:
    with serve_app(create_hsc_app({"hscv3.summary": summary})) as base:
        yield base + BASE_PATH


def _case(name: str, draw: st.DrawFn) -> str:
    return draw(st.sampled_from([name, name.lower(), name.upper()]))


@st.composite
def atoms(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "<>"]))
    if kind == 0:
        i = draw(st.integers(0, 8))
        col = _case("NumImages", draw)
        return draw(st.sampled_from([f"{col} {op} {i}", f"{i} {op} {col}"]))
    if kind == 1:
        v = draw(st.integers(0, 30)) / 10
        col = _case(draw(st.sampled_from(["CI", "KronRadius", "MatchDec"])), draw)
        return draw(st.sampled_from([f"{col} {op} {v}", f"{v} {op} {col}"]))
    if kind == 2:  # 32-bit float magnitudes with NULLs
        v = draw(st.integers(0, 250)) / 10
        return f"{_case('A_F475W', draw)} {op} {v}"
    if kind == 3:
        lo, hi = sorted(draw(st.lists(st.integers(0, 30), min_size=2, max_size=2)))
        return f"CI BETWEEN {lo / 10} AND {hi / 10}"
    if kind == 4:
        values = draw(st.lists(st.integers(0, 8), min_size=1, max_size=3))
        return f"NumFilters IN ({', '.join(map(str, values))})"
    if kind == 5:
        pattern = draw(st.sampled_from(["SMC%", "E_DFS", "%A", "Wrap%"]))
        return f"TargetName LIKE '{pattern}'"
    if kind == 6:
        return draw(st.sampled_from(["A_F555W IS NULL", "CI IS NOT NULL", "AbsCorr = 'Y'"]))
    if kind == 7:
        return draw(st.sampled_from(["(CI > 1 OR NumVisits = 2)", "NOT NumImages = 3"]))
    if kind == 8:
        return "StartTime " + op + " '2010-06-01'"
    ra, dec = draw(st.sampled_from(CENTRES))
    r = draw(st.sampled_from([0.05, 0.3, 0.5, 0.8, 1.5]))
    ra = ra + draw(st.sampled_from([0.0, 0.25, -0.25]))
    circle = draw(
        st.sampled_from([f"CIRCLE('ICRS', {ra}, {dec}, {r})", f"CIRCLE(POINT({ra}, {dec}), {r})"])
    )
    contains = f"CONTAINS(POINT(MatchRA, MatchDec), {circle})"
    forms = [f"{contains} = 1", f"1 = {contains}"]
    return draw(st.sampled_from([*forms, *cone_forms("MatchRA", "MatchDec", ra, dec, r)]))


@st.composite
def queries(draw: st.DrawFn) -> str:
    where = " AND ".join(draw(st.lists(atoms(), min_size=1, max_size=4)))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"SELECT * FROM hscv3.summary WHERE {where}"
    if shape == 1:
        return f"SELECT COUNT(*) AS n, AVG(CI) AS ci FROM hscv3.summary WHERE {where}"
    top = draw(st.sampled_from(["", "TOP 7 ", "TOP 600 "]))
    order = draw(st.sampled_from(["MatchID", "MatchID DESC", "CI, MatchID", "ci DESC, matchid"]))
    cols = draw(st.sampled_from(["MatchID, MatchRA", "matchid, ci, A_F475W", "MatchID"]))
    return f"SELECT {top}{cols} FROM hscv3.summary WHERE {where} ORDER BY {order}"


@seed(20240601)
@settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=queries())
def test_hsc_planner_is_sound(text: str, server: str, summary: Path) -> None:
    planner = HscPlanner(base_url=server, pagesize=500)
    with httpx.Client(timeout=30) as client:
        check(planner, parse(text), "hscv3.summary", summary, client)


@pytest.mark.parametrize(
    "text",
    [
        # RA wrap with a large circle: two disjoint requests
        (
            "SELECT MatchID FROM hscv3.summary"
            " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(359.9, 10.1, 1.2)) = 1"
        ),
        # small cone across RA 0 (the service itself wraps)
        (
            "SELECT MatchID FROM hscv3.summary"
            " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(0.05, 10.1, 0.4)) = 1"
        ),
        # cap containing the pole
        (
            "SELECT MatchID FROM hscv3.summary"
            " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(300, 89.5, 0.9)) = 1"
        ),
        # small cone at the pole
        (
            "SELECT MatchID FROM hscv3.summary"
            " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(10, 89.9, 0.3)) = 1"
        ),
        # strict vs inclusive on grid values, repeated keys
        "SELECT MatchID FROM hscv3.summary WHERE CI >= 1.5 AND CI > 1.5 AND CI <= 2.0",
        "SELECT TOP 600 MatchID, CI FROM hscv3.summary WHERE NumImages IN (1, 2) ORDER BY MatchID",
        # TOP pushed without residual: a single page, no page following
        "SELECT TOP 20 MatchID FROM hscv3.summary WHERE KronRadius < 1 ORDER BY MatchID DESC",
    ],
)
def test_hsc_edge_cases(text: str, server: str, summary: Path) -> None:
    planner = HscPlanner(base_url=server, pagesize=500)
    with httpx.Client(timeout=30) as client:
        fragment = check(planner, parse(text), "hscv3.summary", summary, client)
    assert fragment.requests


def test_hsc_demo_data_ecdfs(demo_data: DemoData, hsc_url: str) -> None:
    """The demo catalogue itself: a cone in the ECDFS field with filters and TOP."""
    path = demo_data.tables()["hscv3.summary"]
    text = (
        "SELECT TOP 50 MatchID, MatchRA, MatchDec, NumImages FROM hscv3.summary"
        " WHERE CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(53.2, -28.1, 0.1)) = 1"
        " AND NumImages >= 2 ORDER BY MatchID"
    )
    planner = HscPlanner(base_url=hsc_url)
    with httpx.Client(timeout=60) as client:
        fragment = check(planner, parse(text), "hscv3.summary", path, client)
    assert fragment.local_query is None
