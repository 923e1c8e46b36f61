"""The ``translate`` and ``to-adql`` subcommands of ``adql-gateway``.

``translate [--config F] [--backend NAME] [--dialect D] QUERY`` prints DESIGN.md's JSON.
With ``--config`` it plans the query as the configured gateway does (every backend kind,
joins across backends) and prints exactly what that gateway's ``/translate`` answers;
``local_sql`` is, everywhere, the SQL the local engine runs (DuckDB unless ``--dialect``) or
null. Without ``--config`` (or with ``--backend``) it routes a single-table query to the
public services' planners. ``to-adql --from hsc|sia|spectral [--table T] PARAMS`` prints the
ADQL a backend request stands for (PARAMS: a query string, or a JSON object such as the HSC
notebooks' dicts). Exit codes: 0 ok, 1 invalid input: query, parameters or configuration
file (message on stderr, with line/column for ADQL), as ``serve`` and ``explain``; 2 usage
(argparse).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from gateway import cli
from gateway.federation.builtin_catalog import builtin_planners, configured_planners
from gateway.kinds.registry import all_kinds, kind_for
from gateway.settings import GatewaySettings, load_settings
from gateway.translate import translate
from grammar.errors import AdqlError
from grammar.parser import parse
from grammar.printer import to_adql


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


def _load_settings(config: Path, err: TextIO) -> GatewaySettings | int:
    """The settings of ``config``, or the exit code after reporting why they cannot be had."""
    try:
        return load_settings(config)
    except OSError as exc:
        print(f"error: cannot read {config}: {exc.strerror or exc}", file=err)
        return cli.EXIT_INVALID
    except ValueError as exc:  # TOML syntax and pydantic validation errors
        print(f"error: invalid configuration {config}: {exc}", file=err)
        return cli.EXIT_INVALID


def _translate_configured(args: argparse.Namespace, text: str, out: TextIO, err: TextIO) -> int:
    """Plan as the configured gateway does; print what its ``/translate`` answers."""
    from gateway.federation.plan_sql import plan_json  # noqa: PLC0415
    from gateway.federation.service import FederatedQueryService  # noqa: PLC0415 - heavy
    from gateway.query.options import RunOptions  # noqa: PLC0415

    settings = _load_settings(args.config, err)
    if isinstance(settings, int):
        return settings
    try:
        service = FederatedQueryService(settings)
    except (OSError, ValueError) as exc:  # e.g. two backends claiming one table name
        print(f"error: cannot use configuration {args.config}: {exc}", file=err)
        return cli.EXIT_INVALID
    # Nothing is fetched: a whole-table fetch a run would refuse is still translated.
    opt_in = RunOptions(fetch_whole=True)
    try:
        plan = service.plan(parse(text), options=opt_in)
        result = plan_json(plan, service.catalog, args.dialect or "duckdb")
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    print(json.dumps(result, indent=2), file=out)
    return cli.EXIT_OK


def _translate_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text = cli.read_query(args.query)
    if args.config is not None and args.backend is None:
        return _translate_configured(args, text, out, err)
    if args.config is not None:
        settings = _load_settings(args.config, err)
        if isinstance(settings, int):
            return settings
        planners = configured_planners(settings)
    else:
        planners = builtin_planners()
    try:
        result = translate(text, planners, backend=args.backend, dialect=args.dialect)
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    print(json.dumps(result.to_json(), indent=2), file=out)
    return cli.EXIT_OK


def _to_adql_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = [k for k in all_kinds() if k.reverse_table is not None]
    parser.add_argument("--from", dest="source", required=True, choices=[k.name for k in kinds])
    defaults = ", ".join(f"{k.name} {k.reverse_table}" for k in kinds)
    parser.add_argument("--table", help=f"table name (defaults: {defaults})")
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


def _to_adql_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        params = _read_params(cli.read_query(args.params))
        query = kind_for(args.source).params_to_query(params, args.table)
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    except ValueError as exc:  # malformed JSON
        print(f"error: PARAMS is not valid JSON: {exc}", file=err)
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
