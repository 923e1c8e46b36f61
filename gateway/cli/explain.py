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
    from gateway.kinds.registry import all_kinds  # noqa: PLC0415
    from gateway.settings import GatewaySettings, load_settings  # noqa: PLC0415

    if config is not None:
        return load_settings(config)
    # The public services the kinds name (as translate uses), answering quickly or not at all.
    public = [b for b in (k.public_backend() for k in all_kinds()) if b is not None]
    return GatewaySettings(backends=[b.model_copy(update={"timeout_seconds": 5}) for b in public])


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the federation stack is heavy and other subcommands do not need it.
    from gateway.federation.explain import explain_plan  # noqa: PLC0415
    from gateway.federation.service import FederatedQueryService  # noqa: PLC0415
    from gateway.query.options import RunOptions  # noqa: PLC0415
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
    print(explain_plan(plan, options=service.options), file=out)
    return cli.EXIT_OK


if "explain" not in cli.COMMANDS:
    cli.register(cli.Command("explain", "print the federated plan of a query", _arguments, _run))
