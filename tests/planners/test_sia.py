"""The SIAv2 planner: which conditions become which parameters, and what stays residual."""

from __future__ import annotations

import json

import pytest

import grammar
from grammar.errors import AdqlSemanticError
from planners.negotiate import negotiate
from planners.sia import RUBIN_DP1_COLUMNS, SiaPlanner
from tests.planners.test_golden import GOLDEN, read_cases

URL = "http://sia.test/query"
PLANNER = SiaPlanner("rsp_sia", URL, RUBIN_DP1_COLUMNS, frozenset({"DPSUBTYPE"}))


def plan(where: str, top: str = "", planner: SiaPlanner = PLANNER):
    query = grammar.parse(f"SELECT {top} * FROM rsp_sia.obscore WHERE {where}")
    fragment = negotiate(planner, query)
    params = [list(r.params) for r in fragment.requests]
    residual = None if fragment.residual is None else grammar.to_adql(fragment.residual)
    return params, residual


def test_worked_example_is_exact_and_gets_maxrec():
    params, residual = plan(
        "INTERSECTS(s_region, CIRCLE('ICRS', 53.1, -27.9, 0.2)) = 1 "
        "AND em_min <= 7e-7 AND em_max >= 4e-7 AND calib_level IN (2, 3)",
        "TOP 10",
    )
    assert params == [
        [
            ("POS", "CIRCLE 53.1 -27.9 0.2"),
            ("BAND", "4e-07 7e-07"),
            ("CALIB", "2"),
            ("CALIB", "3"),
            ("MAXREC", "10"),
        ]
    ]
    assert residual is None


@pytest.mark.parametrize(
    ("where", "pushed", "residual"),
    [
        (
            "CONTAINS(POINT(s_ra, s_dec), CIRCLE(53, -28, 0.1)) = 1",
            [("POS", "CIRCLE 53 -28 0.1")],
            "CONTAINS(POINT(s_ra, s_dec), CIRCLE(53, -28, 0.1)) = 1",
        ),
        (
            "DISTANCE(POINT(s_ra, s_dec), POINT(53, -28)) < 0.2",
            [("POS", "CIRCLE 53 -28 0.2")],
            "DISTANCE(POINT(s_ra, s_dec), POINT(53, -28)) < 0.2",
        ),
        ("t_exptime > 30", [("EXPTIME", "30 +Inf")], "t_exptime > 30"),
        ("t_exptime BETWEEN 30 AND 900", [("EXPTIME", "30 900")], None),
        ("30 <= t_exptime", [("EXPTIME", "30 +Inf")], None),
        ("em_min >= 5e-7", [("BAND", "5e-07 +Inf")], "em_min >= 5E-7"),
        ("t_min <= 60630 AND t_max >= 60625", [("TIME", "60625 60630")], None),
        ("NOT (calib_level <> 3)", [("CALIB", "3")], None),
        (
            "(t_exptime <= 30 OR t_exptime >= 900)",
            [("EXPTIME", "-Inf 30"), ("EXPTIME", "900 +Inf")],
            None,
        ),
        ("dataproduct_subtype = 'lsst.deep_coadd'", [("DPSUBTYPE", "lsst.deep_coadd")], None),
        (
            "obs_publisher_did = 'ivo://X/y'",
            [("ID", "ivo://X/y")],
            "obs_publisher_did = 'ivo://X/y'",
        ),
        ("LOWER(obs_publisher_did) = LOWER('ivo://X/y')", [("ID", "ivo://x/y")], None),
        ("pol_states LIKE '%/Q/%'", [("POL", "Q")], None),
        (
            "s_ra BETWEEN 53 AND 53.5 AND s_dec >= -28",
            [("POS", "RANGE 53 53.5 -28 90")],
            "s_ra BETWEEN 53 AND 53.5 AND s_dec >= -28",
        ),
        ("lsst_band = 'r'", [], "lsst_band = 'r'"),
    ],
)
def test_recognisers(where, pushed, residual):
    params, got_residual = plan(where)
    assert params == [[*pushed, ("MAXREC", "10000")]]
    assert got_residual == residual


def test_or_of_conjunctions_pushes_cnf_clauses_and_keeps_the_term():
    params, residual = plan(
        "(calib_level = 2 AND t_exptime <= 30) OR (calib_level = 3 AND t_exptime >= 900)"
    )
    assert params == [
        [
            ("EXPTIME", "-Inf 30"),
            ("EXPTIME", "900 +Inf"),
            ("CALIB", "2"),
            ("CALIB", "3"),
            ("MAXREC", "10000"),
        ]
    ]
    assert residual is not None
    assert "calib_level = 2" in residual


def test_only_one_pos_group_can_be_sent():
    params, residual = plan(
        "INTERSECTS(s_region, CIRCLE(53, -28, 0.1)) = 1 "
        "AND INTERSECTS(s_region, CIRCLE(53.2, -28, 0.1)) = 1"
    )
    assert params == [[("POS", "CIRCLE 53 -28 0.1"), ("MAXREC", "10000")]]
    assert residual == "INTERSECTS(s_region, CIRCLE(53.2, -28, 0.1)) = 1"


@pytest.mark.parametrize(
    "where",
    [
        "dataproduct_type = 'spectrum'",
        "calib_level = 7",
        "t_exptime > 5 AND t_exptime < 3",
        "LOWER(obs_publisher_did) = 'IVO://UPPER'",
    ],
)
def test_impossible_conditions_send_no_request(where):
    assert plan(where) == ([], None)


def test_no_maxrec_with_residual_and_no_negated_push():
    params, residual = plan("NOT INTERSECTS(s_region, CIRCLE(53, -28, 0.1)) = 1", "TOP 5")
    assert params == [[("MAXREC", "10000")]]
    assert residual is not None


def test_centre_based_service_never_gets_region_intersects():
    centre = SiaPlanner("rsp_sia", URL, pos="centre")
    params, residual = plan("INTERSECTS(s_region, CIRCLE(53, -28, 0.1)) = 1", planner=centre)
    assert params == [[("MAXREC", "10000")]]
    assert residual is not None


def test_undeclared_extension_is_not_pushed():
    plain = SiaPlanner("rsp_sia", URL, RUBIN_DP1_COLUMNS)
    params, residual = plan("dataproduct_subtype = 'lsst.deep_coadd'", planner=plain)
    assert params == [[("MAXREC", "10000")]]
    assert residual == "dataproduct_subtype = 'lsst.deep_coadd'"


def test_unknown_table_names_the_backend_table():
    with pytest.raises(AdqlSemanticError, match=r"rsp_sia\.obscore"):
        negotiate(PLANNER, grammar.parse("SELECT * FROM rsp_sia.images"))


def _golden_json(adql: str) -> str:
    fragment = negotiate(PLANNER, grammar.parse(adql))
    return json.dumps({"fragments": [fragment.to_json()]}, indent=1)


def test_golden_file(request):
    path = GOLDEN / "sia.txt"
    cases = read_cases(path)
    assert len(cases) >= 8
    if request.config.getoption("--update-golden"):
        blocks = [
            f"# title: {c.title}\n{c.adql}\n# expect:\n{_golden_json(c.adql)}\n" for c in cases
        ]
        path.write_text("\n".join(blocks), encoding="utf-8")
        return
    assert [c.title for c in cases if _golden_json(c.adql) != c.expected] == []
