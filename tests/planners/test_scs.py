"""The Simple Cone Search planner: which cones become RA/DEC/SR, and that nothing is lost.

The pushed cone must hold the query's cone (checked with astropy separations on points of
the cone's rim), and every conjunct stays residual, since SCS can only narrow by position.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from grammar import nodes as n
from grammar import parse
from grammar.errors import AdqlSemanticError
from planners.negotiate import negotiate
from planners.scs import ScsPlanner
from planners.sql_catalog import ColumnInfo
from tests.planners.soundness import cone_forms

PLANNER = ScsPlanner(
    backend="cat",
    url="http://127.0.0.1:1/scs.xml",
    table="cone",
    catalog_columns=(
        ColumnInfo("id", "char", ucd="meta.id;meta.main"),
        ColumnInfo("ra", "double", ucd="pos.eq.ra;meta.main"),
        ColumnInfo("dec", "double", ucd="pos.eq.dec;meta.main"),
        ColumnInfo("ra2", "double"),
        ColumnInfo("mag", "float"),
    ),
    ra_column="ra",
    dec_column="dec",
)


def _params(where: str) -> tuple[dict[str, str], n.Query | None]:
    fragment = negotiate(PLANNER, parse(f"SELECT * FROM cat.cone WHERE {where}"))
    [request] = fragment.requests
    return dict(request.params), fragment.local_query


@pytest.mark.parametrize("where", cone_forms("ra", "dec", 359.95, -30.0, 0.25))
def test_every_cone_form_is_pushed_as_a_cone_holding_it(where: str) -> None:
    params, local = _params(f"{where} AND mag < 20")
    assert params["VERB"] == "3"
    ra, dec, sr = float(params["RA"]), float(params["DEC"]), float(params["SR"])
    centre = SkyCoord(359.95 * u.deg, -30.0 * u.deg)
    pushed = SkyCoord(ra * u.deg, dec * u.deg)
    if "BOX" in where:  # the enclosing cone of a 0.25 x 0.5 deg box: its half diagonal
        assert np.hypot(0.125, 0.25) * 0.999 <= sr < np.hypot(0.125, 0.25) * 1.01
    else:  # points of the query's rim, astropy's own spherical offsets
        rim = centre.directional_offset_by(np.linspace(0, 360, 73) * u.deg, 0.25 * u.deg)
        assert pushed.separation(rim).deg.max() <= sr
        assert sr < 0.2501
    # nothing is guaranteed by the service: the whole WHERE stays with the gateway
    assert local is not None


def test_no_cone_asks_for_the_whole_sky() -> None:
    params, _ = _params("mag < 20")
    assert (params["RA"], params["DEC"], params["SR"]) == ("0.0", "90.0", "180.0")


def test_a_cone_on_other_columns_is_not_pushed() -> None:
    params, _ = _params("CONTAINS(POINT(ra2, dec), CIRCLE(10, 20, 0.1)) = 1")
    assert params["SR"] == "180.0"


def test_an_unknown_table_names_the_only_one() -> None:
    with pytest.raises(AdqlSemanticError, match=r"has only 'cat\.cone'"):
        negotiate(PLANNER, parse("SELECT * FROM cat.cones"))
