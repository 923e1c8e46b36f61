"""Who is asking: pluggable identity for job ownership and quotas.

- ``none`` (default): everyone is anonymous; unguessable job ids are the only protection.
- ``tokens``: ``Authorization: Bearer <token>`` checked against a configured token -> user map.
- ``introspection``: the bearer token is sent to an OAuth 2.0 token introspection endpoint
  (RFC 7662: POST ``token=...``, answer ``{"active": true, "username" | "sub": ...}``);
  answers are cached for a short while.
- ``header``: a trusted proxy in front of the gateway authenticates and sets a header with the
  user name (as Rubin's Gafaelfawr sets ``X-Auth-Request-User``). Only for deployments where
  nothing but that proxy can reach the gateway.

A request that must be attributed to a user and cannot be gets HTTP 401 with a
``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import httpx
from fastapi import Request

from gateway.settings import IdentityKind

#: Seconds an introspection answer is reused.
INTROSPECTION_CACHE_SECONDS = 60.0


class NotAuthenticatedError(PermissionError):
    """The request carries no acceptable credentials (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated user; ``name`` is what job records store as the owner."""

    name: str


class IdentityProvider(Protocol):
    """Finds the user behind a request."""

    #: Whether anonymous requests are refused where an owner is needed.
    required: bool

    async def identify(self, request: Request) -> User | None:
        """The user, or None for an anonymous request.

        Raises :class:`NotAuthenticatedError` when credentials are given but not valid.
        """
        ...


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticatedError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class Anonymous:
    """No identity: every request is anonymous."""

    required = False

    async def identify(self, request: Request) -> User | None:
        """Always None."""
        del request
        return None


class TokenIdentity:
    """Bearer tokens from the configuration."""

    required = True

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = dict(tokens)

    async def identify(self, request: Request) -> User | None:
        """The user the token belongs to; None without a token."""
        token = _bearer(request)
        if token is None:
            return None
        name = self._tokens.get(token)
        if name is None:
            raise NotAuthenticatedError("the bearer token is not valid")
        return User(name)


class IntrospectionIdentity:
    """Bearer tokens checked by an RFC 7662 introspection endpoint."""

    required = True

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._client = client
        self._cache: dict[str, tuple[float, User | None]] = {}

    async def identify(self, request: Request) -> User | None:
        """The token's user as the endpoint reports it; None without a token."""
        token = _bearer(request)
        if token is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and now - cached[0] < INTROSPECTION_CACHE_SECONDS:
            user = cached[1]
        else:
            user = await self._introspect(token)
            self._cache[token] = (now, user)
        if user is None:
            raise NotAuthenticatedError("the bearer token is not active")
        return user

    async def _introspect(self, token: str) -> User | None:
        try:
            response = await self._client.post(self._url, data={"token": token})
        except httpx.HTTPError as exc:
            msg = f"the identity service is unreachable: {type(exc).__name__}"
            raise ConnectionError(msg) from exc
        if response.status_code != 200:
            msg = f"the identity service answered HTTP {response.status_code}"
            raise ConnectionError(msg)
        body = response.json()
        if not isinstance(body, dict) or body.get("active") is not True:
            return None
        name = body.get("username") or body.get("sub")
        return User(str(name)) if name else None


class HeaderIdentity:
    """The user name from a header a trusted authenticating proxy sets."""

    required = True

    def __init__(self, header: str) -> None:
        self._header = header

    async def identify(self, request: Request) -> User | None:
        """The header's value as the user; None when the header is absent."""
        name = request.headers.get(self._header, "").strip()
        return User(name) if name else None


async def require_user(provider: IdentityProvider, request: Request) -> User | None:
    """The request's user; None (anonymous) only when identity is off.

    Raises :class:`NotAuthenticatedError` if the provider needs a user and there is none.
    """
    user = await provider.identify(request)
    if user is None and provider.required:
        raise NotAuthenticatedError("this service needs credentials (Authorization: Bearer ...)")
    return user


def identity_provider(
    kind: IdentityKind,
    *,
    tokens: dict[str, str],
    introspection_url: str | None,
    header: str,
    client: httpx.AsyncClient,
) -> IdentityProvider:
    """The provider the settings ask for."""
    if kind == "tokens":
        return TokenIdentity(tokens)
    if kind == "introspection":
        if not introspection_url:
            msg = "identity 'introspection' needs identity_introspection_url"
            raise ValueError(msg)
        return IntrospectionIdentity(introspection_url, client)
    if kind == "header":
        return HeaderIdentity(header)
    return Anonymous()
