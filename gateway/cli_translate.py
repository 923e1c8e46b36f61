"""The ``translate`` and ``to-adql`` subcommands of ``adql-gateway``.

``translate [--config F] [--backend NAME] [--dialect D] QUERY`` prints DESIGN.md's JSON;
``to-adql --from hsc|sia|spectral [--table T] PARAMS`` prints the ADQL a backend request
stands for (PARAMS: a query string, or a JSON object such as the HSC notebooks' dicts).
Exit codes: 0 ok, 1 invalid query or parameters (message with line/column on stderr),
2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gateway import cli
from gateway.builtin_catalog import builtin_planners, configured_planners
from gateway.translate import translate
from grammar.errors import AdqlError
from grammar.nodes import Query
from grammar.params import params_to_query
from grammar.printer import to_adql
from planners.spectral_reverse import spectral_params_to_query

if TYPE_CHECKING:
    from collections.abc import Callable


def _translate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="gateway TOML file (default: public services)")
    parser.add_argument("--backend", help="force this backend instead of routing by table")
    parser.add_argument(
        "--dialect",
        choices=["duckdb", "postgres", "sqlite"],
        default=None,
        help="SQL dialect of local_sql (default duckdb); for tables no backend serves, "
        "the whole query is translated to this dialect",
    )
    parser.add_argument("query", metavar="QUERY", help="ADQL text, or - to read standard input")


def _translate_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        planners = configured_planners(args.config) if args.config else builtin_planners()
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.config}: {exc}", file=err)
        return cli.EXIT_USAGE
    try:
        result = translate(
            cli.read_query(args.query), planners, backend=args.backend, dialect=args.dialect
        )
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    print(json.dumps(result.to_json(), indent=2), file=out)
    return cli.EXIT_OK


def _to_adql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, choices=["hsc", "sia", "spectral"])
    parser.add_argument("--table", help="table name (hsc: default hscv3.summary)")
    parser.add_argument("params", metavar="PARAMS", help="query string or JSON object, or -")


def _read_params(text: str) -> str | dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith("{"):
        value = json.loads(stripped)
        if not isinstance(value, dict):
            msg = "PARAMS must be a JSON object"
            raise ValueError(msg)
        return value
    return stripped


def _sia(params: str | dict[str, Any], table: str | None) -> Query:
    try:
        module = importlib.import_module("planners.sia")
    except ImportError as exc:
        msg = f"SIA translation is not available in this build ({exc})"
        raise ValueError(msg) from exc
    convert: Callable[..., Query] | None = getattr(module, "sia_params_to_query", None)
    if convert is None:
        msg = "SIA translation is not available in this build (planners.sia_params_to_query)"
        raise ValueError(msg)
    return convert(params, table) if table else convert(params)


def _to_adql_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        params = _read_params(cli.read_query(args.params))
        if args.source == "hsc":
            query = params_to_query(params, args.table or "hscv3.summary")
        elif args.source == "spectral":
            query = spectral_params_to_query(params)
        else:
            query = _sia(params, args.table)
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    except ValueError as exc:  # JSON errors, a missing SIA translator
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    print(to_adql(query), file=out)
    return cli.EXIT_OK


def register() -> None:
    """Add the subcommands to ``gateway.cli`` (idempotent)."""
    for command in (
        cli.Command(
            "translate",
            "show the backend requests and local SQL of a query",
            _translate_arguments,
            _translate_run,
        ),
        cli.Command(
            "to-adql",
            "print the ADQL equivalent of a backend request",
            _to_adql_arguments,
            _to_adql_run,
        ),
    ):
        if command.name not in cli.COMMANDS:
            cli.register(command)


register()
