"""The federation planner: routing, conjunct splitting, cross-match dependencies, strategies."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from gateway.federation.catalog import FederatedCatalog
from gateway.federation.explain import explain_plan
from gateway.federation.planner import plan_query
from gateway.federation.xmatch import (
    Cone,
    FederationOptions,
    JoinChoice,
    bounding_cone,
    choose_strategy,
    clusters,
)
from gateway.settings import GatewaySettings
from grammar import parse
from grammar.errors import UnsupportedError
from grammar.printer import to_adql
from standins.data import DemoData, ensure_demo_data
from tests.gateway.federation_servers import Federation, run_federation

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederatedCatalog]:
    demo: DemoData = ensure_demo_data()
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        yield FederatedCatalog(GatewaySettings(backends=Federation.backends(fed)))


def test_routing_modes(catalog: FederatedCatalog) -> None:
    cone = "CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(53.2, -28.1, 0.1)) = 1"
    assert plan_query(parse(f"SELECT * FROM hscv3.summary WHERE {cone}"), catalog).mode == "single"
    joined = "SELECT * FROM dp1.Object AS o JOIN ivoa.ObsCore AS c ON o.objectId = c.calib_level"
    plan = plan_query(parse(joined), catalog)
    assert plan.mode == "pushdown"
    assert "JOIN" in plan.to_json()["fragments"][0]["requests"][0]["params"][2][1]  # type: ignore[index]
    assert plan_query(parse("SELECT * FROM TAP_SCHEMA.tables"), catalog).mode == "engine"


def test_conjuncts_split_by_reference(catalog: FederatedCatalog) -> None:
    adql = (
        "SELECT h.MatchID, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
        "ON h.MatchID = s.bestobjid AND s.z > 0.5 "
        "WHERE CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(53.2, -28.1, 0.1)) = 1 "
        "AND h.NumImages > 3 AND h.MatchDec + s.dec > 0"
    )
    plan = plan_query(parse(adql), catalog)
    assert plan.mode == "federated"
    h, s = plan.scans
    assert [to_adql(c) for c in h.conjuncts] == [
        "CONTAINS(POINT(MatchRA, MatchDec), CIRCLE(53.2, -28.1, 0.1)) = 1",
        "NumImages > 3",
    ]
    assert [to_adql(c) for c in s.conjuncts] == ["z > 0.5"]
    assert h.projection is not None
    assert set(h.projection) == {"MatchID", "MatchRA", "MatchDec", "NumImages"}
    assert h.restricted
    assert not s.restricted
    assert "MatchDec + s.dec > 0" in to_adql(plan.local_query)


def test_outer_join_keeps_null_supplying_filters_local(catalog: FederatedCatalog) -> None:
    adql = (
        "SELECT h.MatchID FROM hscv3.summary AS h LEFT JOIN sdss_dr16.specobj AS s "
        "ON h.MatchID = s.bestobjid AND h.NumImages > 2 AND s.z > 1 "
        "WHERE s.specobjid IS NULL AND h.MatchDec > -28"
    )
    h, s = plan_query(parse(adql), catalog).scans
    assert [to_adql(c) for c in h.conjuncts] == ["MatchDec > -28"]
    assert [to_adql(c) for c in s.conjuncts] == ["z > 1"]


def test_cross_match_sides(catalog: FederatedCatalog) -> None:
    adql = (
        "SELECT * FROM hscv3.summary AS h, dp1.Object AS o WHERE "
        "DISTANCE(POINT(h.MatchRA, h.MatchDec), POINT(o.coord_ra, o.coord_dec)) < 0.001 "
        "AND CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(53.2, -28.1, 0.3)) = 1"
    )
    plan = plan_query(parse(adql), catalog)
    (edge,) = plan.edges
    assert edge.radius == 0.001
    o = plan.scans[1]
    assert o.depends == edge
    text = explain_plan(plan)
    assert "cross-match with h" in text
    assert "chosen at run time" in text
    unrestricted = adql.split(" AND CONTAINS", maxsplit=1)[0]
    with pytest.raises(UnsupportedError, match="XMATCH_ALLSKY"):
        plan_query(parse(unrestricted), catalog)
    allowed = plan_query(parse(unrestricted), catalog, options=FederationOptions(allow_allsky=True))
    assert allowed.scans[1].depends is None


def test_strategy_rules() -> None:
    opts = FederationOptions()
    small = Cone(53.2, -28.1, 0.3)
    wide = Cone(53.2, -28.1, 20.0)
    pick = choose_strategy
    assert pick(outer_rows=100, cone=small, inner_cone=True, inner_uploads=True, probe=10_000,
                options=opts).strategy == "UploadJoin"  # fmt: skip
    assert pick(outer_rows=100, cone=small, inner_cone=True, inner_uploads=True, probe=50,
                options=opts).strategy == "LocalJoin"  # fmt: skip
    assert pick(outer_rows=100, cone=wide, inner_cone=True, inner_uploads=True, probe=None,
                options=opts).strategy == "UploadJoin"  # fmt: skip
    assert pick(outer_rows=100, cone=wide, inner_cone=True, inner_uploads=False, probe=None,
                options=opts).strategy == "BindJoin"  # fmt: skip
    assert pick(outer_rows=50_000, cone=wide, inner_cone=True, inner_uploads=False, probe=None,
                options=opts).strategy == "LocalJoin"  # fmt: skip
    choice = pick(outer_rows=0, cone=None, inner_cone=True, inner_uploads=False, probe=None,
                  options=opts)  # fmt: skip
    assert "empty" in choice.reason


def _outer(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` positions within about 0.4 deg of the SMC centre (as in the join benchmark)."""
    rng = np.random.default_rng(seed)
    radius = 0.4 * np.sqrt(rng.uniform(0, 1, count))
    angle = rng.uniform(0, 2 * np.pi, count)
    dec = -72.8286 + radius * np.sin(angle)
    ra = 13.18659 + radius * np.cos(angle) / np.cos(np.radians(dec))
    return ra, dec


