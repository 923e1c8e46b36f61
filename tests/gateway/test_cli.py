"""The ``adql-gateway`` console script: the ``parse`` subcommand and the registry."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_parse_prints_canonical_adql() -> None:
    result = run("parse", "select top 5  a,b from t where x>1 and not y = 'z'")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SELECT TOP 5 a, b FROM t WHERE x > 1 AND NOT y = 'z'\n"
    assert result.stderr == ""


def test_parse_reads_stdin() -> None:
    result = run("parse", "-", stdin="SELECT *\nFROM hscv3.summary\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SELECT * FROM hscv3.summary\n"


def test_parse_syntax_error_exits_1_with_position() -> None:
    result = run("parse", "SELECT a FORM t")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "line 1, column" in result.stderr
    assert "^" in result.stderr


@pytest.mark.parametrize("args", [(), ("parse",), ("nosuchcommand", "x"), ("parse", "a", "b")])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["parse", "SELECT a FROM t ORDER BY a ASC"]) == 0
    out, err = capsys.readouterr()
    assert out == "SELECT a FROM t ORDER BY a\n"
    assert err == ""


def test_in_process_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["parse", "SELECT FROM t"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ")
    assert "line 1, column 8" in err


def test_in_process_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("select a from t"))
    assert cli.main(["parse", "-"]) == 0
    assert capsys.readouterr().out == "SELECT a FROM t\n"


def test_in_process_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "parse" in capsys.readouterr().out


def test_registry_is_extensible(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("word")

    def echo(args: argparse.Namespace, out, err) -> int:
        print(args.word.upper(), file=out)
        return 0

    cli.register(cli.Command("echo", "say it louder", add, echo))
    assert cli.main(["echo", "hi"]) == 0
    assert capsys.readouterr().out == "HI\n"
    with pytest.raises(ValueError, match="already registered"):
        cli.register(cli.Command("echo", "again", add, echo))
