"""``adql-gateway query``: run ADQL against a TAP service and write the result.

Sync by default (``POST /sync``, the rows streamed to stdout or ``--output``). With
``--async`` the query becomes a UWS job; while it runs, stderr shows its phase and the rows
fetched so far from each backend (this gateway's ``jobInfo``), redrawn on one line on a
terminal and as one plain line per change otherwise (a log file stays readable). Ctrl-C (or
SIGTERM) aborts the job before exiting, so a long federated query does not keep running on
the service.

Exit codes (DESIGN.md "CLI"): 0 success (an OVERFLOW result warns on stderr), 1 when the
service refuses or fails the query (its DALI message, with line and column when it gives
them) or cannot be reached, 2 usage errors, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from gateway.cli import EXIT_INVALID, EXIT_OK, Command, read_query, register

if TYPE_CHECKING:
    from gateway.cli.tap_client import TapClient

DEFAULT_URL = "http://127.0.0.1:8000/tap"
"""The demo's TAP service (``adql-gateway demo``)."""

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells report for a program stopped by Ctrl-C."""

POLL_SECONDS = 1.0
"""UWS ``WAIT`` per job poll: the longest a progress figure lags behind the service."""


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


_OWN_PARAMETERS = frozenset({"LANG", "QUERY", "MAXREC", "RESPONSEFORMAT", "FORMAT", "PHASE"})
"""Request parameters the command sets itself (``--param`` may not repeat them)."""


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    if name.strip().upper() in _OWN_PARAMETERS:
        raise argparse.ArgumentTypeError(f"{name.strip()} is set by the command's own options")
    return name.strip(), value


def _tap_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", type=_tap_url, default=DEFAULT_URL, help=f"TAP service (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="run as a UWS job, with progress on stderr; Ctrl-C aborts the job",
    )
    parser.add_argument("--maxrec", type=_non_negative, help="most rows to return (MAXREC)")
    parser.add_argument(
        "--format",
        help="result format (RESPONSEFORMAT): votable (default), votable/td, csv, tsv, json, "
        "parquet, or a MIME type",
    )
    parser.add_argument(
        "--param",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another request parameter, repeatable (PARTIAL=true, FETCH_WHOLE=true, RUNID=...)",
    )
    parser.add_argument("--output", type=Path, help="write the result to FILE (default stdout)")
    parser.add_argument("query", metavar="QUERY", help="ADQL text, or - to read standard input")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, whatever their inherited setting.

    A program started in the background by a non-interactive shell inherits SIGINT ignored,
    and Python then installs no handler; the job must still be aborted on ``kill -INT``.
    """
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, signal.default_int_handler) for s in stops}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Output:
    """Where the result goes: stdout, or ``FILE`` written whole or not at all."""

    def __init__(self, path: Path | None, out: TextIO) -> None:
        self.path = path
        self.out = out
        self.partial = None if path is None else path.with_name(path.name + ".part")

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The binary stream to write to; a file appears under its name only when complete."""
        if self.partial is None:
            self.out.flush()
            buffer = getattr(self.out, "buffer", None)
            if buffer is not None:
                yield buffer
                buffer.flush()
                return
            # A text-only stream (main() called with a StringIO): hand it the decoded bytes.
            collected = io.BytesIO()
            yield collected
            self.out.write(collected.getvalue().decode("utf-8", "replace"))
            return
        assert self.path is not None
        try:
            with self.partial.open("wb") as sink:
                yield sink
        except BaseException:
            self.partial.unlink(missing_ok=True)
            raise
        self.partial.replace(self.path)


class _Progress:
    """The job's phase and rows fetched per backend, on stderr."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.tty = err.isatty()
        self.last = ""
        self.started = time.monotonic()
        self.drawn = False

    def show(self, phase: str, fetched: dict[str, int]) -> None:
        rows = ", ".join(f"{backend} {count:,} rows" for backend, count in fetched.items())
        text = f"{phase}; fetched {rows}" if rows else phase
        if self.tty:
            elapsed = time.monotonic() - self.started
            print(f"\r\x1b[K{text} ({elapsed:.0f} s)", end="", file=self.err, flush=True)
            self.drawn = True
        elif text != self.last:
            print(text, file=self.err, flush=True)
        self.last = text

    def done(self) -> None:
        if self.drawn:
            print(file=self.err, flush=True)
            self.drawn = False


