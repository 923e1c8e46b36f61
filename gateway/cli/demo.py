"""``adql-gateway demo``: run the demo federation on loopback (see :mod:`standins.demo.runner`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway import cli
from gateway.log_setup import add_log_level_argument, configure_logging
from standins.demo.supervisor import DEFAULT_MAX_RESTARTS, DEFAULT_RESTART_DELAY, RestartPolicy


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
        help="keep configuration files, logs and job data here (default: a new directory "
        "under demo-runs beside the demo data; it is kept after the demo stops)",
    )
    parser.add_argument(
        "--restart-delay",
        type=float,
        default=DEFAULT_RESTART_DELAY,
        help="seconds before a dead service is restarted (doubling per attempt; default "
        "%(default)s)",
    )
    parser.add_argument(
        "--max-restarts",
        type=int,
        default=DEFAULT_MAX_RESTARTS,
        help="restarts of a dead service before it is left down (default %(default)s)",
    )
    parser.add_argument(
        "--no-gateway",
        action="store_true",
        help="start the backends only and print the federation configuration path",
    )
    add_log_level_argument(parser)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the demo pulls in httpx and the data generators.
    from standins.demo.runner import DemoOptions, run_demo  # noqa: PLC0415

    if args.restart_delay < 0 or args.max_restarts < 0:
        print("error: --restart-delay and --max-restarts must not be negative", file=err)
        return 2
    options = DemoOptions(
        port=args.port,
        data_dir=args.data,
        run_dir=args.run_dir,
        gateway=not args.no_gateway,
        restart=RestartPolicy(max_restarts=args.max_restarts, first_delay=args.restart_delay),
        log_level=args.log_level,
    )
    configure_logging(args.log_level)
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
