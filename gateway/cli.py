"""The ``adql-gateway`` console script.

Subcommands live in :data:`COMMANDS`, a registry of :class:`Command` values; a module adds one
with :func:`register` (name, help text, a function that adds its arguments, and the function
that runs it), so ``translate``, ``explain``, ``serve`` and ``demo`` can be written in their own
modules without touching this one. Exit codes: 0 success, 1 invalid input (the error on
stderr), 2 usage errors (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from grammar import AdqlError, parse, to_adql

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: how to declare its arguments and how to run it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    """Runs with the parsed arguments, stdout and stderr; returns the exit code."""


COMMANDS: dict[str, Command] = {}
"""Registered subcommands by name, in registration order."""


def register(command: Command) -> Command:
    """Add a subcommand to :data:`COMMANDS` (a name can be registered once)."""
    if command.name in COMMANDS:
        msg = f"subcommand {command.name!r} is already registered"
        raise ValueError(msg)
    COMMANDS[command.name] = command
    return command


def read_query(argument: str) -> str:
    """The query text: the argument itself, or standard input when it is ``-``."""
    return sys.stdin.read() if argument == "-" else argument


def _parse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="ADQL text, or - to read standard input")


def _parse_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        text = to_adql(parse(read_query(args.query)))
    except AdqlError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    print(text, file=out)
    return EXIT_OK


register(
    Command(
        name="parse",
        help="check an ADQL query and print it in canonical form",
        add_arguments=_parse_arguments,
        run=_parse_run,
    )
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="adql-gateway",
        description="ADQL compiler and TAP federation gateway for astronomy services.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script.

    Parameters
    ----------
    argv
        The arguments after the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit code: 0 on success, 1 on invalid input, 2 on usage errors.
    """
    import gateway.cli_demo  # noqa: PLC0415 - registers demo
    import gateway.cli_explain  # noqa: PLC0415 - registers explain
    import gateway.cli_serve  # noqa: PLC0415 - registers serve
    import gateway.cli_translate  # noqa: PLC0415 - registers translate and to-adql
    import gateway.cli_worker  # noqa: F401, PLC0415 - registers worker

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return COMMANDS[args.command].run(args, sys.stdout, sys.stderr)


if __name__ == "__main__":
    # Under ``python -m gateway.cli`` this file runs as ``__main__``, a second copy of the
    # module; the command modules register into ``gateway.cli``, so run that copy's main.
    from gateway.cli import main as registered_main

    raise SystemExit(registered_main())