def _warn_overflow(message: str | None, err: TextIO) -> None:
    if message is not None:
        print(f"warning: result incomplete (QUERY_STATUS=OVERFLOW): {message}", file=err)


def _run_sync(client: TapClient, params: dict[str, str], output: _Output, err: TextIO) -> int:
    from gateway.cli.tap_client import copy_result  # noqa: PLC0415

    with client.sync(params) as response, output.open() as sink:
        overflow = copy_result(response, sink)
    _warn_overflow(overflow, err)
    return EXIT_OK


def _run_async(client: TapClient, params: dict[str, str], output: _Output, err: TextIO) -> int:
    from gateway.cli.tap_client import TapError, copy_result  # noqa: PLC0415

    job = client.submit(params)
    print(f"job {job}", file=err, flush=True)
    progress = _Progress(err)
    try:
        status = client.status(job, 0)
        progress.show(status.phase, status.fetched)
        while not status.finished:
            status = client.status(job, POLL_SECONDS)
            progress.show(status.phase, status.fetched)
    except KeyboardInterrupt:
        progress.done()
        client.abort(job)
        print(f"interrupted: job {job} aborted", file=err, flush=True)
        return EXIT_INTERRUPTED
    progress.done()
    if status.phase == "ERROR":
        raise TapError(client.error(status))
    if status.phase != "COMPLETED":
        msg = f"the job ended in phase {status.phase} ({job})"
        raise TapError(msg)
    with client.result(status) as response, output.open() as sink:
        overflow = copy_result(response, sink)
    _warn_overflow(overflow, err)
    return EXIT_OK


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here: httpx and the client cost start-up time the other commands need not pay.
    import httpx  # noqa: PLC0415

    from gateway.cli.tap_client import TapClient, TapError  # noqa: PLC0415

    query = read_query(args.query)
    params = {"LANG": "ADQL", "QUERY": query, **dict(args.param)}
    if args.maxrec is not None:
        params["MAXREC"] = str(args.maxrec)
    if args.format:
        params["RESPONSEFORMAT"] = args.format
    output = _Output(args.output, out)
    if args.output is not None and not args.output.parent.is_dir():
        print(f"error: no directory {args.output.parent} for --output", file=err)
        return EXIT_INVALID
    # No read timeout: a query may run as long as the service allows; Ctrl-C ends the wait.
    timeout = httpx.Timeout(30.0, read=None)
    run = _run_async if args.use_async else _run_sync
    # Proxies from the environment serve remote services; a loopback service is never proxied.
    loopback = httpx.URL(args.url).host in {"127.0.0.1", "localhost", "::1"}
    with _interruptible(), httpx.Client(timeout=timeout, trust_env=not loopback) as http:
        try:
            return run(TapClient(args.url, http), params, output, err)
        except TapError as exc:
            print(f"error: {exc}", file=err)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            print(f"error: no answer from {args.url}: {exc or type(exc).__name__}", file=err)
        except httpx.TransportError as exc:
            # Connected, then the exchange broke (a body cut short, a reset): rows are missing.
            print(
                f"error: the connection to {args.url} broke: {exc or type(exc).__name__}", file=err
            )
        except KeyboardInterrupt:
            print("interrupted", file=err)
            return EXIT_INTERRUPTED
        except OSError as exc:
            print(f"error: cannot write the result: {exc.strerror or exc}", file=err)
    return EXIT_INVALID


register(
    Command(
        name="query",
        help="run an ADQL query on a TAP service (sync, or --async with progress)",
        add_arguments=_arguments,
        run=_run,
    )
)
