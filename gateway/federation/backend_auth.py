"""Per-backend credentials: what the gateway sends to a backend to prove it may ask.

A backend's configuration says how (``auth``) and where the secret is: in the file
(``token``, ``password``) or, better, in an environment variable the file names
(``token_env``, ``password_env``), so configuration files can be shared without secrets.

- ``bearer``: ``Authorization: Bearer <token>`` (IVOA SSO bearer tokens, Rubin's RSP);
- ``datalab``: ``X-DL-AuthToken: <token>`` (NOIRLab Astro Data Lab services);
- ``basic``: ``Authorization: Basic`` with ``username`` and the password (RFC 7617).

Without ``auth``, a token goes the way the backend's kind expects (``datalab`` for
``spectral`` backends, ``bearer`` for the others). The resolved headers are computed once,
when the executor starts: a variable that is named but unset stops the start with a message
naming the backend and the variable (never a value).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from gateway.kinds.registry import kind_for
from gateway.settings import BackendConfig

__all__ = ["credential_headers"]


def _secret(
    config: BackendConfig, inline: str | None, variable: str | None, environ: Mapping[str, str]
) -> str | None:
    if variable is None:
        return inline
    value = environ.get(variable)
    if not value:
        # A configured credential that is missing is an operator error: say so at start-up.
        msg = f"backend '{config.name}': environment variable {variable} is not set"
        raise ValueError(msg)
    return value


def credential_headers(config: BackendConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The headers carrying ``config``'s own credentials (empty when it has none).

    Raises
    ------
    ValueError
        When a variable named by ``token_env`` or ``password_env`` is unset or empty.
    """
    token = config.token.get_secret_value() if config.token is not None else None
    token = _secret(config, token, config.token_env, environ)
    password = config.password.get_secret_value() if config.password is not None else None
    password = _secret(config, password, config.password_env, environ)
    scheme = config.auth or kind_for(config.kind).default_auth
    if scheme == "basic":
        # Both are present: the settings refuse auth = basic without them.
        assert config.username is not None
        assert password is not None
        pair = f"{config.username}:{password}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
    if token is None:
        return {}
    if scheme == "datalab":
        return {"X-DL-AuthToken": token}
    return {"Authorization": f"Bearer {token}"}
