"""The ``adql-gateway`` console script.

Subcommands live in :data:`COMMANDS`, a registry of :class:`Command` values; a module adds one
with :func:`register` (name, help text, a function that adds its arguments, and the function
that runs it), so ``translate``, ``explain``, ``serve`` and ``demo`` can be written in their own
modules without touching this one. Exit codes: 0 success, 1 invalid input (the error on
stderr), 2 usage errors (argparse).

``parse`` needs only the core install (the parser); the other commands need the ``server``
extra. Without it, a command whose module needs it is left out of the parser and one that
imports its dependencies when it runs stops there; either way the user is told which extra to
install instead of seeing a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from gateway.optional_deps import missing_dependency, server_extra_message
from grammar import AdqlError, parse, to_adql

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

DISTRIBUTION = "adql-gateway"
"""The distribution name whose metadata gives ``--version``."""

COMMAND_MODULES = (
    "gateway.cli.demo",
    "gateway.cli.explain",
    "gateway.cli.query",
    "gateway.cli.serve",
    "gateway.cli.translate",
    "gateway.cli.worker",
)
"""Modules that register the subcommands beyond ``parse``, imported by :func:`main` so that
``import gateway.cli`` stays light."""


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


def package_version() -> str:
    """The installed version of adql-gateway, or ``0+unknown`` outside an installation."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        # A source tree put on sys.path by hand has no distribution metadata to read.
        return "0+unknown"


def load_commands() -> list[str]:
    """Import :data:`COMMAND_MODULES`; the third-party modules that kept some from loading."""
    missing: list[str] = []
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            module = missing_dependency(exc)
            if module is None:
                raise
            missing.append(module)
    return missing


def build_parser(missing: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand.

    ``missing`` names the modules that kept commands from loading; the help then says how to
    get them.
    """
    parser = argparse.ArgumentParser(
        prog="adql-gateway",
        description="ADQL compiler and TAP federation gateway for astronomy services.",
        epilog=server_extra_message("every command but parse", missing[0]) if missing else None,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
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
    argv = sys.argv[1:] if argv is None else list(argv)
    # A command this module registers (parse) needs none of the others: skipping their
    # imports keeps the server's modules out of ``adql-gateway parse`` (0.1 s, not 0.7 s).
    missing = [] if argv and argv[0] in COMMANDS else load_commands()
    parser = build_parser(missing)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        if code != EXIT_OK and missing:
            # Most likely a command of the server extra asked for on a core install.
            sys.stderr.write(server_extra_message("every command but parse", missing[0]) + "\n")
        return code
    try:
        return COMMANDS[args.command].run(args, sys.stdout, sys.stderr)
    except ModuleNotFoundError as exc:
        # A command that imports its dependencies only when it runs (serve, worker, ...).
        module = missing_dependency(exc)
        if module is None:
            raise
        feature = f"adql-gateway {args.command}"
        sys.stderr.write(f"error: {server_extra_message(feature, module)}\n")
        return EXIT_INVALID
