"""Whole-table fetches in the federation plan: named in EXPLAIN, refused above the estimate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.catalog import FederatedCatalog
from gateway.explain import explain_plan
from gateway.federation import plan_query
from gateway.federation_whole import WholeFetchRefused
from gateway.federation_xmatch import FederationOptions
from gateway.settings import GatewaySettings
from grammar import parse
from standins.data import ensure_demo_data
from tests.gateway.federation_servers import Federation, run_federation

pytestmark = pytest.mark.integration

ROWS = {"hscv3.summary": 1_112_940, "*": 200_000}
XMATCH = (
    "SELECT h.MatchID, s.z FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
    "ON CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(s.ra, s.dec, {radius})) = 1 "
    "WHERE CONTAINS(POINT(s.ra, s.dec), CIRCLE(53.2, -28.1, 0.1)) = 1"
)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with run_federation(ensure_demo_data(), tmp_path_factory.mktemp("rsp")) as fed:
        yield fed


def _catalog(federation: Federation, *, estimates: bool) -> FederatedCatalog:
    backends = federation.backends()
    if estimates:
        backends = [
            b.model_copy(update={"table_rows": ROWS}) if b.name == "hsc" else b for b in backends
        ]
    return FederatedCatalog(GatewaySettings(backends=backends))


def test_expression_radius_is_a_cross_match_not_a_whole_fetch(federation: Federation) -> None:
    plan = plan_query(parse(XMATCH.format(radius="1.0/3600")), _catalog(federation, estimates=True))
    assert plan.whole == ()
    h = plan.scans[0]
    assert h.depends is not None
    assert h.depends.radius == 1.0 / 3600


def test_unrestricted_side_is_refused_with_the_numbers(federation: Federation) -> None:
    # A radius read from a column is no constant: no cross-match cone can be derived.
    adql = XMATCH.format(radius="s.z * 0 + 0.0003")
    catalog = _catalog(federation, estimates=True)
    with pytest.raises(WholeFetchRefused) as caught:
        plan_query(parse(adql), catalog)
    message = str(caught.value)
    assert message.startswith("hscv3.summary at line 1, column 28 would be fetched whole")
    assert "backend 'hsc' (about 1,112,940 rows, above the limit of 1,000,000)" in message
    assert "no condition of the query restricts this table" in message
    assert message.endswith("or opt in with FETCH_WHOLE=true")

    plan = plan_query(parse(adql), catalog, options=FederationOptions(allow_whole=True))
    assert [(w.label, w.estimate) for w in plan.whole] == [("h", 1_112_940)]
    text = explain_plan(plan)
    assert (
        "    fetched whole: h: hscv3.summary is fetched whole from hsc (hsc), about 1,112,940 "
        "rows: no condition of the query restricts this table; above the limit of 1,000,000 "
        "rows, so running the query is refused unless it comes with FETCH_WHOLE=true"
    ) in text
    opted_in = explain_plan(plan, options=FederationOptions(allow_whole=True))
    assert "no condition of the query restricts this table\n" in opted_in
    assert "restricted by its own spatial condition" in text  # the spectra side


def test_limit_and_estimates(federation: Federation) -> None:
    catalog = _catalog(federation, estimates=True)
    # A conjunct the service cannot take, under the limit ("*" estimate 200,000): named only.
    plan = plan_query(parse("SELECT COUNT(*) FROM hscv3.detailed WHERE MatchRA * 2 > 1"), catalog)
    (whole,) = plan.whole
    assert whole.estimate == 200_000
    assert "cannot evaluate its conditions (MatchRA * 2 > 1)" in explain_plan(plan)
    # TOP is pushed: not a whole fetch, whatever the size.
    assert plan_query(parse("SELECT TOP 5 * FROM hscv3.summary"), catalog).whole == ()
    strict = FederationOptions(whole_max_rows=100_000)
    with pytest.raises(WholeFetchRefused, match="above the limit of 100,000"):
        plan_query(parse("SELECT * FROM hscv3.detailed"), catalog, options=strict)
    # Without an estimate nothing is refused, and EXPLAIN says the size is unknown.
    plan = plan_query(parse("SELECT * FROM hscv3.summary"), _catalog(federation, estimates=False))
    assert "row estimate unknown" in explain_plan(plan)
