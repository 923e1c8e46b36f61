"""The running gateway: TAP service, federation, executor, local engine, CLI.

``gateway.Gateway`` (DESIGN.md's Python API) is imported lazily, so ``import gateway`` stays
cheap for the CLI and the planners' tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.facade import ExecuteResult, Gateway

__all__ = ["ExecuteResult", "Gateway"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gateway import facade  # noqa: PLC0415

        return getattr(facade, name)
    msg = f"module 'gateway' has no attribute {name!r}"
    raise AttributeError(msg)
