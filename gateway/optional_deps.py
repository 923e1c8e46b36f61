"""Telling a user which extra to install when an optional dependency is missing.

A plain ``pip install adql-gateway`` carries only the parser and the planners (lark, sqlglot);
the TAP service, the federation, the local engine and the stand-ins need the ``server`` extra.
Without it their imports fail with a bare ``No module named 'fastapi'``; these helpers turn that
into a message naming the extra and the command that installs it.
"""

from __future__ import annotations

SERVER_INSTALL = "pip install 'adql-gateway[server]'"
"""The command that installs everything the gateway needs to run."""

_OWN_PACKAGES = frozenset({"grammar", "planners", "gateway", "standins"})


def missing_dependency(exc: ModuleNotFoundError) -> str | None:
    """The third-party module ``exc`` says is missing, or None when it is one of ours.

    A missing module of our own is a packaging bug, not a missing extra, and must not be
    disguised as one.
    """
    top = (exc.name or "").partition(".")[0]
    return None if not top or top in _OWN_PACKAGES else top


def server_extra_message(feature: str, module: str) -> str:
    """The message for ``feature`` failing because ``module`` is not installed."""
    return (
        f"{feature} needs the server extra (Python module {module!r} is not installed): "
        f"{SERVER_INSTALL}"
    )
