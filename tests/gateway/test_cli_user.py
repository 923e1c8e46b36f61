"""``adql-gateway to-adql`` and ``translate`` run as a user runs them: the installed script.

Each test starts ``.venv/bin/adql-gateway`` as a subprocess and checks the exit code (DESIGN.md
"CLI": 0 ok, 1 invalid input, 2 usage), stdout and the message on stderr. ``translate
--config`` reads configuration files written by the demo's own writer
(:mod:`standins.demo.config`); its ``local_sql`` is run in DuckDB over the table's Parquet file
and compared with numpy over the same file, and it must equal what the same configuration's
HTTP ``/translate`` answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import grammar
from gateway.facade import Gateway
from gateway.settings import load_settings
from gateway.tap.serve import build_app
from standins.demo.config import DemoPorts, federation_config, write_config
from tests.live_server import reserve_port, serve_app

pytestmark = pytest.mark.slow  # each test runs the installed script: about 20 s of CPU in all

SCRIPT = Path(sys.executable).with_name("adql-gateway")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def adql(result: subprocess.CompletedProcess[str]) -> str:
    """The printed ADQL, checked to be canonical (it parses and prints back unchanged)."""
    assert result.returncode == 0, result.stderr
    text = result.stdout.strip()
    assert grammar.to_adql(grammar.parse(text)) == text
    return text


# ---------------------------------------------------------------------------- to-adql


def test_script_is_installed() -> None:
    assert SCRIPT.is_file()


def test_sia_with_a_table() -> None:
    done = cli(
        "to-adql", "--from", "sia", "--table", "rsp_sia.obscore", "POS=CIRCLE 53.2 -28.1 0.2"
    )
    assert adql(done) == (
        "SELECT * FROM rsp_sia.obscore WHERE INTERSECTS(s_region, CIRCLE('ICRS', 53.2, -28.1, 0.2))"
        " = 1"
    )
    assert done.stderr == ""


def test_sia_default_table_and_json_lists() -> None:
    done = cli("to-adql", "--from", "sia", '{"CALIB": [2, 3], "MAXREC": 5}')
    assert adql(done) == "SELECT TOP 5 * FROM ivoa.obscore WHERE calib_level IN (2, 3)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "obs core", "POS=CIRCLE 1 2 3"], "'obs core' is not a valid table name"),
        (["FOO=1"], "unknown SIAv2 parameter 'FOO'"),
        (["POS=CIRCLE 1 2"], "POS"),
        (['{"POS": '], "PARAMS is not valid JSON"),
    ],
)
def test_sia_invalid_input_exits_1(args: list[str], message: str) -> None:
    done = cli("to-adql", "--from", "sia", *args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_spectral_cone_is_kept() -> None:
    done = cli("to-adql", "--from", "spectral", "ra=53.2&dec=-28.1&size=0.05&cond=z > 0.5 limit 3")
    assert adql(done) == (
        "SELECT TOP 3 specobjid FROM sdss_dr16.specobj WHERE "
        "CONTAINS(POINT(ra, dec), CIRCLE(53.2, -28.1, 0.05)) = 1 AND z > 0.5"
    )


def test_spectral_radius_polygon_and_json() -> None:
    done = cli("to-adql", "--from", "spectral", '{"ra": 10, "dec": 20, "radius": 0.1, "id": ""}')
    assert "CIRCLE(10, 20, 0.1)" in adql(done)
    done = cli("to-adql", "--from", "spectral", "polygon=[53,-28,54,-28,54,-27]&fields=z")
    assert adql(done) == (
        "SELECT specobjid, z FROM sdss_dr16.specobj WHERE "
        "CONTAINS(POINT(ra, dec), POLYGON(53, -28, 54, -28, 54, -27)) = 1"
    )
    done = cli("to-adql", "--from", "spectral", "--table", "sdss_dr16.specobjall", "fields=z")
    assert adql(done) == "SELECT specobjid, z FROM sdss_dr16.specobjall"


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ("ra=53&dec=-28&size=0.1&colour=red", "colour", "unknown spectral-service parameter"),
        ("ra=53&size=0.1", "dec", "dec is missing"),
        ("ra=53&dec=-28", "size", "size is missing"),
        ("ra=53&dec=north&size=1", "dec", "dec must be a number"),
        ("ra=1&dec=2&size=1&radius=1", "radius", "not both"),
        ("ra=1&dec=2&size=-1", "size", "must not be negative"),
        ("polygon=[1,2,3]", "polygon", "three or more"),
        ("catalog=sdss dr16.specobj", "catalog", "not a valid table name"),
    ],
)
def test_spectral_invalid_parameters_exit_1_naming_them(
    params: str, key: str, message: str
) -> None:
    done = cli("to-adql", "--from", "spectral", params)
    assert done.returncode == 1
    assert done.stdout == ""
    assert message in done.stderr
    assert f"(parameter '{key}')" in done.stderr


def test_usage_errors_exit_2() -> None:
    assert cli("to-adql", "--from", "vizier", "a=1").returncode == 2
    assert cli("to-adql", "ra=1").returncode == 2
    assert cli("translate", "--config").returncode == 2


# ---------------------------------------------------------------------------- translate --config

N = 500


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    rng = np.random.default_rng(9)
    table = pa.table(
        {
            "objectId": np.arange(N, dtype=np.int64) * 7 + 1000,
            "coord_ra": rng.uniform(52.5, 54.0, N),
            "coord_dec": rng.uniform(-28.6, -27.6, N),
            "r_mag": rng.uniform(17, 25, N),
        }
    )
    path = tmp_path_factory.mktemp("objects") / "object.parquet"
    pq.write_table(table, path)
    return path, table


@pytest.fixture(scope="module")
def local_config(objects: tuple[Path, pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration of the demo's ``rsp`` shape (one local backend), by the demo's writer."""
    run_dir = tmp_path_factory.mktemp("rsp")
    doc = {
        "service": {"base_url": "http://127.0.0.1:9/tap", "data_dir": run_dir / "jobs"},
        "backends": [
            {
                "name": "rsp",
                "kind": "local",
                "tables": [
                    {
                        "name": "dp1.Object",
                        "path": objects[0],
                        "description": "objects",
                        "columns": {"coord_ra": {"unit": "deg", "ucd": "pos.eq.ra;meta.main"}},
                    }
                ],
            }
        ],
    }
    return write_config(run_dir / "rsp.toml", doc)