def test_strategy_is_density_aware_for_cone_only_backends() -> None:
    opts = FederationOptions()
    radius = 1 / 3600

    def pick(count: int, density: float | None) -> JoinChoice:
        ra, dec = _outer(count, seed=count)
        cone = bounding_cone(ra, dec, radius)
        assert cone is not None
        assert cone.radius < opts.cone_max_deg  # the old rule: always LocalJoin here
        cones = clusters(ra, dec, opts.bind_cluster_deg, radius, opts.bind_max_clusters)
        return choose_strategy(outer_rows=count, cone=cone, inner_cone=True,
                               inner_uploads=False, probe=None, options=opts, bind_cones=cones,
                               density=density, density_source="test")  # fmt: skip

    dense = 800_000.0  # HSC rows per square degree in the SMC
    small = pick(10, dense)
    assert small.strategy == "BindJoin"
    assert small.estimates["bind_cost"] < small.estimates["local_cost"]  # type: ignore[operator]
    assert small.estimates["density_source"] == "test"
    assert {"local_rows_est", "bind_rows_est", "bind_clusters"} <= small.estimates.keys()
    sparse = pick(10, 1_000.0)
    assert sparse.strategy == "LocalJoin"
    large = pick(1_000, dense)
    assert large.strategy == "LocalJoin"
    assert large.estimates["bind_rows_est"] > large.estimates["local_rows_est"]  # type: ignore[operator]
    assert pick(10, None).strategy == "LocalJoin"  # no estimate: the derived cone, as before
    # A forced BindJoin still needs the outer side within the cluster cap.
    few = FederationOptions(strategy="BindJoin", bind_max_clusters=3)
    ra, dec = _outer(100, seed=1)
    cone = bounding_cone(ra, dec, radius)
    cones = clusters(ra, dec, 0.1, radius, few.bind_max_clusters)
    assert len(cones) == few.bind_max_clusters + 1  # stopped once over the cap
    assert choose_strategy(outer_rows=100, cone=cone, inner_cone=True, inner_uploads=False,
                           probe=None, options=few, bind_cones=cones).strategy == "LocalJoin"  # fmt: skip


def test_bounding_cone_and_clusters_cover_every_point() -> None:
    rng = np.random.default_rng(3)
    ra = np.concatenate([rng.normal(359.9, 0.2, 200) % 360, rng.normal(0.2, 0.1, 50)])
    dec = rng.normal(-30, 0.2, ra.size)
    cone = bounding_cone(ra, dec, 0.01)
    assert cone is not None
    assert cone.radius < 2
    cones = clusters(ra, dec, 0.1, 0.01)
    for r, d in zip(ra, dec, strict=True):
        assert any(_sep(r, d, c) <= c.radius - 0.01 + 1e-9 for c in cones)
        assert _sep(r, d, cone) <= cone.radius


def _sep(ra: float, dec: float, cone: Cone) -> float:
    r1, d1, r0, d0 = np.radians([ra, dec, cone.ra, cone.dec])
    a = np.sin((d1 - d0) / 2) ** 2 + np.cos(d1) * np.cos(d0) * np.sin((r1 - r0) / 2) ** 2
    return float(np.degrees(2 * np.arcsin(np.sqrt(a))))
