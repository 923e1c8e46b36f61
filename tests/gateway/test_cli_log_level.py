"""``--log-level`` of serve, demo and worker: the query lines appear at info, not at warning."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway import cli
from gateway.log_setup import configure_logging, uvicorn_log_level
from gateway.query.log import LOGGER_NAME
from standins.demo.runner import serve_command
from tests.gateway.conftest import make_stars, write_config, write_stars
from tests.live_server import reserve_port, wait_until_available

REPO = Path(__file__).resolve().parents[2]


def serve_and_query(tmp_path: Path, level: str) -> str:
    """Run ``adql-gateway serve --log-level level``, send one query, stop it; its stderr."""
    tmp_path.mkdir()
    write_stars(make_stars(), tmp_path / "stars.parquet")
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()  # the child binds it
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    command = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)]
    command += ["--port", str(port), "--log-level", level]
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            url = f"http://127.0.0.1:{port}/tap"
            wait_until_available(process, url, log.read_text)
            query = {"LANG": "ADQL", "QUERY": "SELECT TOP 3 id FROM demo.stars"}
            assert httpx.post(f"{url}/sync", data=query, timeout=30).status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
    return log.read_text()


@pytest.mark.integration
def test_serve_logs_query_lines_at_info(tmp_path: Path) -> None:
    shown = serve_and_query(tmp_path / "info", "info")
    assert " INFO adql_gateway.query query kind=sync " in shown
    assert " rows=3 " in shown


def test_configured_level_decides_whether_query_lines_are_written() -> None:
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    try:
        configure_logging("warning")
        assert not logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)
        configure_logging("info")
        assert logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.mark.parametrize("command", ["serve", "demo", "worker"])
def test_log_level_is_an_option_with_known_levels(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([command, "--help"]) == 0
    assert "--log-level {debug,info,warning,error}" in capsys.readouterr().out
    assert cli.main([command, "--log-level", "loud"]) == 2
    assert "invalid choice: 'loud'" in capsys.readouterr().err


def test_demo_gateways_run_at_the_demo_level() -> None:
    command = serve_command(Path("f.toml"), 8123, "debug")
    assert command[command.index("--log-level") + 1] == "debug"


@pytest.mark.parametrize(
    ("level", "uvicorn"),
    [("debug", "debug"), ("info", "warning"), ("warning", "warning"), ("error", "error")],
)
def test_uvicorn_stays_quiet_unless_debugging(level: str, uvicorn: str) -> None:
    assert uvicorn_log_level(level) == uvicorn
