"""The federated query service over the real stand-ins and a second gateway (TAP backend).

Answers are checked against independent computations: numpy filters and astropy
``search_around_sky`` over the demo Parquet files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord, angular_separation
from typing_extensions import override

from gateway.errors import BackendError, ResourceLimitError
from gateway.federation.explain import explain_plan
from gateway.federation.planner import Plan
from gateway.federation.service import FederatedQueryService, declared_table
from gateway.federation.xmatch import FederationOptions
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.query.cancellation import Cancellation
from gateway.query.options import RunOptions
from gateway.settings import GatewaySettings
from gateway.tap.serve import build_app
from gateway.tap.uploads import UploadedTable
from grammar import parse
from grammar.nodes import Query
from planners.sql_catalog import ColumnInfo
from standins.data import DemoData, ensure_demo_data
from tests.gateway.conftest import read_votable, resource_sequence
from tests.gateway.federation_servers import ECDFS, Federation, dead_url, run_federation
from tests.gateway.service_runs import run_query
from tests.live_server import serve_app

pytestmark = pytest.mark.integration

RADIUS = 1.0 / 3600  # 1 arcsec cross-match


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return ensure_demo_data()


@pytest.fixture(scope="module")
def federation(demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with run_federation(demo, tmp_path_factory.mktemp("rsp")) as fed:
        yield fed


@pytest.fixture(scope="module")
def service(federation: Federation) -> FederatedQueryService:
    return FederatedQueryService(GatewaySettings(backends=federation.backends()))


def run(
    svc: FederatedQueryService, adql: str, uploads: dict[str, UploadedTable] | None = None
) -> pa.Table:
    return run_query(svc, adql, uploads=uploads)[0]


def load(demo: DemoData, name: str, columns: list[str]) -> dict[str, np.ndarray]:
    table = pq.read_table(demo.tables()[name], columns=columns)
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in columns}


def in_cone(ra: np.ndarray, dec: np.ndarray, cone: tuple[float, float, float]) -> np.ndarray:
    centre = SkyCoord(cone[0] * u.deg, cone[1] * u.deg)
    mask: np.ndarray = SkyCoord(ra * u.deg, dec * u.deg).separation(centre).deg <= cone[2]
    return mask


def pairs(
    a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], radius: float
) -> set[tuple[int, int]]:
    """(a id, b id) of every pair closer than ``radius`` deg (astropy separations)."""
    order = np.argsort(b[2])
    b_dec = b[2][order]
    out = set()
    for i in range(len(a[0])):
        lo, hi = np.searchsorted(b_dec, [a[2][i] - radius, a[2][i] + radius])
        if lo == hi:
            continue
        idx = order[lo:hi]
        sep = angular_separation(
            np.radians(a[1][i]), np.radians(a[2][i]), np.radians(b[1][idx]), np.radians(b[2][idx])
        )
        out |= {(int(a[0][i]), int(b[0][j])) for j in idx[np.degrees(sep) < radius]}
    return out


CONE = "CONTAINS(POINT({ra}, {dec}), CIRCLE(53.2, -28.1, 0.3)) = 1"


def test_single_backend_queries_equal_numpy(service: FederatedQueryService, demo: DemoData) -> None:
    hsc = load(demo, "hscv3.summary", ["MatchID", "MatchRA", "MatchDec", "NumImages"])
    mask = in_cone(hsc["MatchRA"], hsc["MatchDec"], ECDFS) & (hsc["NumImages"] > 5)
    got = run(
        service,
        "SELECT MatchID FROM hscv3.summary WHERE "
        + CONE.format(ra="MatchRA", dec="MatchDec")
        + " AND NumImages > 5",
    )
    assert sorted(got.column("MatchID").to_pylist()) == sorted(hsc["MatchID"][mask].tolist())
    spec = load(demo, "sdss_dr16.specobj", ["specobjid", "ra", "dec", "z"])
    mask = in_cone(spec["ra"], spec["dec"], ECDFS) & (spec["z"] > 0.1)
    got = run(
        service,
        "SELECT specobjid FROM sdss_dr16.specobj WHERE " + CONE.format(ra="ra", dec="dec")
        + " AND z > 0.1",
    )  # fmt: skip
    # Ids are the unsigned numbers SDSS publishes, also above 2**63.
    assert sorted(got.column("specobjid").to_pylist()) == sorted(spec["specobjid"][mask].tolist())
    dp1 = load(demo, "dp1.Object", ["objectId", "g_cModelMag"])
    got = run(service, "SELECT COUNT(*) AS n FROM dp1.Object WHERE g_cModelMag < 22")
    assert got.column("n").to_pylist() == [int(np.sum(dp1["g_cModelMag"] < 22))]


@pytest.mark.parametrize("strategy", ["auto", "BindJoin"])
def test_hsc_x_spectra_cross_match(federation: Federation, demo: DemoData, strategy: str) -> None:
    options = FederationOptions(strategy=strategy, bind_max_rows=100_000, bind_cluster_deg=0.08)  # type: ignore[arg-type]
    service = FederatedQueryService(GatewaySettings(backends=federation.backends()), options)
    adql = (
        "SELECT h.MatchID, s.specobjid FROM hscv3.summary AS h JOIN sdss_dr16.specobj AS s "
        f"ON CONTAINS(POINT(s.ra, s.dec), CIRCLE(h.MatchRA, h.MatchDec, {RADIUS})) = 1 "
        "WHERE " + CONE.format(ra="h.MatchRA", dec="h.MatchDec")
    )
    plan = service.plan(parse(adql))
    spec_scan = next(s for s in plan.scans if s.ref.label == "s")
    assert spec_scan.depends is not None  # spectra restricted by the HSC side
    got, result = run_query(service, adql)
    (choice,) = [i for i in result.infos if i[0] == "JOIN_STRATEGY"]
    assert choice[1] == ("s: LocalJoin" if strategy == "auto" else "s: BindJoin")
    hsc = load(demo, "hscv3.summary", ["MatchID", "MatchRA", "MatchDec"])
    keep = in_cone(hsc["MatchRA"], hsc["MatchDec"], ECDFS)
    spec = load(demo, "sdss_dr16.specobj", ["specobjid", "ra", "dec"])
    expected = pairs(
        (hsc["MatchID"][keep], hsc["MatchRA"][keep], hsc["MatchDec"][keep]),
        (spec["specobjid"], spec["ra"], spec["dec"]),
        RADIUS,
    )
    found = set(
        zip(got.column("MatchID").to_pylist(), got.column("specobjid").to_pylist(), strict=True)
    )
    assert expected
    assert found == expected
    assert got.num_rows == len(expected)


@pytest.mark.parametrize("strategy", ["auto", "UploadJoin"])
def test_dp1_x_hsc_cross_match(federation: Federation, demo: DemoData, strategy: str) -> None:
    options = FederationOptions(
        strategy=strategy,  # type: ignore[arg-type]
        upload_block_rows=500,
        bind_max_rows=100_000,
        bind_cluster_deg=0.08,
    )
    svc = FederatedQueryService(GatewaySettings(backends=federation.backends()), options)
    adql = (
        "SELECT o.objectId, h.MatchID, o.* FROM hscv3.summary AS h, dp1.Object AS o "
        f"WHERE DISTANCE(POINT(o.coord_ra, o.coord_dec), POINT(h.MatchRA, h.MatchDec)) < {RADIUS}"
        " AND " + CONE.format(ra="h.MatchRA", dec="h.MatchDec")
    )
    got, result = run_query(svc, adql)
    strategies = [i for i in result.infos if i[0] == "JOIN_STRATEGY"]
    assert not any(name.startswith("__fed") for name in got.column_names)
    assert len(strategies) == 1
    if strategy in {"UploadJoin", "BindJoin"}:
        assert strategies[0][1].endswith(strategy)
    hsc = load(demo, "hscv3.summary", ["MatchID", "MatchRA", "MatchDec"])
    keep = in_cone(hsc["MatchRA"], hsc["MatchDec"], ECDFS)
    dp1 = load(demo, "dp1.Object", ["objectId", "coord_ra", "coord_dec"])
    expected = pairs(
        (dp1["objectId"], dp1["coord_ra"], dp1["coord_dec"]),
        (hsc["MatchID"][keep], hsc["MatchRA"][keep], hsc["MatchDec"][keep]),
        RADIUS,
    )
    found = set(zip(got.column(0).to_pylist(), got.column(1).to_pylist(), strict=True))
    assert expected
    assert found == expected
    assert got.num_rows == len(expected)


UPLOAD_JOIN = (
    "SELECT m.id, o.objectId FROM TAP_UPLOAD.mine AS m JOIN dp1.Object AS o "
    f"ON CONTAINS(POINT(o.coord_ra, o.coord_dec), CIRCLE(m.ra, m.dec, {RADIUS})) = 1"
)


def dp1_upload_case(
    demo: DemoData, every: int
) -> tuple[dict[str, np.ndarray], dict[str, UploadedTable], set[tuple[int, int]]]:
    """Every ``every``-th DP1 object as an upload ``mine``, and the pairs it must match."""
    dp1 = load(demo, "dp1.Object", ["objectId", "coord_ra", "coord_dec"])
    picks = np.arange(0, len(dp1["objectId"]), every)
    mine = pa.table(
        {"id": np.arange(picks.size), "ra": dp1["coord_ra"][picks], "dec": dp1["coord_dec"][picks]}
    )
    metas = tuple(column_meta_from_arrow(f) for f in mine.schema)
    expected = pairs(
        (np.arange(picks.size), dp1["coord_ra"][picks], dp1["coord_dec"][picks]),
        (dp1["objectId"], dp1["coord_ra"], dp1["coord_dec"]),
        RADIUS,
    )
    return dp1, {"mine": UploadedTable("mine", metas, mine)}, expected


def test_user_upload_x_dp1_goes_as_upload_join(
    service: FederatedQueryService, demo: DemoData
) -> None:
    _, uploads, expected = dp1_upload_case(demo, every=997)
    plan = service.plan(parse(UPLOAD_JOIN), uploads=uploads)
    text = explain_plan(plan)
    assert plan.mode == "pushdown"
    assert "UploadJoin: TAP_UPLOAD.mine" in text
    got = run(service, UPLOAD_JOIN, uploads=uploads)
    found = set(zip(got.column("id").to_pylist(), got.column("objectId").to_pylist(), strict=True))
    assert found == expected


class _Federated(FederatedQueryService):
    """Never pushes a whole query to one backend, so join strategies can be exercised."""

    @override
    def plan(
        self,
        query: Query,
        *,
        uploads: Mapping[str, UploadedTable] | None = None,
        options: RunOptions | None = None,
        federate: bool = False,
    ) -> Plan:
        return super().plan(query, uploads=uploads, options=options, federate=True)


def test_forced_upload_join_with_a_user_upload_as_the_outer_side(
    federation: Federation, demo: DemoData
) -> None:
    _, uploads, expected = dp1_upload_case(demo, every=1999)
    options = FederationOptions(strategy="UploadJoin")
    service = _Federated(GatewaySettings(backends=federation.backends()), options)
    got = run(service, UPLOAD_JOIN, uploads=uploads)
    found = set(zip(got.column("id").to_pylist(), got.column("objectId").to_pylist(), strict=True))
    assert expected
    assert found == expected


def test_an_unrestricted_federated_cross_match_is_refused(service: FederatedQueryService) -> None:
    adql = (
        "SELECT o.objectId, h.MatchID FROM dp1.Object AS o JOIN hscv3.summary AS h "
        f"ON DISTANCE(POINT(o.coord_ra, o.coord_dec), POINT(h.MatchRA, h.MatchDec)) < {RADIUS}"
    )
    with pytest.raises(ValueError, match="XMATCH_ALLSKY"):
        service.plan(parse(adql))
    assert service.plan(parse(adql), options=RunOptions(allow_allsky=True)).mode == "federated"


def test_partial_returns_the_healthy_part(
    federation: Federation, tmp_path: Path, demo: DemoData
) -> None:
    settings = GatewaySettings(
        data_dir=tmp_path, backends=federation.backends(spec=dead_url() + "/spec")
    )
    adql = (
        "SELECT h.MatchID, s.specobjid FROM hscv3.summary AS h LEFT OUTER JOIN "
        "sdss_dr16.specobj AS s "
        f"ON CONTAINS(POINT(s.ra, s.dec), CIRCLE(h.MatchRA, h.MatchDec, {RADIUS})) = 1 "
        "WHERE " + CONE.format(ra="h.MatchRA", dec="h.MatchDec")
    )
    hsc = load(demo, "hscv3.summary", ["MatchID", "MatchRA", "MatchDec"])
    expected = int(in_cone(hsc["MatchRA"], hsc["MatchDec"], ECDFS).sum())
    with serve_app(build_app(settings), lifespan="on") as url:
        failed = httpx.post(f"{url}/tap/sync", data={"LANG": "ADQL", "QUERY": adql}, timeout=60)
        assert failed.status_code >= 500
        assert b"spec" in failed.content
        answer = httpx.post(
            f"{url}/tap/sync",
            data={"LANG": "ADQL", "QUERY": adql, "PARTIAL": "true", "RUNID": "r42"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        table = read_votable(answer.content)
        assert len(table) == expected
        # Ids are char text (VOTable has no unsigned long); astropy reads a NULL one as "".
        assert set(np.ma.filled(table["specobjid"], "").tolist()) == {""}
        infos = [
            (t, v, text)
            for t, v, text in resource_sequence(answer.content)
            if t == "INFO:BACKEND_ERROR"
        ]
        assert len(infos) == 1
        assert infos[0][1] == "spec"
        assert "backend 'spec' failed" in infos[0][2]
        assert "127.0.0.1" not in infos[0][2]  # backend URLs are internal: logs only


def test_backend_error_names_the_backend(federation: Federation) -> None:
    svc = FederatedQueryService(
        GatewaySettings(backends=federation.backends(spec=dead_url() + "/spec"))
    )
    with pytest.raises(BackendError, match="backend 'spec'"):
        run(svc, "SELECT TOP 1 * FROM sdss_dr16.specobj")


def test_cancellation_stops_the_fetch(service: FederatedQueryService) -> None:
    cancellation = Cancellation()
    cancellation.cancel()
    with pytest.raises(ResourceLimitError, match="cancelled"):
        run_query(service, "SELECT * FROM hscv3.summary", maxrec=10, cancellation=cancellation)
    # A fetch in flight: a wide HSC box in the dense SMC field takes seconds to page through.
    cancellation = Cancellation()
    timer = threading.Timer(0.2, cancellation.cancel)
    started = time.monotonic()
    timer.start()
    with pytest.raises(ResourceLimitError):
        run_query(
            service,
            "SELECT * FROM hscv3.summary AS h, sdss_dr16.specobj AS s "
            "WHERE h.MatchDec BETWEEN -74 AND -71 AND h.MatchRA BETWEEN 10 AND 16",
            maxrec=10,
            cancellation=cancellation,
        )
    assert time.monotonic() - started < 10


def test_gateway_facade(federation: Federation, tmp_path: Path) -> None:
    import asyncio  # noqa: PLC0415

    from gateway import Gateway  # noqa: PLC0415

    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[[backends]]\nname = "rsp"\nkind = "tap"\nurl = "{federation.rsp}"\n'
        f'[[backends]]\nname = "spec"\nkind = "spectral"\nurl = "{federation.spec}"\n'
    )
    adql = "SELECT TOP 5 objectId FROM dp1.Object ORDER BY objectId"
    with Gateway.from_config(config) as gw:
        assert gw.translate(adql).to_json()["fragments"][0]["backend"] == "rsp"  # type: ignore[index]
        assert gw.explain(adql).startswith("Plan: Pushdown")
        result = asyncio.run(gw.execute(adql, maxrec=3))
    assert result.table.num_rows == 3
    assert result.overflow


@pytest.mark.parametrize(
    ("hint", "expected"), [(1e8, "BindJoin"), (10.0, "LocalJoin"), (None, None)]
)
def test_cone_only_inner_strategy_follows_density(
    federation: Federation, demo: DemoData, hint: float | None, expected: str | None
) -> None:
    """Dense inner side, few outer rows: one small cone each; sparse: the derived cone whole.

    Without a hint the density comes from the first bind cone; the answer never changes.
    """
    backends = [
        b.model_copy(update={"density_hint": hint}) if b.kind == "hsc" else b
        for b in federation.backends()
    ]
    options = FederationOptions(bind_cluster_deg=0.01)
    service = FederatedQueryService(GatewaySettings(backends=backends), options)
    adql = (
        "SELECT s.specobjid, h.MatchID FROM sdss_dr16.specobj AS s JOIN hscv3.summary AS h "
        f"ON CONTAINS(POINT(h.MatchRA, h.MatchDec), CIRCLE(s.ra, s.dec, {RADIUS})) = 1 "
        "WHERE CONTAINS(POINT(s.ra, s.dec), CIRCLE(53.2, -28.1, 0.05)) = 1"
    )
    plan = service.plan(parse(adql))
    assert next(s for s in plan.scans if s.ref.label == "h").depends is not None
    got, result = run_query(service, adql)
    (choice,) = [i for i in result.infos if i[0] == "JOIN_STRATEGY"]
    if expected is not None:
        assert choice[1] == f"h: {expected}", choice[2]
        assert '"density_source": "backend density_hint"' in choice[2]
        assert "local_rows_est" in choice[2]
    spec = load(demo, "sdss_dr16.specobj", ["specobjid", "ra", "dec"])
    keep = in_cone(spec["ra"], spec["dec"], (53.2, -28.1, 0.05))
    hsc = load(demo, "hscv3.summary", ["MatchID", "MatchRA", "MatchDec"])
    wanted = pairs(
        (spec["specobjid"][keep], spec["ra"][keep], spec["dec"][keep]),
        (hsc["MatchID"], hsc["MatchRA"], hsc["MatchDec"]),
        RADIUS,
    )
    found = set(
        zip(got.column("specobjid").to_pylist(), got.column("MatchID").to_pylist(), strict=True)
    )
    assert wanted
    assert found == wanted
    assert got.num_rows == len(wanted)


def test_declared_table_keeps_chunks_of_the_declared_type() -> None:
    """Fetched rows already of the catalogue's type are not copied (a big answer is chunked)."""
    parts = [
        pa.table({"a": pa.array([1, 2], pa.int64())}),
        pa.table({"a": pa.array([3], pa.int64())}),
    ]
    table = pa.concat_tables(parts)
    kept, _ = declared_table(table, (), (ColumnInfo("a", "long"),))
    assert kept.column("a").num_chunks == 2
    for got, given in zip(kept.column("a").chunks, table.column("a").chunks, strict=True):
        assert got.buffers()[1].address == given.buffers()[1].address
    cast, metas = declared_table(table, (), (ColumnInfo("a", "int"),))
    assert cast.column("a").type == pa.int32()
    assert cast.column("a").to_pylist() == [1, 2, 3]
    assert metas[0].datatype == "int"
