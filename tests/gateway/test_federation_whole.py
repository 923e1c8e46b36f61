"""Whole-table fetches in the federation plan: named in EXPLAIN, refused above the estimate.

``TOP 0`` (the standard way to ask for a result's columns) fetches nothing at all: tested
through a gateway whose HSC and spectral backends fail every data request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from gateway.federation.catalog import FederatedCatalog
from gateway.federation.explain import explain_plan
from gateway.federation.planner import plan_query
from gateway.federation.whole import WholeFetchRefused
from gateway.federation.xmatch import FederationOptions
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from grammar import parse
from standins.data import ensure_demo_data
from standins.demo.config import DEMO_HSC_ROWS
from tests.gateway.conftest import error_message, query_statuses, read_votable
from tests.gateway.federation_servers import Federation, run_federation, serve_switchable
from tests.live_server import reserve_port, serve_app

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


# ---------------------------------------------------------------------------- TOP 0


@pytest.fixture(scope="module")
def failing_gateway(
    federation: Federation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The demo federation (with the demo's HSC row counts) whose HSC and spectral services
    answer 500 to every data request; their metadata still loads."""
    work = tmp_path_factory.mktemp("top0")
    demo = ensure_demo_data()
    with contextlib.ExitStack() as stack:
        hsc_url, hsc = stack.enter_context(serve_switchable("hsc", demo, work / "hsc"))
        spec_url, spec = stack.enter_context(serve_switchable("spectral", demo, work / "spec"))
        backends = [
            b.model_copy(update={"table_rows": DEMO_HSC_ROWS}) if b.name == "hsc" else b
            for b in federation.backends(hsc=hsc_url, spec=spec_url)
        ]
        sock = reserve_port()
        settings = GatewaySettings(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/tap",
            data_dir=work / "gateway",
            backends=backends,
        )
        url = stack.enter_context(serve_app(build_app(settings), sock=sock, lifespan="on"))
        for switch in (hsc, spec):
            switch.fault, switch.params = "status", {"code": "500", "body": "data was fetched"}
        yield url + "/tap"


def _sync(base: str, adql: str) -> httpx.Response:
    return httpx.post(f"{base}/sync", data={"LANG": "ADQL", "QUERY": adql}, timeout=60)


def _parquet_columns(table: str) -> list[str]:
    """The column names of a demo table, read from its data file (not from the gateway)."""
    return list(pq.read_schema(Path(ensure_demo_data().tables()[table])).names)


def test_top_0_fetches_nothing_and_returns_the_fields(failing_gateway: str) -> None:
    # The control: any row asked of HSC reaches the failing service.
    control = _sync(failing_gateway, "SELECT TOP 1 MatchID FROM hscv3.summary")
    assert "data was fetched" in error_message(control.content)

    # 1,112,940 rows is above the whole-fetch limit: TOP 0 was refused as a whole fetch.
    response = _sync(failing_gateway, "SELECT TOP 0 * FROM hscv3.summary")
    assert response.status_code == 200, response.text
    assert query_statuses(response.content) == [("before", "OK")]
    table = read_votable(response.content)
    assert len(table) == 0
    expected = _parquet_columns("hscv3.summary")
    assert [c.lower() for c in table.colnames] == [c.lower() for c in expected]
    assert table["MatchID"].dtype.kind == "i"
    assert table["MatchRA"].dtype.kind == "f"


def test_top_0_of_a_federated_join_fetches_nothing(failing_gateway: str) -> None:
    adql = (
        "SELECT TOP 0 h.MatchID, s.specobjid, s.z FROM hscv3.summary AS h "
        "JOIN sdss_dr16.specobj AS s "
        "ON 1 = CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(s.ra, s.dec, 1.0/3600)) "
        "WHERE 1 = CONTAINS(POINT(s.ra, s.dec), CIRCLE(53.2, -28.1, 0.1))"
    )
    response = _sync(failing_gateway, adql)
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    assert (len(table), table.colnames) == (0, ["MatchID", "specobjid", "z"])
    explained = httpx.post(f"{failing_gateway}/explain", data={"QUERY": adql}, timeout=60)
    assert explained.status_code == 200, explained.text
    assert explained.text.count("TOP 0: nothing is fetched") == 2
