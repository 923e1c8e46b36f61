"""``adql-gateway demo``: run the demo federation on loopback (see :mod:`gateway.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway import cli


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port of the TAP gateway")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="demo data directory (default $ADQL_GATEWAY_DATA or ~/.cache/adql-gateway/demo-v1)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="keep configuration files, logs and job data here (default: a temporary "
        "directory removed at the end)",
    )
    parser.add_argument(
        "--no-gateway",
        action="store_true",
        help="start the backends only and print the federation configuration path",
    )


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the demo pulls in httpx and the data generators.
    from gateway.demo import DemoOptions, run_demo  # noqa: PLC0415

    options = DemoOptions(
        port=args.port, data_dir=args.data, run_dir=args.run_dir, gateway=not args.no_gateway
    )
    return run_demo(options, out, err)


def register() -> None:
    """Add ``demo`` to the registry of ``gateway.cli`` (idempotent)."""
    command = cli.Command(
        name="demo",
        help="run the demo federation (stand-ins, rsp TAP service, gateway) on 127.0.0.1",
        add_arguments=_arguments,
        run=_run,
    )
    if command.name not in cli.COMMANDS:
        cli.register(command)


register()
