"""``adql-gateway translate`` and ``to-adql``: in process and as a subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import cli
from gateway.federation.builtin_catalog import builtin_planners, configured_planners
from gateway.translate import translate

QUERY = "SELECT TOP 3 MatchID FROM hscv3.summary WHERE CI > 1 AND NumImages <> 2 ORDER BY MatchID"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    sys_stdout, sys_stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(list(args))
    finally:
        sys.stdout, sys.stderr = sys_stdout, sys_stderr
    return code, out.getvalue(), err.getvalue()


def test_translate_json_shape() -> None:
    code, out, _ = run("translate", QUERY)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"fragments", "local_sql"}
    (fragment,) = data["fragments"]
    assert set(fragment) == {"backend", "kind", "requests", "residual"}
    assert fragment["backend"] == "hsc"
    assert fragment["residual"] == "NumImages <> 2"
    (request,) = fragment["requests"]
    assert set(request) == {"method", "url", "params"}
    assert request["url"].startswith("https://catalogs.mast.stsci.edu/api/v0.1/hsc/v3/")
    assert ["CI.gt", "1"] in request["params"]
    assert "LIMIT 3" in data["local_sql"]


def test_translate_dialect_and_backend_options() -> None:
    code, out, _ = run("translate", "--dialect", "postgres", QUERY)
    assert code == 0
    assert json.loads(out)["local_sql"]
    code, _, err = run("translate", "--backend", "spec", QUERY)
    assert code == 1
    assert "hscv3.summary" in err


def test_translate_errors_and_usage() -> None:
    code, _, err = run("translate", "SELECT FROM hscv3.summary")
    assert code == 1
    assert "line 1" in err
    code, _, err = run("translate", "SELECT nope FROM hscv3.summary")
    assert code == 1
    assert "column 8" in err
    code, _, _ = run("translate", "--dialect", "oracle", QUERY)
    assert code == 2


def test_to_adql_hsc_and_spectral() -> None:
    code, out, _ = run("to-adql", "--from", "hsc", '{"MatchDec.gt": -74.3, "CI.lt": 1.6}')
    assert code == 0
    assert out.strip() == "SELECT * FROM hscv3.summary WHERE MatchDec > -74.3 AND CI < 1.6"
    code, out, _ = run("to-adql", "--from", "spectral", "fields=specobjid,z&cond=z+>+1+limit+2")
    assert code == 0
    assert out.strip() == "SELECT TOP 2 specobjid, z FROM sdss_dr16.specobj WHERE z > 1"
    code, _, err = run("to-adql", "--from", "spectral", "cond=z+>>+1")
    assert code == 1
    assert err


def test_config_file_replaces_the_public_services(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        '[[backends]]\nname = "myhsc"\nkind = "hsc"\nurl = "http://127.0.0.1:9/api/v0.1/hsc"\n',
        encoding="utf-8",
    )
    planners = configured_planners(config)
    assert list(planners) == ["myhsc"]
    result = translate(QUERY, planners)
    assert result.fragments[0].requests[0].url.startswith("http://127.0.0.1:9/api/v0.1/hsc/v3/")
    code, out, _ = run("translate", "--config", str(config), QUERY)
    assert code == 0
    assert json.loads(out)["fragments"][0]["backend"] == "myhsc"


def test_spectral_query_is_final() -> None:
    text = "SELECT TOP 5 specobjid, z FROM sdss_dr16.specobj WHERE z > 2 ORDER BY z"
    assert translate(text, builtin_planners()).local_sql is None


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["translate", QUERY], 0),
        (["translate", "SELECT"], 1),
        (["translate"], 2),
        (["to-adql", "--from", "hsc", "CI.lt=1.6"], 0),
    ],
)
def test_subprocess(args: list[str], code: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == code, done.stderr
    if code == 0 and args[0] == "translate":
        assert json.loads(done.stdout)["fragments"]


def test_whole_fetch_is_translated_and_explained_not_refused(tmp_path: Path) -> None:
    """translate and explain fetch nothing: a fetch a run would refuse is shown, with why."""
    config = tmp_path / "gw.toml"
    config.write_text(
        '[[backends]]\nname = "hsc"\nkind = "hsc"\nurl = "http://127.0.0.1:9/api/v0.1/hsc"\n'
        'table_rows = { "*" = 5000000 }\n',
        encoding="utf-8",
    )
    whole = "SELECT COUNT(*) AS n FROM hscv3.summary WHERE MatchRA * 2 > 1"
    code, out, err = run("translate", "--config", str(config), whole)
    assert code == 0, err
    assert json.loads(out)["fragments"][0]["residual"] == "MatchRA * 2 > 1"
    code, out, err = run("explain", "--config", str(config), whole)
    assert code == 0, err
    assert "about 5,000,000 rows" in out
    assert "refused unless it comes with FETCH_WHOLE=true" in out
