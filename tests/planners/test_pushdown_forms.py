"""Every cone form reaches the REST backends: DISTANCE, BOX and radii written as expressions.

Each query runs against the real HSC and spectral stand-ins over the demo data: the backend
request must carry a cone (``ra/dec/radius``, RA/Dec ranges or a q3c clause) rather than ask
for the whole table, the answer through the planner must equal a numpy oracle computed from
the Parquet file (haversine distances, gnomonic box test), and the soundness invariant of
:func:`tests.planners.soundness.check` must hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.engine.local import LocalEngine
from grammar import parse
from planners.base import Planner
from planners.hsc import HscPlanner
from planners.negotiate import Fragment, negotiate
from planners.spectral import ALL_ROWS, SpectralPlanner
from standins.data import DemoData
from tests.planners.soundness import check, fetch

pytestmark = pytest.mark.integration

Floats = npt.NDArray[np.float64]
RA0, DEC0 = 53.2, -28.1


def _distance(ra: Floats, dec: Floats) -> Floats:
    r1, d1, r0, d0 = np.radians(ra), np.radians(dec), np.radians(RA0), np.radians(DEC0)
    a = np.sin((d1 - d0) / 2) ** 2 + np.cos(d1) * np.cos(d0) * np.sin((r1 - r0) / 2) ** 2
    out: Floats = np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1))))
    return out


def _in_box(ra: Floats, dec: Floats, width: float, height: float) -> npt.NDArray[np.bool_]:
    """ADQL BOX: the gnomonic rectangle about the centre (tangent-plane coordinates)."""
    r, d, r0, d0 = np.radians(ra), np.radians(dec), np.radians(RA0), np.radians(DEC0)
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
    x = np.cos(d) * np.sin(r - r0) / cos_c
    y = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(r - r0)) / cos_c
    half_w, half_h = np.tan(np.radians(width) / 2), np.tan(np.radians(height) / 2)
    inside: npt.NDArray[np.bool_] = (cos_c > 0) & (np.abs(x) <= half_w) & (np.abs(y) <= half_h)
    return inside


def _through_planner(
    planner: Planner[Any], text: str, parquet: Path, client: httpx.Client, key: str
) -> tuple[Fragment, set[int]]:
    fragment = negotiate(planner, parse(text))
    schema = pq.read_schema(parquet)
    fetched = pa.concat_tables([fetch(client, r, schema) for r in fragment.requests])
    if fragment.local_query is None:
        return fragment, set(fetched.column(key).to_pylist())
    engine = LocalEngine()
    engine.add_table(".".join(fragment.rows_table), fetched)
    batches = list(engine.execute(fragment.local_query).batches)
    return fragment, {v for b in batches for v in b.column(0).to_pylist()}


def _check_pushed(fragment: Fragment, *, exact: bool) -> None:
    """An exact cone is pushed and gone; a superset is named, its exact test kept residual."""
    (entry,) = [p for p in fragment.pushed if p.startswith("filter")]
    if exact:
        assert entry.startswith("filter: "), fragment.pushed
        assert fragment.residual is None
    else:
        assert entry.startswith("filter (superset, the exact test stays local): ")
        assert fragment.residual is not None


Shape = tuple[str, float, float]
"""``("<", r, 0)``, ``("<=", r, 0)`` (distance from the centre) or ``("box", width, height)``."""


def _oracle(path: Path, columns: tuple[str, str, str], shape: Shape) -> set[int]:
    """Ids of the rows inside ``shape`` about (RA0, DEC0), from the Parquet file with numpy."""
    table = pq.read_table(path, columns=list(columns))
    ra, dec = table.column(columns[1]).to_numpy(), table.column(columns[2]).to_numpy()
    op, a, b = shape
    if op == "box":
        mask = _in_box(ra, dec, a, b)
    else:
        mask = _distance(ra, dec) < a if op == "<" else _distance(ra, dec) <= a
    return {int(v) for v in table.column(columns[0]).to_numpy()[mask]}


def _check_case(
    planner: Planner[Any], table: str, columns: tuple[str, str, str], where: str, shape: Shape,
    path: Path,
) -> Fragment:  # fmt: skip
    """Soundness, the numpy oracle, and how the cone was pushed; the fragment for more checks."""
    text = f"SELECT {columns[0]} FROM {table} WHERE {where}"
    with httpx.Client(timeout=120) as client:
        fragment, got = _through_planner(planner, text, path, client, columns[0])
        check(planner, parse(text), table, path, client)
    _check_pushed(fragment, exact=shape[0] == "<=")
    expected = _oracle(path, columns, shape)
    assert expected, "the oracle selects rows: the test can fail"
    assert {int(v) for v in got} == expected
    return fragment


HSC_CASES: list[tuple[str, Shape]] = [
    ("CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(53.2, -28.1, 30.0/3600)) = 1", ("<=", 30 / 3600, 0)),
    ("DISTANCE(POINT(MatchRA, MatchDec), POINT(53.2, -28.1)) < 1.0/120", ("<", 1 / 120, 0)),
    ("DISTANCE(POINT(53.2, -28.1), POINT(MatchRA, MatchDec)) <= 0.01", ("<=", 0.01, 0)),
    ("2*0.005 > DISTANCE(POINT(MatchRA, MatchDec), POINT(53.2, -28.1))", ("<", 0.01, 0)),
    ("DISTANCE(MatchRA, MatchDec, 53.2, -28.1) <= CAST(1 AS DOUBLE PRECISION)/100", ("<=", 0.01, 0)),
    ("CONTAINS(POINT(MatchRA, MatchDec), BOX(53.2, -28.1, 0.02, 1.0/60)) = 1", ("box", 0.02, 1 / 60)),
]  # fmt: skip


@pytest.mark.parametrize(("where", "shape"), HSC_CASES)
def test_hsc_cone_forms(where: str, shape: Shape, hsc_url: str, demo_data: DemoData) -> None:
    path = demo_data.tables()["hscv3.summary"]
    columns = ("MatchID", "MatchRA", "MatchDec")
    planner = HscPlanner(base_url=hsc_url)
    fragment = _check_case(planner, "hscv3.summary", columns, where, shape, path)
    params = dict(fragment.requests[0].params)
    assert {"ra", "dec", "radius"} <= params.keys(), params  # a cone, not the whole table


SPECTRAL_CASES: list[tuple[str, Shape]] = [
    ("DISTANCE(POINT(ra, dec), POINT(53.2, -28.1)) < 1.0/30", ("<", 1 / 30, 0)),
    ("0.05 >= DISTANCE(POINT(53.2, -28.1), POINT(ra, dec))", ("<=", 0.05, 0)),
    ("CONTAINS(POINT(ra, dec), CIRCLE(53.2, -28.1, 180.0/3600)) = 1", ("<=", 0.05, 0)),
    ("CONTAINS(POINT(ra, dec), BOX(53.2, -28.1, 0.1, 2*0.03)) = 1", ("box", 0.1, 0.06)),
]


@pytest.mark.parametrize(("where", "shape"), SPECTRAL_CASES)
def test_spectral_cone_forms(
    where: str, shape: Shape, spectral_url: str, demo_data: DemoData
) -> None:
    path = demo_data.tables()["sdss_dr16.specobj"]
    planner = SpectralPlanner(base_url=spectral_url)
    columns = ("specobjid", "ra", "dec")
    fragment = _check_case(planner, "sdss_dr16.specobj", columns, where, shape, path)
    cond = dict(fragment.requests[0].params)["cond"]
    assert cond.startswith(("q3c_radial_query(", "q3c_poly_query(")), cond


def test_spectral_nothing_pushable_sends_a_valid_cond(
    spectral_url: str, demo_data: DemoData
) -> None:
    """No empty ``cond`` (the real service would run ``... WHERE ``): every row, then filtered."""
    path = demo_data.tables()["sdss_dr16.specobj"]
    text = "SELECT specobjid FROM sdss_dr16.specobj WHERE z / 2 > 0.4"
    planner = SpectralPlanner(base_url=spectral_url)
    with httpx.Client(timeout=60) as client:
        fragment, got = _through_planner(planner, text, path, client, "specobjid")
        empty = httpx.get(
            f"{spectral_url}/query",
            params=[(k, "" if k == "cond" else v) for k, v in fragment.requests[0].params],
        )
    assert dict(fragment.requests[0].params)["cond"] == ALL_ROWS
    assert empty.status_code == 400  # the stand-in fails on an empty cond as the service does
    table = pq.read_table(path, columns=["specobjid", "z"])
    z = table.column("z").to_numpy(zero_copy_only=False)
    expected = {int(v) for v in table.column("specobjid").to_numpy()[z / 2 > 0.4]}
    assert expected
    assert {int(v) for v in got} == expected
