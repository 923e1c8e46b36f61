"""``adql-gateway serve``: run the TAP service for a configuration file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from gateway.cli import EXIT_INVALID, EXIT_OK, Command, register
from gateway.log_setup import add_log_level_argument


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration (backends, limits)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    add_log_level_argument(parser)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: the server stack is heavy and other subcommands do not need it.
    from pydantic import ValidationError  # noqa: PLC0415

    from gateway.tap.serve import serve  # noqa: PLC0415

    if args.config is not None and not args.config.is_file():
        print(f"error: no configuration file {args.config}", file=err)
        return EXIT_INVALID
    try:
        print(f"serving TAP on http://{args.host}:{args.port}/tap", file=out, flush=True)
        serve(args.config, args.host, args.port, args.log_level)
    except (ValidationError, ValueError) as exc:
        print(f"error: invalid configuration: {exc}", file=err)
        return EXIT_INVALID
    return EXIT_OK


register(
    Command(
        name="serve",
        help="serve the configured backends as a TAP 1.1 service",
        add_arguments=_arguments,
        run=_run,
    )
)
