"""The federated catalogue from running backends: names, columns, clashes, down backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from gateway.federation.catalog import CatalogError, FederatedCatalog
from gateway.settings import BackendConfig, GatewaySettings
from gateway.tap.serve import build_app
from grammar.nodes import Identifier, TableName
from standins.data import DemoData, ensure_demo_data
from tests.gateway.federation_servers import Federation, dead_url, run_federation, serve_rsp
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def federation(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        yield fed


def _name(text: str) -> TableName:
    return TableName(tuple(Identifier(p) for p in text.split(".")))


def test_catalogue_from_the_running_backends(federation: Federation, demo: DemoData) -> None:
    catalog = FederatedCatalog(GatewaySettings(backends=federation.backends()))
    assert all(s.ok for s in catalog.statuses()), catalog.statuses()
    names = set(catalog.table_names())
    assert {"hscv3.summary", "hscv2.detailed", "dp1.Object", "ivoa.ObsCore"} <= names
    assert {"rsp_sia.obscore", "sdss_dr16.specobj", "sdss_dr16.specobjall"} <= names
    assert not any(n.lower().startswith("tap_schema.") for n in names)
    dp1 = catalog.lookup(_name("DP1.object"))
    assert dp1 is not None
    assert dp1.backend.name == "rsp"
    parquet = pq.ParquetFile(demo.tables()["dp1.Object"]).schema_arrow.names
    assert [c.name for c in dp1.meta.columns] == parquet
    hsc = catalog.lookup(_name("hscv3.summary"))
    assert hsc is not None
    records = httpx.get(f"{federation.hsc}/v3/summary/magaper2/metadata").json()
    assert [c.name for c in hsc.meta.columns] == [r["name"] for r in records]
    planner = catalog.planner("rsp")
    assert planner is not None
    assert planner.features.upload  # type: ignore[attr-defined]


def test_a_name_clash_names_both_backends(federation: Federation) -> None:
    twice = [
        BackendConfig(name="rsp", kind="tap", url=federation.rsp),
        BackendConfig(name="rsp_copy", kind="tap", url=federation.rsp),
    ]
    with pytest.raises(CatalogError, match=r"'rsp'.*'rsp_copy'"):
        FederatedCatalog(GatewaySettings(backends=twice))
    twice[1] = BackendConfig(name="rsp_copy", kind="tap", url=federation.rsp, schema_prefix="c_")
    catalog = FederatedCatalog(GatewaySettings(backends=twice))
    assert {"dp1.Object", "c_dp1.Object"} <= set(catalog.table_names())


def test_a_backend_down_at_start_up_is_reported_then_retried(
    demo: DemoData, tmp_path: Path
) -> None:
    sock = reserve_port()  # bound, not listening: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    settings = GatewaySettings(backends=[BackendConfig(name="rsp", kind="tap", url=url)])
    catalog = FederatedCatalog(settings, retry_seconds=0.0)
    (status,) = catalog.statuses()
    assert status.state == "down"
    assert "rsp" in status.message
    assert url in status.message
    assert catalog.lookup(_name("dp1.Object")) is None
    with serve_rsp(demo, tmp_path, sock):
        assert catalog.refresh()
        assert catalog.lookup(_name("dp1.Object")) is not None
        assert catalog.statuses()[0].ok


def test_hsc_down_falls_back_to_the_shipped_metadata() -> None:
    hsc = BackendConfig(name="hsc", kind="hsc", url=dead_url() + "/api/v0.1/hsc")
    catalog = FederatedCatalog(GatewaySettings(backends=[hsc]))
    assert catalog.statuses()[0].state == "degraded"
    table = catalog.lookup(_name("hscv3.summary"))
    assert table is not None
    assert table.meta.columns[0].name == "MatchID"


def test_tables_and_tap_schema_are_served(federation: Federation, tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path, backends=federation.backends())
    with serve_app(build_app(settings), lifespan="on") as url:
        tables = httpx.get(f"{url}/tap/tables", timeout=30)
        assert tables.status_code == 200
        for name in ("hscv3.summary", "dp1.Object", "rsp_sia.obscore", "sdss_dr16.specobj"):
            assert f"<name>{name}</name>".encode() in tables.content
        query = "SELECT table_name FROM TAP_SCHEMA.tables ORDER BY table_name"
        answer = httpx.post(
            f"{url}/tap/sync",
            data={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        listed = set(answer.text.split()[1:])
        assert {"hscv3.summary", "dp1.Object", "sdss_dr16.specobj"} <= listed
        explain = httpx.get(
            f"{url}/tap/explain", params={"QUERY": "SELECT TOP 3 * FROM dp1.Object"}, timeout=30
        )
        assert explain.status_code == 200
        assert explain.json()["plan"].startswith("Plan: Pushdown")
        translated = httpx.post(
            f"{url}/tap/translate", data={"query": "SELECT TOP 3 * FROM dp1.Object"}, timeout=30
        ).json()
        assert translated["fragments"][0]["backend"] == "rsp"
        assert set(translated) == {"fragments", "local_sql"}
