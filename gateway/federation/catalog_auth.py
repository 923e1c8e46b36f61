"""Credentials on the catalogue's metadata requests (VOSI /tables, HSC /metadata, ...).

A private service wants its token for its table list as much as for its queries (Rubin's
RSP TAP answers 401 to an anonymous ``/tables``). The catalogue reads metadata with one
client for every backend, so the credentials are chosen per request: the backend whose
configured URL is the longest prefix of the request's URL lends its headers
(:func:`gateway.federation.backend_auth.credential_headers`). Never the client's
Authorization: there is no client while the catalogue loads.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Mapping

import httpx
from typing_extensions import override

from gateway.federation.backend_auth import credential_headers
from gateway.settings import BackendConfig

__all__ = ["BackendCredentials"]


class BackendCredentials(httpx.Auth):
    """httpx authentication that adds each configured backend's credentials to its URLs.

    Raises
    ------
    ValueError
        When a backend names an unset ``token_env`` or ``password_env`` variable.
    """

    def __init__(
        self, backends: Iterable[BackendConfig], environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        found = [
            (b.url.rstrip("/"), credential_headers(b, env)) for b in backends if b.url is not None
        ]
        # Longest first: a backend under another's path gets its own credentials.
        self._prefixes = sorted(
            ((url, headers) for url, headers in found if headers),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )

    @override
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the credentials of the backend that owns ``request``'s URL, if any."""
        url = str(request.url.copy_with(query=None, fragment=None))
        for prefix, headers in self._prefixes:
            if url == prefix or url.startswith(prefix + "/"):
                request.headers.update(headers)
                break
        yield request
