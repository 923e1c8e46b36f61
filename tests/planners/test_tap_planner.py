"""The TAP planner: remote names, capabilities, residuals, uploads, requests."""

from __future__ import annotations

import json

import pytest

import grammar
from grammar import nodes as n
from grammar.errors import UnsupportedError
from planners.negotiate import negotiate
from planners.sql_catalog import ColumnInfo
from planners.tap import TapCapabilities, TapPlanner, largest_subtrees
from tests.planners.test_golden import GOLDEN, read_cases

OBJECT = (
    ColumnInfo("objectId", "long"),
    ColumnInfo("coord_ra", "double", unit="deg"),
    ColumnInfo("coord_dec", "double", unit="deg"),
    ColumnInfo("g_psfMag", "float"),
    ColumnInfo("name", "char", "*"),
)
TABLES = {"dp1.Object": OBJECT, "ivoa.ObsCore": (ColumnInfo("obs_id", "char", "*"),)}
FULL = TapPlanner("rsp", "http://rsp.test/tap", TABLES, schema_prefix="rsp_")
LIMITED = TapPlanner(
    "old",
    "http://old.test/tap/",
    TABLES,
    features=TapCapabilities(
        adql_versions=("2.0",), features=frozenset(), upload=False, maxrec_hard=5000
    ),
)
NO_ILIKE = TapPlanner(
    "rsp",
    "http://rsp.test/tap",
    TABLES,
    schema_prefix="rsp_",
    features=TapCapabilities(features=frozenset({"offset"}), forms=frozenset({"LOWER"})),
    runid="gw-1",
)


def push(planner: TapPlanner, adql: str):
    pushed, requests = planner.request_for(grammar.parse(adql))
    local = None if pushed.local_query is None else grammar.to_adql(pushed.local_query)
    return dict(requests[0].params), local, requests[0]


def test_whole_join_with_aggregates_goes_over_with_remote_names():
    params, local, request = push(
        FULL,
        "SELECT TOP 5 o.objectId, COUNT(*) AS n FROM rsp_dp1.Object AS o "
        "JOIN rsp_ivoa.ObsCore AS c ON o.name = c.obs_id WHERE rsp_dp1.Object.coord_ra > 1 "
        "GROUP BY o.objectId ORDER BY n DESC",
    )
    assert params["QUERY"] == (
        "SELECT TOP 5 o.objectId, COUNT(*) AS n FROM dp1.Object AS o "
        "JOIN ivoa.ObsCore AS c ON o.name = c.obs_id WHERE dp1.Object.coord_ra > 1 "
        "GROUP BY o.objectId ORDER BY n DESC"
    )
    assert params["MAXREC"] == "5"
    assert params["LANG"] == "ADQL"
    assert params["RESPONSEFORMAT"] == "votable"
    assert request.method == "POST"
    assert request.url == "http://rsp.test/tap/sync"
    assert local is None


def test_ilike_becomes_lower_like_when_only_lower_is_declared():
    params, local, _ = push(NO_ILIKE, "SELECT * FROM rsp_dp1.Object WHERE name ILIKE 'ab%'")
    assert params["QUERY"] == "SELECT * FROM dp1.Object WHERE LOWER(name) LIKE LOWER('ab%')"
    assert params["RUNID"] == "gw-1"
    assert local is None


def test_no_string_feature_keeps_ilike_residual_and_top_local():
    params, local, _ = push(
        LIMITED,
        "SELECT TOP 3 objectId FROM dp1.Object WHERE name ILIKE 'a%' AND coord_ra > 1 "
        "ORDER BY coord_dec",
    )
    assert params["QUERY"] == (
        "SELECT objectId, name, coord_dec FROM dp1.Object WHERE coord_ra > 1 ORDER BY coord_dec"
    )
    assert params["MAXREC"] == "5000"
    assert local == (
        "SELECT TOP 3 objectId FROM fragment.fetched WHERE name ILIKE 'a%' ORDER BY coord_dec"
    )


def test_no_offset_pushes_top_plus_offset():
    params, local, _ = push(LIMITED, "SELECT TOP 10 * FROM dp1.Object ORDER BY g_psfMag OFFSET 20")
    assert params["QUERY"] == "SELECT TOP 30 * FROM dp1.Object ORDER BY g_psfMag"
    assert local == "SELECT * FROM fragment.fetched ORDER BY g_psfMag OFFSET 20"


def test_adql20_service_gets_coordinate_systems():
    params, _, _ = push(
        LIMITED,
        "SELECT objectId FROM dp1.Object WHERE "
        "CONTAINS(POINT(coord_ra, coord_dec), CIRCLE(POINT(10, 20), 0.1)) = 1",
    )
    assert "POINT('ICRS', coord_ra, coord_dec), CIRCLE('ICRS', 10, 20, 0.1)" in params["QUERY"]


def test_unknown_udf_is_refused_with_backend_and_span():
    with pytest.raises(UnsupportedError) as info:
        FULL.push_query(
            grammar.parse("SELECT *\nFROM rsp_dp1.Object WHERE gavo_mystery(coord_ra) > 1")
        )
    assert info.value.backend == "rsp"
    assert "gavo_mystery" in str(info.value)
    assert (info.value.line, info.value.column) == (2, 27)


