"""GAVO DaCHS as a real, external TAP backend of the gateway.

DaCHS 2.7 (Debian ``gavodachs2-server``) runs on 127.0.0.1, installed and started by
``tests/install_dachs.sh`` (``tests/install_system_tools.sh`` calls it in CI, as root), and
serves the deterministic catalogue of ``tests/dachs/``: ``fedtest.stars`` (3000 rows, pgSphere
position index) and ``fedtest.fields``. The gateway federates it as the ``tap`` backend
``dachs`` next to a ``local`` backend of our own (``loc.targets``).

Every gateway answer is compared with an independent computation: the same ADQL sent to DaCHS
directly with pyvo, or an astropy brute-force cross-match over the whole DaCHS table.

When DaCHS is not running, this module starts it through ``install_dachs.sh`` (root only).
If that is impossible the tests fail in CI (``CI=true``) and are skipped elsewhere, with the
reason either way.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy.coordinates import angular_separation
from astropy.table import Table

from gateway.errors import BackendError
from gateway.federation.executor import Executor
from gateway.federation.explain import explain_plan
from gateway.federation.service import FederatedQueryService
from gateway.federation.xmatch import FederationOptions
from gateway.formats.arrow_types import column_meta_from_arrow
from gateway.settings import BackendConfig, GatewaySettings, LocalTable
from gateway.tap.serve import build_app
from gateway.tap.uploads import UploadedTable
from grammar import parse
from planners.base import BackendRequest
from tests.gateway.service_runs import run_query
from tests.live_server import reserve_port, serve_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTALLER = Path(__file__).resolve().parents[1] / "install_dachs.sh"
PORT = os.environ.get("DACHS_PORT", "8089")
DACHS_URL = f"http://127.0.0.1:{PORT}/tap"
RADIUS = 2.0 / 3600  # cross-match radius, deg
CONE = "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.1, 2.2, 0.3))"


# ---------------------------------------------------------------------- the DaCHS server


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/availability", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False


def _unavailable(reason: str) -> None:
    """Fail in CI (DaCHS is part of the CI set-up), skip elsewhere."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"DaCHS test backend unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"DaCHS test backend unavailable: {reason}")


def _start_dachs() -> None:
    """Install/start DaCHS with the project's script; calls _unavailable on failure."""
    if os.geteuid() != 0:
        _unavailable(f"nothing answers at {DACHS_URL}, and {INSTALLER.name} needs root")
    if shutil.which("apt-get") is None:
        _unavailable(f"nothing answers at {DACHS_URL}, and {INSTALLER.name} needs Debian's apt")
    try:
        done = subprocess.run(
            ["/bin/bash", str(INSTALLER)],
            env={**os.environ, "DACHS_PORT": PORT},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"{INSTALLER.name} did not finish within 900 s")
        return
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        _unavailable(f"{INSTALLER.name} failed (exit {done.returncode}):\n{tail}")
    if not _answers(DACHS_URL):
        _unavailable(f"{INSTALLER.name} succeeded but {DACHS_URL}/availability does not answer")


@pytest.fixture(scope="module")
def dachs_url() -> str:
    if not _answers(DACHS_URL):
        _start_dachs()
    return DACHS_URL


@pytest.fixture(scope="module")
def direct(dachs_url: str) -> pyvo.dal.TAPService:
    """DaCHS itself, through pyvo: the independent side of every comparison."""
    return pyvo.dal.TAPService(dachs_url)


def query_direct(svc: pyvo.dal.TAPService, adql: str, **kwargs: object) -> Table:
    with warnings.catch_warnings():
        # astropy's VOTable parser comments on DaCHS's (valid) output; not our business here.
        warnings.simplefilter("ignore")
        return svc.search(adql, **kwargs).to_table()


@pytest.fixture(scope="module")
def all_stars(direct: pyvo.dal.TAPService) -> Table:
    stars = query_direct(
        direct, "SELECT id, ra, dec FROM fedtest.stars ORDER BY id", maxrec=100_000
    )
    assert len(stars) == 3000
    return stars