@pytest.fixture(scope="module")
def federation_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's federation configuration, its backends on ports where nothing listens."""
    run_dir = tmp_path_factory.mktemp("federation")
    socks = [reserve_port() for _ in range(5)]
    ports = DemoPorts(*(s.getsockname()[1] for s in socks))
    for sock in socks:
        sock.close()
    return write_config(run_dir / "federation.toml", federation_config(ports, run_dir))


def translated(config: Path, query: str) -> dict[str, Any]:
    done = cli("translate", "--config", str(config), query)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert set(data) == {"fragments", "local_sql"}
    return data


LOCAL_QUERY = (
    "SELECT TOP 20 objectId, r_mag FROM dp1.Object "
    "WHERE r_mag < 21 AND 1 = CONTAINS(POINT(coord_ra, coord_dec), CIRCLE(53.2, -28.1, 0.3)) "
    "ORDER BY r_mag"
)


def test_local_sql_of_a_local_table_runs_in_duckdb(
    local_config: Path, objects: tuple[Path, pa.Table]
) -> None:
    data = translated(local_config, LOCAL_QUERY)
    assert data["fragments"] == []
    sql = data["local_sql"]
    assert isinstance(sql, str)
    assert sql.startswith("SELECT ")
    assert "LIMIT 20" in sql  # DuckDB SQL, not ADQL
    path, table = objects
    con = duckdb.connect()
    con.execute("CREATE SCHEMA dp1")
    con.execute(f"CREATE VIEW dp1.\"Object\" AS SELECT * FROM read_parquet('{path}')")
    got = con.execute(sql).fetchall()
    # Oracle: numpy haversine over the same file.
    ra, dec = (np.radians(table.column(c).to_numpy()) for c in ("coord_ra", "coord_dec"))
    ra0, dec0 = np.radians(53.2), np.radians(-28.1)
    hav = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
    inside = 2 * np.degrees(np.arcsin(np.sqrt(hav))) <= 0.3
    mag = table.column("r_mag").to_numpy()
    keep = np.flatnonzero(inside & (mag < 21))
    order = keep[np.argsort(mag[keep])][:20]
    ids = table.column("objectId").to_numpy()
    assert len(order) > 5
    assert [r[0] for r in got] == ids[order].tolist()


def test_translate_federation_config_of_the_demo(federation_toml: Path) -> None:
    load_settings(federation_toml)  # the demo's writer checked it; so do we
    query = (
        "SELECT TOP 3 MatchID FROM hscv3.summary WHERE CI > 1 AND NumImages <> 2 ORDER BY MatchID"
    )
    data = translated(federation_toml, query)
    (fragment,) = data["fragments"]
    assert fragment["backend"] == "hsc"
    assert fragment["residual"] == "NumImages <> 2"
    assert "LIMIT 3" in str(data["local_sql"])
    spectral = "SELECT TOP 5 specobjid, z FROM sdss_dr16.specobj WHERE z > 0.5 ORDER BY z"
    data = translated(federation_toml, spectral)
    assert data["local_sql"] is None  # the spectral service answers the whole query
    (fragment,) = data["fragments"]
    (request,) = fragment["requests"]
    assert ["cond", "z > 0.5 order by z limit 5"] in request["params"]


def test_translate_config_errors(tmp_path: Path) -> None:
    done = cli("translate", "--config", str(tmp_path / "missing.toml"), "SELECT a FROM t")
    assert done.returncode == 1  # invalid input, as for serve and explain
    assert "cannot read" in done.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[[backends]]\nname = 'x'\nkind = 'nonsense'\n", encoding="utf-8")
    done = cli("translate", "--config", str(broken), "SELECT a FROM t")
    assert done.returncode == 1
    assert "invalid configuration" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def served(local_config: Path) -> Iterator[str]:
    sock = reserve_port()
    with serve_app(build_app(load_settings(local_config)), sock=sock, lifespan="on") as url:
        yield url + "/tap"


@pytest.mark.integration
def test_cli_and_http_translate_agree(local_config: Path, served: str) -> None:
    """``local_sql`` has one meaning: the CLI prints what ``/translate`` answers."""
    for query in (LOCAL_QUERY, "SELECT COUNT(*) FROM dp1.Object AS o JOIN dp1.Object AS p"):
        over_http = httpx.post(served + "/translate", data={"QUERY": query}, timeout=30)
        assert over_http.status_code == 200
        assert over_http.json() == translated(local_config, query)
    explained = httpx.get(served + "/explain", params={"QUERY": LOCAL_QUERY}, timeout=30).json()
    assert explained["local_sql"] == translated(local_config, LOCAL_QUERY)["local_sql"]
    with Gateway.from_config(local_config) as gw:
        assert gw.translate_json(LOCAL_QUERY) == translated(local_config, LOCAL_QUERY)