def test_feature_missing_outside_where_is_refused():
    with pytest.raises(UnsupportedError, match="CAST"):
        LIMITED.push_query(grammar.parse("SELECT CAST(objectId AS INTEGER) FROM dp1.Object"))


def test_uploads_are_listed_and_referenced():
    params, _, request = push(
        FULL,
        "SELECT o.objectId FROM rsp_dp1.Object AS o JOIN TAP_UPLOAD.mine AS u ON o.objectId = u.id",
    )
    assert params["UPLOAD"] == "mine,param:mine"
    assert request.uploads == ("mine",)
    with pytest.raises(UnsupportedError, match="TAP_UPLOAD"):
        LIMITED.push_query(
            grammar.parse("SELECT * FROM dp1.Object AS o JOIN TAP_UPLOAD.m AS u ON 1 = 1")
        )


def test_table_protocol_with_semijoin_and_residual():
    handle = FULL.scan(n.TableName((n.Identifier("rsp_dp1"), n.Identifier("Object"))))
    applied = FULL.apply_filter(
        handle, [grammar.parse_condition("coord_ra > 2"), grammar.parse_condition("name ILIKE 'x'")]
    )
    assert applied is not None
    assert applied.residual == ()
    handle = applied.handle
    semi = FULL.apply_semijoin(handle, "ids", "objectId")
    assert semi is not None
    limited = FULL.apply_limit(semi.handle, 10)
    assert limited is not None
    (request,) = FULL.render(limited.handle)
    assert dict(request.params)["QUERY"] == (
        "SELECT TOP 10 * FROM dp1.Object WHERE coord_ra > 2 AND name ILIKE 'x' "
        "AND objectId IN (SELECT objectId FROM TAP_UPLOAD.ids)"
    )
    assert dict(request.params)["UPLOAD"] == "ids,param:ids"
    old = LIMITED.scan(n.TableName((n.Identifier("dp1"), n.Identifier("Object"))))
    assert LIMITED.apply_semijoin(old, "ids", "objectId") is None


def test_negotiate_with_a_limited_service():
    fragment = negotiate(
        LIMITED, grammar.parse("SELECT TOP 2 objectId FROM dp1.Object WHERE name ILIKE 'a%'")
    )
    assert fragment.residual is not None
    assert "ILIKE" not in dict(fragment.requests[0].params)["QUERY"]


def test_largest_subtrees_inside_a_federated_query():
    query = grammar.parse(
        "SELECT * FROM hscv3.summary AS h WHERE h.id IN "
        "(SELECT objectId FROM rsp_dp1.Object WHERE coord_ra > 1)"
    )
    assert [grammar.to_adql(q) for q in largest_subtrees(query, FULL)] == [
        "SELECT objectId FROM rsp_dp1.Object WHERE coord_ra > 1"
    ]


PLANNERS = {"full": FULL, "limited": LIMITED, "no_ilike": NO_ILIKE}


def _golden_json(adql: str) -> str:
    name, _, text = adql.partition("\n")
    planner = PLANNERS[name.removeprefix("-- backend: ").strip()]
    pushed, requests = planner.request_for(grammar.parse(text))
    local = None if pushed.local_query is None else grammar.to_adql(pushed.local_query)
    fragment = {
        "backend": planner.backend,
        "kind": "tap",
        "requests": [r.to_json() for r in requests],
        "local_query": local,
    }
    return json.dumps({"fragments": [fragment]}, indent=1)


def test_golden_file(request):
    path = GOLDEN / "tap.txt"
    cases = read_cases(path)
    assert len(cases) >= 8
    if request.config.getoption("--update-golden"):
        blocks = [
            f"# title: {c.title}\n{c.adql}\n# expect:\n{_golden_json(c.adql)}\n" for c in cases
        ]
        path.write_text("\n".join(blocks), encoding="utf-8")
        return
    assert [c.title for c in cases if _golden_json(c.adql) != c.expected] == []


def test_negotiated_format_is_asked_for_and_csv_only_for_catalogue_typed_scans():
    parquet = TapPlanner(
        "rsp",
        "http://rsp.test/tap",
        TABLES,
        schema_prefix="rsp_",
        features=TapCapabilities(response_format="application/vnd.apache.parquet"),
    )
    params, _, request = push(parquet, "SELECT o.objectId FROM rsp_dp1.Object AS o")
    assert params["RESPONSEFORMAT"] == request.response_format == "application/vnd.apache.parquet"
    csv = TapPlanner(
        "rsp",
        "http://rsp.test/tap",
        TABLES,
        schema_prefix="rsp_",
        features=TapCapabilities(response_format="text/csv;header=present"),
    )
    # A whole query: its output types are not in the catalogue, so not CSV.
    params, _, _ = push(csv, "SELECT COUNT(*) AS n FROM rsp_dp1.Object")
    assert params["RESPONSEFORMAT"] == "votable"
    # A scan of a catalogue table: CSV, read with the catalogue's column types.
    handle = csv.scan(n.TableName((n.Identifier("rsp_dp1"), n.Identifier("Object"))))
    (request,) = csv.render(handle)
    assert dict(request.params)["RESPONSEFORMAT"] == "text/csv;header=present"
