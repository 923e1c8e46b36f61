"""``--log-level`` for the long-running commands (serve, demo, worker): one format, one place.

Records go to stderr as ``time LEVEL logger message``. At the default ``info`` the gateway
writes one line per query (:mod:`gateway.query.log`) plus warnings about backends; uvicorn's
own loggers stay at ``warning`` unless ``debug`` is asked for, so the query lines are not
drowned in access logs.
"""

from __future__ import annotations

import argparse
import logging

__all__ = ["LOG_LEVELS", "add_log_level_argument", "configure_logging", "uvicorn_log_level"]

LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "info"
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def add_log_level_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--log-level`` (default ``info``)."""
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=DEFAULT_LEVEL,
        help="least severe log records written to stderr (default %(default)s: one line per query)",
    )


def configure_logging(level: str) -> None:
    """Send records at ``level`` and above to stderr, replacing earlier configuration."""
    logging.basicConfig(level=level.upper(), format=_FORMAT, force=True)


def uvicorn_log_level(level: str) -> str:
    """The level of uvicorn's loggers for ``level``: their chatter only when debugging."""
    return "debug" if level == "debug" else max(level, "warning", key=LOG_LEVELS.index)
