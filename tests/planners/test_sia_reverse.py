"""SIAv2 parameters -> ADQL (sia-obscore.md §4), and back through the forward planner."""

from __future__ import annotations

import pytest

import grammar
from grammar.errors import ParamError
from planners.negotiate import negotiate
from planners.sia import SiaPlanner, sia_params_to_query


def adql(params, **kw) -> str:
    return grammar.to_adql(sia_params_to_query(params, **kw))


def test_worked_example_of_the_spec():
    got = adql(
        "POS=CIRCLE 10.68 41.27 0.1&BAND=4e-7 7e-7&CALIB=2&CALIB=3&MAXREC=100",
        table="ivoa.ObsCore",
    )
    assert got == (
        "SELECT TOP 100 * FROM ivoa.ObsCore WHERE "
        "INTERSECTS(s_region, CIRCLE('ICRS', 10.68, 41.27, 0.1)) = 1 "
        "AND (em_min <= 7E-7 AND em_max >= 4E-7) AND calib_level IN (2, 3)"
    )


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"exptime": ["-Inf 2", "1200 +Inf"]}, "t_exptime <= 2 OR t_exptime >= 1200"),
        ({"FOV": "0.1 0.5"}, "s_fov BETWEEN 0.1 AND 0.5"),
        ({"SPATRES": "0.7"}, "s_resolution = 0.7"),
        ({"TIME": "60625 +Inf"}, "t_max >= 60625"),
        ({"POL": "Q"}, "pol_states LIKE '%/Q/%'"),
        ({"ID": "ivo://A/b"}, "LOWER(obs_publisher_did) = LOWER('ivo://A/b')"),
        ({"COLLECTION": ["LSST.DP1", "x'y"]}, "obs_collection IN ('LSST.DP1', 'x''y')"),
        ({"DPSUBTYPE": "lsst.deep_coadd"}, "dataproduct_subtype = 'lsst.deep_coadd'"),
        ({"POS": "RANGE 0 360 89 +Inf"}, "s_dec BETWEEN 89 AND 90"),
        (
            {"POS": "RANGE 10 20 -5 5"},
            "INTERSECTS(s_region, POLYGON('ICRS', 10, -5, 20, -5, 20, 5, 10, 5)) = 1",
        ),
        ({"POS": "RANGE 350 10 -90 90"}, "s_ra >= 350 OR s_ra <= 10"),
        (
            {"RELEASEDATE": "2024-01-01 2025-01-01"},
            "obs_release_date BETWEEN '2024-01-01' AND '2025-01-01'",
        ),
    ],
)
def test_parameters(params, where):
    assert adql(params) == f"SELECT * FROM ivoa.obscore WHERE {where}"


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ("POS=CIRCLE 10 20", "POS", "CIRCLE needs"),
        ("pos=CIRCLE 10 95 1", "pos", "dec in"),
        ("BAND=7e-7 4e-7", "BAND", "lower bound"),
        ("BAND=-1 2", "BAND", "negative"),
        ("CALIB=7", "CALIB", "calibration level"),
        ("POL=Z", "POL", "polarization"),
        ("MAXREC=ten", "MAXREC", "non-negative"),
        ("FOO=1", "FOO", "unknown SIAv2 parameter"),
        ("TIME=abc", "TIME", "not a number"),
    ],
)
def test_errors_name_the_parameter(params, key, message):
    with pytest.raises(ParamError, match=message) as info:
        sia_params_to_query(params)
    assert info.value.key == key


def test_output_parses_back_to_the_same_tree():
    query = sia_params_to_query(
        "POS=POLYGON 10 10 11 10 11 11&TIME=1 2&EXPTIME=-Inf 5&TARGET=M31&MAXREC=7"
    )
    assert grammar.parse(grammar.to_adql(query)) == query


def test_round_trip_through_the_forward_planner():
    """SIA -> ADQL -> SIA gives the same parameters (the forward planner is exact here)."""
    params = [
        ("POS", "CIRCLE 53.1 -27.9 0.2"),
        ("BAND", "4e-07 7e-07"),
        ("EXPTIME", "-Inf 30"),
        ("EXPTIME", "900 +Inf"),
        ("ID", "ivo://a/b"),
        ("CALIB", "2"),
        ("CALIB", "3"),
        ("MAXREC", "50"),
    ]
    query = sia_params_to_query(
        {k: [v for kk, v in params if kk == k] for k, _ in params}, table="rsp_sia.obscore"
    )
    fragment = negotiate(SiaPlanner("rsp_sia", "http://x/query"), query)
    assert fragment.residual is None
    assert list(fragment.requests[0].params) == params