# ---------------------------------------------------------------------- the gateway


@pytest.fixture(scope="module")
def targets(all_stars: Table, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """Our own positions near DaCHS stars: every 25th star moved by up to 1.5 arcsec, plus
    points that match nothing; deterministic."""
    rng = np.random.default_rng(11)
    picks = np.asarray(all_stars["id"])[::25] - 1
    ra = np.asarray(all_stars["ra"], dtype=float)[picks]
    dec = np.asarray(all_stars["dec"], dtype=float)[picks]
    offset = rng.uniform(-1.0, 1.0, (2, picks.size)) * 1.5 / 3600 / np.sqrt(2)
    ra = (ra + offset[0] / np.cos(np.radians(dec))) % 360.0
    dec = dec + offset[1]
    lone_ra, lone_dec = rng.uniform(0, 360, 30), rng.uniform(-60, 60, 30)
    return pa.table(
        {
            "tid": pa.array(np.arange(picks.size + 30) + 1000, pa.int64()),
            "ra": np.concatenate([ra, lone_ra]),
            "dec": np.concatenate([dec, lone_dec]),
        }
    )


@pytest.fixture(scope="module")
def targets_file(targets: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("targets") / "targets.parquet"
    pq.write_table(targets, path)
    return path


@pytest.fixture(scope="module")
def peer(targets_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway serving ``loc.targets`` over TAP: another remote backend."""
    sock = reserve_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/tap"
    peer_settings = GatewaySettings(
        base_url=base,
        data_dir=tmp_path_factory.mktemp("peer"),
        backends=[
            BackendConfig(
                name="loc", kind="local", tables=[LocalTable(name="loc.targets", path=targets_file)]
            )
        ],
    )
    with serve_app(build_app(peer_settings), sock=sock, lifespan="on"):
        yield base


@pytest.fixture(scope="module")
def settings(
    dachs_url: str, peer: str, targets_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> GatewaySettings:
    return GatewaySettings(
        data_dir=tmp_path_factory.mktemp("dachs-gw"),
        backends=[
            BackendConfig(name="dachs", kind="tap", url=dachs_url, timeout_seconds=60),
            # the peer's loc.targets appears as peer_loc.targets
            BackendConfig(
                name="peer", kind="tap", url=peer, schema_prefix="peer_", timeout_seconds=60
            ),
            BackendConfig(
                name="loc", kind="local", tables=[LocalTable(name="loc.targets", path=targets_file)]
            ),
        ],
    )


@pytest.fixture(scope="module")
def service(settings: GatewaySettings) -> FederatedQueryService:
    return FederatedQueryService(settings)


def run(
    svc: FederatedQueryService, adql: str, uploads: dict[str, UploadedTable] | None = None
) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    table, result = run_query(svc, adql, uploads=uploads)
    return table, list(result.infos)


def rows(table: pa.Table | Table, columns: list[str]) -> list[tuple[object, ...]]:
    """Rows as tuples, floats rounded (float32 magnitudes travel as such both ways)."""
    out = []
    data = [
        table.column(c).to_pylist() if isinstance(table, pa.Table) else list(table[c])
        for c in columns
    ]
    for row in zip(*data, strict=True):
        cells: list[object] = []
        for value in row:
            if value is None or (isinstance(value, np.ma.core.MaskedConstant)):
                cells.append(None)
            elif isinstance(value, float | np.floating):
                cells.append(None if np.isnan(value) else round(float(value), 5))
            elif isinstance(value, np.integer):
                cells.append(int(value))
            elif isinstance(value, bytes):
                cells.append(value.decode())
            else:
                cells.append(value)
        out.append(tuple(cells))
    return out


def brute_pairs(
    left: tuple[np.ndarray, np.ndarray, np.ndarray], stars: Table, radius: float
) -> set[tuple[int, int]]:
    """(left id, star id) of every pair within ``radius`` deg: astropy separations of all
    left x all stars (a few hundred thousand pairs)."""
    ra = np.radians(np.asarray(stars["ra"], dtype=float))
    dec = np.radians(np.asarray(stars["dec"], dtype=float))
    ids = np.asarray(stars["id"])
    sep = angular_separation(
        np.radians(left[1])[:, None], np.radians(left[2])[:, None], ra[None, :], dec[None, :]
    )
    ia, ib = np.nonzero(np.degrees(sep) < radius)
    return {(int(left[0][i]), int(ids[j])) for i, j in zip(ia, ib, strict=True)}


# ---------------------------------------------------------------------- (1) catalogue


def test_catalogue_lists_dachs_tables(
    service: FederatedQueryService, direct: pyvo.dal.TAPService
) -> None:
    status = {s.name: s for s in service.catalog.statuses()}["dachs"]
    assert status.ok, status.message
    names = {n.lower() for n in service.catalog.table_names()}
    assert {"fedtest.stars", "fedtest.fields", "loc.targets"} <= names
    # DaCHS's own TAP_SCHEMA is not federated: the gateway answers TAP_SCHEMA itself.
    assert not any(n.startswith("tap_schema.") for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        remote = {t.name.lower(): t for t in direct.tables}
    assert {"fedtest.stars", "fedtest.fields"} <= set(remote)
    stars = next(t for t in service.catalog.tables() if t.meta.table_name == "fedtest.stars")
    assert stars.backend.name == "dachs"
    ours = {c.name: c for c in stars.meta.columns}
    theirs = {c.name: c for c in remote["fedtest.stars"].columns}
    assert list(ours) == ["id", "ra", "dec", "gmag", "rmag", "imag", "otype"]
    assert set(ours) == set(theirs)
    for name, column in ours.items():
        assert column.unit == (theirs[name].unit or None), name
        assert column.ucd == theirs[name].ucd, name
    assert ours["ra"].datatype == "double"
    assert ours["gmag"].datatype == "float"
    assert ours["id"].datatype == "long"
    # The position is indexed (pgSphere), and DaCHS says so in /tables.
    assert ours["ra"].indexed


# ---------------------------------------------------------------------- (2) pushdown


@pytest.mark.parametrize(
    ("adql", "columns"),
    [
        (
            f"SELECT id, ra, dec, gmag, imag FROM fedtest.stars WHERE {CONE} AND gmag < 19 ORDER BY id",
            ["id", "ra", "dec", "gmag", "imag"],
        ),
        (
            (
                "SELECT otype, COUNT(*) AS n, COUNT(imag) AS with_i, MIN(gmag) AS gmin "
                "FROM fedtest.stars GROUP BY otype ORDER BY otype"
            ),
            ["otype", "n", "with_i", "gmin"],
        ),
        (
            (
                "SELECT TOP 7 f.name, s.id, s.gmag FROM fedtest.fields AS f "
                "JOIN fedtest.stars AS s ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), "
                "CIRCLE('ICRS', f.ra, f.dec, f.radius)) WHERE s.gmag < 15 ORDER BY s.gmag, s.id"
            ),
            ["name", "id", "gmag"],
        ),
    ],
    ids=["cone", "aggregate", "join-of-two-dachs-tables"],
)
def test_single_backend_queries_are_pushed_whole(
    service: FederatedQueryService, direct: pyvo.dal.TAPService, adql: str, columns: list[str]
) -> None:
    plan = service.plan(parse(adql))
    assert plan.mode == "pushdown"
    text = explain_plan(plan)
    assert "Fetch [dachs (tap)]" in text
    assert plan.fragment is not None
    (request,) = plan.fragment.requests
    assert request.url == DACHS_URL + "/sync"
    got, _ = run(service, adql)
    expected = query_direct(direct, adql)
    assert len(expected) > 0
    assert got.column_names == columns
    assert rows(got, columns) == rows(expected, columns)


def test_unaliased_count_has_the_right_value(
    service: FederatedQueryService, direct: pyvo.dal.TAPService
) -> None:
    """DaCHS invents a (random) name for an unaliased COUNT(*); the value still comes through."""
    adql = f"SELECT COUNT(*) FROM fedtest.stars WHERE {CONE}"
    expected = query_direct(direct, adql)
    got, _ = run(service, adql)
    assert got.num_rows == 1
    assert got.num_columns == 1
    assert got.column(0).to_pylist() == [int(expected[expected.colnames[0]][0])]


def test_unaliased_expressions_get_the_gateways_names(service: FederatedQueryService) -> None:
    got, _ = run(service, "SELECT COUNT(*), MAX(gmag) FROM fedtest.stars")
    assert got.column_names == ["count", "max"]


# ---------------------------------------------------------------------- (3) UploadJoin


def test_user_upload_join_runs_on_dachs(
    service: FederatedQueryService, targets: pa.Table, all_stars: Table
) -> None:
    mine = targets.rename_columns(["mid", "ra", "dec"])
    uploads = {
        "mine": UploadedTable("mine", tuple(column_meta_from_arrow(f) for f in mine.schema), mine)
    }
    adql = (
        "SELECT m.mid, s.id FROM TAP_UPLOAD.mine AS m JOIN fedtest.stars AS s "
        f"ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', m.ra, m.dec, {RADIUS}))"
    )
    plan = service.plan(parse(adql), uploads=uploads)
    assert plan.mode == "pushdown"
    assert plan.fragment is not None
    assert plan.fragment.backend == "dachs"
    assert "UploadJoin: TAP_UPLOAD.mine" in explain_plan(plan)
    got, _ = run(service, adql, uploads)
    expected = brute_pairs(
        (
            mine.column("mid").to_numpy(),
            mine.column("ra").to_numpy(),
            mine.column("dec").to_numpy(),
        ),
        all_stars,
        RADIUS,
    )
    assert len(expected) >= 100
    found = list(zip(got.column("mid").to_pylist(), got.column("id").to_pylist(), strict=True))
    assert len(found) == len(set(found))
    assert set(found) == expected


FIELD = "1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', 150.1, 2.2, 1.0))"


@pytest.mark.parametrize("strategy", ["UploadJoin", "auto"])
def test_cross_match_of_another_backend_with_dachs(
    settings: GatewaySettings, targets: pa.Table, all_stars: Table, strategy: str
) -> None:
    """peer_loc.targets (another TAP backend) x fedtest.stars; with UploadJoin the peer's rows
    go to DaCHS as TAP_UPLOAD blocks and DaCHS runs the join."""
    options = FederationOptions(strategy=strategy, upload_block_rows=5)  # type: ignore[arg-type]
    svc = FederatedQueryService(settings, options)
    adql = (
        "SELECT t.tid, s.id, s.gmag FROM peer_loc.targets AS t JOIN fedtest.stars AS s "
        f"ON DISTANCE(POINT('ICRS', t.ra, t.dec), POINT('ICRS', s.ra, s.dec)) < {RADIUS} "
        f"WHERE {FIELD}"
    )
    plan = svc.plan(parse(adql))
    assert plan.mode == "federated"
    star_scan = next(s for s in plan.scans if s.ref.label == "s")
    assert star_scan.backend == "dachs"
    assert star_scan.depends is not None  # restricted by the peer's rows once they are read
    got, infos = run(svc, adql)
    (choice,) = [i for i in infos if i[0] == "JOIN_STRATEGY"]
    if strategy == "UploadJoin":
        assert choice[1] == "s: UploadJoin"
    centre = (np.radians(150.1), np.radians(2.2))
    ra, dec = targets.column("ra").to_numpy(), targets.column("dec").to_numpy()
    inside = np.degrees(angular_separation(np.radians(ra), np.radians(dec), *centre)) <= 1.0
    expected = brute_pairs(
        (targets.column("tid").to_numpy()[inside], ra[inside], dec[inside]), all_stars, RADIUS
    )
    assert len(expected) >= 10
    assert not any(c.startswith("__fed") for c in got.column_names)
    found = list(zip(got.column("tid").to_pylist(), got.column("id").to_pylist(), strict=True))
    assert len(found) == len(set(found))
    assert set(found) == expected


def test_cross_match_of_a_local_table_with_dachs(
    settings: GatewaySettings, targets: pa.Table, all_stars: Table
) -> None:
    svc = FederatedQueryService(settings, FederationOptions(strategy="UploadJoin"))
    adql = (
        "SELECT t.tid, s.id FROM loc.targets AS t JOIN fedtest.stars AS s "
        f"ON DISTANCE(POINT('ICRS', t.ra, t.dec), POINT('ICRS', s.ra, s.dec)) < {RADIUS} "
        f"WHERE {FIELD}"
    )
    got, _ = run(svc, adql)
    assert got.num_rows >= 10


# ---------------------------------------------------------------------- (4) DaCHS quirks


def test_dachs_reports_adql_errors_as_http_200(dachs_url: str) -> None:
    """The quirk itself: a bad query is HTTP 200 with QUERY_STATUS=ERROR in a VOTable."""
    answer = httpx.post(
        f"{dachs_url}/sync",
        data={
            "REQUEST": "doQuery",
            "LANG": "ADQL",
            "QUERY": "SELECT nosuchcolumn FROM fedtest.stars",
        },
        timeout=30,
    )
    assert answer.status_code == 200
    assert b'name="QUERY_STATUS"' in answer.content
    assert b'value="ERROR"' in answer.content


def test_an_error_from_dachs_is_a_backend_error(dachs_url: str, settings: GatewaySettings) -> None:
    """Executor level: the real DaCHS error document becomes a BackendError naming 'dachs'."""
    request = BackendRequest(
        "POST",
        f"{dachs_url}/sync",
        (
            ("REQUEST", "doQuery"),
            ("LANG", "ADQL"),
            ("QUERY", "SELECT nosuchcolumn FROM fedtest.stars"),
            ("RESPONSEFORMAT", "votable"),
        ),
        response_format="votable",
    )

    async def fetch() -> None:
        async with Executor(settings.backends) as executor:
            await executor.fetch("dachs", request)

    with pytest.raises(BackendError) as caught:
        asyncio.run(fetch())
    error = caught.value
    assert error.backend == "dachs"
    assert "backend 'dachs'" in str(error)
    assert "nosuchcolumn" in error.cause.lower()
    assert not error.transient


def test_a_query_dachs_fails_at_run_time_is_a_backend_error(
    service: FederatedQueryService,
) -> None:
    """Service level: valid ADQL that DaCHS's database rejects (division by zero)."""
    adql = "SELECT id, 1 / (id - id) AS q FROM fedtest.stars WHERE id < 3"
    assert service.plan(parse(adql)).mode == "pushdown"
    with pytest.raises(BackendError) as caught:
        run(service, adql)
    assert caught.value.backend == "dachs"
    assert "division by zero" in caught.value.cause.lower()


def test_through_the_gateway_http_api(
    settings: GatewaySettings, direct: pyvo.dal.TAPService
) -> None:
    """A TAP client (pyvo, sync and async) sees through the gateway what DaCHS answers.

    The gateway talks to DaCHS synchronously in both cases (its TAP planner only uses
    ``/sync``); the client's async job is the gateway's own UWS job.
    """
    adql = f"SELECT id, gmag, otype FROM fedtest.stars WHERE {CONE} ORDER BY id"
    expected = rows(query_direct(direct, adql), ["id", "gmag", "otype"])
    sock = reserve_port()
    port = sock.getsockname()[1]
    gw_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}/tap"})
    with serve_app(build_app(gw_settings), sock=sock, lifespan="on") as url:
        gateway = pyvo.dal.TAPService(url + "/tap")
        sync = query_direct(gateway, adql)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            asynchronous = gateway.run_async(adql).to_table()
        bad = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gateway.search("SELECT id, 1 / (id - id) AS q FROM fedtest.stars WHERE id < 3")
            except pyvo.dal.DALQueryError as error:
                bad = str(error)
    assert rows(sync, ["id", "gmag", "otype"]) == expected
    assert rows(asynchronous, ["id", "gmag", "otype"]) == expected
    assert bad is not None
    assert "dachs" in bad
