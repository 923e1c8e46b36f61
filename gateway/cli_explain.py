"""``adql-gateway explain [--config F] QUERY``: print the federated plan tree of a query.

Without ``--config`` the plan targets the public services (HSC at MAST, the Data Lab spectral
service), as ``translate`` does. Exit codes: 0 ok, 1 invalid query or configuration, 2 usage.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway import cli


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="gateway TOML file (default: public services)")
    parser.add_argument("query", metavar="QUERY", help="ADQL text, or - to read standard input")


def _settings(config: Path | None) -> object:
    from gateway.settings import BackendConfig, GatewaySettings, load_settings  # noqa: PLC0415
    from planners.hsc import DEFAULT_BASE_URL as HSC_URL  # noqa: PLC0415
    from planners.spectral import DEFAULT_BASE_URL as SPEC_URL  # noqa: PLC0415

    if config is not None:
        return load_settings(config)
    return GatewaySettings(
        backends=[
            BackendConfig(name="hsc", kind="hsc", url=HSC_URL, timeout_seconds=5),
            BackendConfig(
                name="spec", kind="spectral", url=SPEC_URL, context="sdss_dr16", timeout_seconds=5
            ),
        ]
    )


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the federation stack is heavy and other subcommands do not need it.
    from gateway.explain import explain_plan  # noqa: PLC0415
    from gateway.federated_service import FederatedQueryService  # noqa: PLC0415
    from gateway.run_options import RunOptions  # noqa: PLC0415
    from gateway.settings import GatewaySettings  # noqa: PLC0415
    from grammar.errors import AdqlError  # noqa: PLC0415
    from grammar.parser import parse  # noqa: PLC0415

    try:
        settings = _settings(args.config)
        assert isinstance(settings, GatewaySettings)
        service = FederatedQueryService(settings)
    except (OSError, ValueError) as exc:
        print(f"error: cannot use configuration {args.config}: {exc}", file=err)
        return cli.EXIT_INVALID
    try:
        # Nothing is fetched: plan with the opt-in, the text says what a run would refuse.
        opt_in = RunOptions(fetch_whole=True)
        plan = service.plan(parse(cli.read_query(args.query)), options=opt_in)
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return cli.EXIT_INVALID
    finally:
        service.close()
    print(explain_plan(plan, options=service.options), file=out)
    return cli.EXIT_OK


if "explain" not in cli.COMMANDS:
    cli.register(cli.Command("explain", "print the federated plan of a query", _arguments, _run))
