"""SIA planner soundness: pushed SIAv2 request + local residual == the original query.

Generated ADQL over ``rsp_sia.obscore`` is negotiated with :class:`SiaPlanner`; the rendered
request goes with httpx to the real SIA stand-in on 127.0.0.1; ``local_query`` runs in a
:class:`LocalEngine` over the returned VOTable rows; the answer must equal a LocalEngine run
of the original query over the full ObsCore Parquet file (as multisets).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import votable
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

import grammar
from gateway.engine.local import LocalEngine
from grammar import nodes as n
from planners.negotiate import negotiate
from planners.sia import RUBIN_DP1_COLUMNS, SiaPlanner
from standins.data import DemoData
from standins.sia import create_sia_app
from tests.live_server import serve_app
from tests.planners.soundness import _key, _rows, cone_forms

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sia_url(demo_data: DemoData) -> Iterator[str]:
    with serve_app(create_sia_app(demo_data.tables())) as base:
        yield base + "/query"


def _fetch(client: httpx.Client, request, schema: pa.Schema) -> pa.Table:
    response = client.request(request.method, request.url, params=list(request.params))
    assert response.status_code == 200, (request, response.text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = votable.parse_single_table(io.BytesIO(response.content)).to_table()
    columns = {}
    for field in schema:
        if field.name not in table.colnames:
            columns[field.name] = pa.nulls(len(table), field.type)
            continue
        col = table[field.name]
        if pa.types.is_list(field.type):
            values = [None if v is np.ma.masked else [float(x) for x in v] for v in col]
            columns[field.name] = pa.array(values, type=field.type)
            continue
        data, mask = np.asarray(col), np.ma.getmaskarray(col)
        if pa.types.is_string(field.type):
            data = data.astype(str)
        columns[field.name] = pa.array(data, mask=mask, type=field.type)
    return pa.table(columns)


_ENGINES: dict[str, LocalEngine] = {}


def _reference(parquet) -> LocalEngine:
    if str(parquet) not in _ENGINES:
        engine = LocalEngine()
        engine.add_file("rsp_sia.obscore", parquet)
        _ENGINES[str(parquet)] = engine
    return _ENGINES[str(parquet)]


NUM = {
    "s_ra": (52.6, 53.8),
    "s_dec": (-28.6, -27.6),
    "t_exptime": (0.0, 1200.0),
    "t_min": (60620.0, 60660.0),
    "t_max": (60620.0, 60660.0),
    "em_min": (2e-7, 1.1e-6),
    "em_max": (2e-7, 1.2e-6),
    "s_fov": (0.25, 0.5),
    "s_resolution": (0.7, 1.7),
    "calib_level": (0, 4),
}
STRINGS = {
    "dataproduct_subtype": ["lsst.deep_coadd", "lsst.visit_image", "lsst.difference_image", "x"],
    "dataproduct_type": ["image", "cube", "spectrum"],
    "obs_collection": ["LSST.DP1", "other"],
    "lsst_band": ["u", "g", "r"],
}


def _data_values(column: str) -> list[float]:
    """Values present in the data, so that boundaries (strict vs inclusive) get hit."""
    from standins.data import ensure_demo_data  # noqa: PLC0415

    table = pq.read_table(ensure_demo_data().tables()["ivoa.ObsCore"], columns=[column])
    return sorted({float(v) for v in table.column(0).to_pylist() if v is not None})[:40]


def _number(column: str) -> st.SearchStrategy[str]:
    lo, hi = NUM[column]
    if column == "calib_level":
        return st.integers(int(lo), int(hi)).map(str)
    floats = st.floats(lo, hi).map(lambda v: repr(round(v, 9 if v < 1e-3 else 3)))
    data = st.sampled_from(_data_values(column)).map(repr)
    return st.one_of(data, data, floats)


@st.composite
def atoms(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["cmp", "cmp", "between", "in", "cone", "distance", "band"]))
    if kind == "cmp":
        col = draw(st.sampled_from(sorted(NUM)))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "="]))
        return f"{col} {op} {draw(_number(col))}"
    if kind == "between":
        col = draw(st.sampled_from(sorted(NUM)))
        a, b = sorted([float(draw(_number(col))), float(draw(_number(col)))])
        return f"{col} BETWEEN {a!r} AND {b!r}"
    if kind == "in":
        col = draw(st.sampled_from(sorted(STRINGS)))
        values = draw(st.lists(st.sampled_from(STRINGS[col]), min_size=1, max_size=3))
        return f"{col} IN ({', '.join(repr(v) for v in values)})"
    ra = round(draw(st.floats(52.7, 53.7)), 3)
    dec = round(draw(st.floats(-28.5, -27.7)), 3)
    radius = round(draw(st.floats(0.02, 0.4)), 3)
    if kind == "cone":
        return f"CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra}, {dec}, {radius})) = 1"
    if kind == "distance":
        return draw(st.sampled_from(cone_forms("s_ra", "s_dec", ra, dec, radius)))
    if kind == "point":
        return f"INTERSECTS(s_region, POINT({ra}, {dec})) = 1"
    lo, hi = sorted([float(draw(_number("em_min"))), float(draw(_number("em_max")))])
    return f"em_min <= {hi!r} AND em_max >= {lo!r}"


@st.composite
def queries(draw: st.DrawFn) -> str:
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(["atom", "or", "not"]))
        if shape == "atom":
            terms.append(f"({draw(atoms())})")
        elif shape == "or":
            terms.append(f"({draw(atoms())} OR {draw(atoms())})")
        else:
            terms.append(f"NOT ({draw(atoms())})")
    top = draw(st.sampled_from(["", "TOP 7 "]))
    order = " ORDER BY obs_id" if top else ""
    return (
        f"SELECT {top}obs_id, calib_level, t_exptime FROM rsp_sia.obscore WHERE "
        + " AND ".join(terms)
        + order
    )


_SELECT = "SELECT obs_id, calib_level, t_exptime FROM rsp_sia.obscore"


@seed(20261121)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=queries())
@example(text=f"{_SELECT} WHERE t_exptime > 930.0")
@example(text=f"{_SELECT} WHERE em_min >= 5.5e-7 OR calib_level = 2")
@example(text=f"{_SELECT} WHERE NOT (t_exptime <= 30) AND s_fov < 0.3")
@example(text=f"{_SELECT} WHERE dataproduct_subtype IN ('lsst.deep_coadd', 'x')")
@example(text=f"{_SELECT} WHERE DISTANCE(POINT(s_ra, s_dec), POINT(53.1, -28.0)) < 0.2")
def test_sia_planner_is_sound(text: str, sia_url: str, demo_data: DemoData) -> None:
    parquet = demo_data.tables()["ivoa.ObsCore"]
    planner = SiaPlanner("rsp_sia", sia_url, RUBIN_DP1_COLUMNS, frozenset({"DPSUBTYPE"}))
    query = grammar.parse(text)
    fragment = negotiate(planner, query)
    schema = pq.read_schema(parquet)
    with httpx.Client(timeout=30) as client:
        parts = [_fetch(client, r, schema) for r in fragment.requests]
    fetched = pa.concat_tables(parts) if parts else schema.empty_table()
    expected = _rows(_reference(parquet), query)
    if fragment.local_query is None:
        local_query = grammar.parse("SELECT obs_id, calib_level, t_exptime FROM fragment.fetched")
        if isinstance(query.body, n.SelectQuery) and query.body.top is not None:
            local_query = query  # pragma: no cover - an exact TOP is pushed as MAXREC
    else:
        local_query = fragment.local_query
    local = LocalEngine()
    local.add_table(".".join(fragment.rows_table), fetched)
    got = _rows(local, local_query)
    assert sorted(got, key=_key) == sorted(expected, key=_key), (
        text,
        [r.params for r in fragment.requests],
        fragment.local_query and grammar.to_adql(fragment.local_query),
    )
