"""The running gateway: TAP service, federation, executor, local engine, CLI.

``gateway.Gateway`` (DESIGN.md's Python API) is imported lazily, so ``import gateway`` stays
cheap for the CLI and the planners' tests, and works on a core install (parser and planners
only); asking for ``gateway.Gateway`` there raises an ImportError naming the ``server`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.optional_deps import missing_dependency, server_extra_message

if TYPE_CHECKING:
    from gateway.facade import ExecuteResult, Gateway

__all__ = ["ExecuteResult", "Gateway"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            from gateway import facade  # noqa: PLC0415
        except ModuleNotFoundError as exc:
            # A core install (parser and planners only) has no server dependencies.
            module = missing_dependency(exc)
            if module is None:
                raise
            raise ImportError(server_extra_message(f"gateway.{name}", module)) from exc
        return getattr(facade, name)
    msg = f"module 'gateway' has no attribute {name!r}"
    raise AttributeError(msg)
