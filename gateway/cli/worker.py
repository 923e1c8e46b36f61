"""``adql-gateway worker``: execute async jobs taken from the Redis queue of a configuration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway.cli import EXIT_INVALID, EXIT_OK, Command, register
from gateway.log_setup import add_log_level_argument


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML configuration; the same file the gateway replicas serve (needs redis_url "
        "and, for several machines, job_database_url)",
    )
    add_log_level_argument(parser)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the worker stack is heavy and other subcommands do not need it.
    from pydantic import ValidationError  # noqa: PLC0415

    from gateway.tap.serve import run_worker_for  # noqa: PLC0415

    if args.config is not None and not args.config.is_file():
        print(f"error: no configuration file {args.config}", file=err)
        return EXIT_INVALID
    try:
        print("worker started; Ctrl-C or SIGTERM stops it", file=out, flush=True)
        run_worker_for(args.config, args.log_level)
    except (ValidationError, ValueError) as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_INVALID
    return EXIT_OK


register(
    Command(
        name="worker",
        help="run async jobs from the configured Redis queue (scale-out)",
        add_arguments=_arguments,
        run=_run,
    )
)
