"""Settings files: relative paths mean the same wherever the gateway is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import load_settings

CONFIG = """
[service]
data_dir = "{data_dir}"

[[backends]]
name = "local"
kind = "local"
[[backends.tables]]
name = "demo.stars"
path = "tables/stars.parquet"
"""


def _write(directory: Path, data_dir: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text(CONFIG.format(data_dir=data_dir))
    return path


def test_relative_data_dir_and_table_paths_follow_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path / "conf", "state/jobs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("ADQL_GATEWAY_DATA_DIR", raising=False)
    settings = load_settings(Path("../conf/gateway.toml"))
    root = config.parent.resolve()
    assert settings.data_dir == root / "state" / "jobs"
    assert settings.backends[0].tables[0].path == root / "tables" / "stars.parquet"


def test_absolute_data_dir_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADQL_GATEWAY_DATA_DIR", raising=False)
    target = tmp_path / "absolute"
    settings = load_settings(_write(tmp_path / "conf", str(target)))
    assert settings.data_dir == target


def test_environment_data_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADQL_GATEWAY_DATA_DIR", str(tmp_path / "from-env"))
    settings = load_settings(_write(tmp_path / "conf", "state"))
    assert settings.data_dir == tmp_path / "from-env"
