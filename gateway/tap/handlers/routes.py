"""Registering a handler for both GET and POST, as TAP and its extensions allow.

FastAPI's ``api_route(methods=["GET", "POST"])`` gives both methods one OpenAPI operation id
and warns about the duplicate; here each method gets its own (``<name>_get``, ``<name>_post``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

__all__ = ["get_and_post"]

Handler = TypeVar("Handler", bound=Callable[..., Any])


def get_and_post(
    router: APIRouter, path: str, *, name: str, summary: str, **options: Any
) -> Callable[[Handler], Handler]:
    """Decorate a handler to serve ``path`` on GET and POST (operation ids from ``name``)."""

    def register(handler: Handler) -> Handler:
        for method in ("get", "post"):
            route = getattr(router, method)
            route(path, summary=summary, operation_id=f"{name}_{method}", **options)(handler)
        return handler

    return register
