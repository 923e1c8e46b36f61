"""The Simple Spectral Access planner: POS/SIZE, BAND, TIME and MAXREC from ADQL.

Everything pushed is a superset of what the query asks (the conjuncts stay residual), so the
checks are on the request: BAND holds the asked bounds, TIME the ISO dates of the MJD bounds
(astropy's conversion is the oracle), SIZE the cone's diameter.
"""

from __future__ import annotations

import pytest
from astropy.time import Time

from grammar import parse
from planners.negotiate import negotiate
from planners.sql_catalog import ColumnInfo
from planners.ssap import SsapPlanner

PLANNER = SsapPlanner(
    backend="spec",
    url="http://127.0.0.1:1/ssap.xml",
    table="ssa",
    catalog_columns=(
        ColumnInfo("ssa_pubDID", "char"),
        ColumnInfo("ra", "float", ucd="pos.eq.ra;meta.main"),
        ColumnInfo("dec", "float", ucd="pos.eq.dec;meta.main"),
        ColumnInfo("lo", "float"),
        ColumnInfo("hi", "float"),
        ColumnInfo("mjd", "double"),
    ),
    ra_column="ra",
    dec_column="dec",
    band_columns=("lo", "hi"),
    time_column="mjd",
)


def _params(adql: str) -> dict[str, str]:
    fragment = negotiate(PLANNER, parse(adql))
    [request] = fragment.requests
    return dict(request.params)


def test_cone_becomes_pos_and_diameter() -> None:
    params = _params(
        "SELECT * FROM spec.ssa WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(10.5, -20, 0.25))"
    )
    assert params["REQUEST"] == "queryData"
    assert params["POS"] == "10.5,-20.0"
    assert 0.5 <= float(params["SIZE"]) < 0.5001


@pytest.mark.parametrize(
    ("where", "low", "high"),
    [
        ("hi >= 5e-7 AND lo <= 6e-7", 5e-7, 6e-7),
        ("hi > 5e-7", 5e-7, None),
        ("6e-7 > lo AND lo < 7e-7", None, 6e-7),
    ],
)
def test_band_bounds(where: str, low: float | None, high: float | None) -> None:
    text = _params(f"SELECT * FROM spec.ssa WHERE {where}")["BAND"]
    got_low, got_high = text.split("/")
    if low is None:
        assert got_low == ""
    else:
        assert low * 0.99999 <= float(got_low) <= low
    if high is None:
        assert got_high == ""
    else:
        assert high <= float(got_high) <= high * 1.00001


def test_time_bounds_are_iso_dates_around_the_mjds() -> None:
    text = _params("SELECT * FROM spec.ssa WHERE mjd >= 56000.5 AND mjd < 57000.25")["TIME"]
    start, end = (Time(t, format="isot", scale="utc").mjd for t in text.split("/"))
    assert 56000.5 - 2 / 86400 <= start <= 56000.5
    assert 57000.25 <= end <= 57000.25 + 2 / 86400


def test_top_is_maxrec_only_without_conditions() -> None:
    assert _params("SELECT TOP 3 * FROM spec.ssa")["MAXREC"] == "3"
    assert _params("SELECT TOP 3 * FROM spec.ssa WHERE lo < 1")["MAXREC"] != "3"
