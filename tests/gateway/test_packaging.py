"""Packaging: ``--version``, and what a core install (no ``server`` extra) can and cannot do.

A core install is simulated in a child interpreter whose import system refuses every
third-party module that pyproject's core ``dependencies`` do not provide, so these tests fail
as soon as the parser, the planners or ``adql-gateway parse`` start to need one.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway import cli

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]


def _requirement_name(requirement: str) -> str:
    name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_import_names() -> set[str]:
    """Top-level modules the core dependencies install, from the installed distributions."""
    wanted = {_requirement_name(r) for r in PROJECT["dependencies"]}
    return {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(_requirement_name(d) in wanted for d in dists)
    }


# Installed by the import system of the child before anything of ours is imported: stdlib,
# our packages and the core dependencies load; anything else is "not installed".
CORE_ONLY = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    ALLOWED = set({allowed!r}) | set(sys.stdlib_module_names)

    class CoreOnly(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] not in ALLOWED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, CoreOnly())
    """
)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def run_core_only(code: str) -> subprocess.CompletedProcess[str]:
    allowed = {"grammar", "planners", "gateway", "standins"} | _core_import_names()
    return run_python(CORE_ONLY.format(allowed=sorted(allowed)) + textwrap.dedent(code))


def test_version_option_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"adql-gateway {PROJECT['version']}\n"


def test_version_without_distribution_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert cli.package_version() == "0+unknown"


def test_core_dependencies_leave_out_the_server() -> None:
    core = {_requirement_name(r) for r in PROJECT["dependencies"]}
    assert core == {"lark", "sqlglot", "typing-extensions"}
    extras = PROJECT["optional-dependencies"]
    server = {_requirement_name(r) for r in extras["server"]}
    assert {"fastapi", "duckdb", "httpx", "pyarrow", "uvicorn"} <= server
    # The test suite needs the whole gateway: dev pulls all, which pulls server.
    assert "adql-gateway[all]" in extras["dev"]
    assert "adql-gateway[server,s3]" in extras["all"]
    assert {_requirement_name(r) for r in extras["s3"]} == {"boto3"}


def test_simulated_core_install_refuses_server_modules() -> None:
    # Guards the other tests here: a simulation letting fastapi through would prove nothing.
    result = run_core_only("import fastapi")
    assert result.returncode != 0
    assert "No module named 'fastapi'" in result.stderr


def test_parser_and_planners_need_only_the_core() -> None:
    result = run_core_only(
        """
        import importlib, pkgutil
        import grammar, planners
        for package in (grammar, planners):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(info.name)
        print(grammar.to_adql(grammar.parse("select top 1 ra from t where dec < -30")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SELECT TOP 1 ra FROM t WHERE dec < -30\n"


def test_parse_command_needs_only_the_core() -> None:
    result = run_core_only(
        """
        import sys
        from gateway import cli
        code = cli.main(["parse", "select a from t where b>1"])
        heavy = {"fastapi", "duckdb", "pyvo", "httpx", "pyarrow", "numpy", "pydantic"}
        print(sorted(heavy & {m.partition(".")[0] for m in sys.modules}))
        sys.exit(code)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SELECT a FROM t WHERE b > 1\n[]\n"


def test_parse_command_leaves_the_server_modules_unloaded_on_a_full_install() -> None:
    # With everything installed, parse still starts without the server's imports (speed).
    result = run_python(
        """
        import sys
        from gateway import cli
        code = cli.main(["parse", "select a from t"])
        heavy = {"fastapi", "duckdb", "httpx", "pyarrow", "pydantic", "pydantic_settings"}
        print(sorted(heavy & {m.partition(".")[0] for m in sys.modules}))
        sys.exit(code)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SELECT a FROM t\n[]\n"


def test_syntax_errors_on_the_core_keep_exit_1() -> None:
    result = run_core_only('from gateway import cli; raise SystemExit(cli.main(["parse", "x"]))')
    assert result.returncode == 1
    assert "line 1, column 1" in result.stderr


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["serve", "--config", "gateway.toml"], 1),  # imports its dependencies when it runs
        (["explain", "SELECT a FROM t"], 1),
        (["demo"], 2),  # its module needs them: not offered at all
        (["translate", "SELECT a FROM t"], 2),
    ],
)
def test_server_commands_on_the_core_name_the_extra(args: list[str], exit_code: int) -> None:
    result = run_core_only(f"from gateway import cli; raise SystemExit(cli.main({args!r}))")
    assert result.returncode == exit_code, result.stderr
    assert "needs the server extra" in result.stderr
    assert "pip install 'adql-gateway[server]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_on_the_core_says_how_to_get_the_other_commands() -> None:
    result = run_core_only('from gateway import cli; raise SystemExit(cli.main(["--help"]))')
    assert result.returncode == 0, result.stderr
    assert "parse" in result.stdout
    assert "adql-gateway[server]" in result.stdout


def test_gateway_api_on_the_core_names_the_extra() -> None:
    result = run_core_only(
        """
        import gateway
        try:
            from gateway import Gateway
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gateway.Gateway needs the server extra")
    assert "pip install 'adql-gateway[server]'" in result.stdout


def test_license_file_is_the_declared_licence() -> None:
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n")
    assert "The adql-gateway developers" in text
