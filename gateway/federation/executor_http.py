"""One backend HTTP exchange: building it from a BackendRequest, sending it, classifying failures.

Everything here turns into a :class:`gateway.errors.BackendError` that names the backend, the
URL without query or credentials, the cause, and whether the failure is transient. The
:class:`Failure` wrapper adds what the retry loop needs on top: may this attempt be repeated,
and did the server say when (``Retry-After``).

Identification and credentials (DESIGN.md "Failures, limits, security"):

- ``RUNID`` goes as a request parameter to ``tap`` and ``sia`` backends, where DALI defines it
  (unless the planner already put one in), and as an ``X-RunId`` header to ``hsc`` and
  ``spectral`` ones: the HSC service treats unknown parameters as column criteria (HTTP 400),
  and the Data Lab service knows no RUNID.
- The backend's configured credentials (:mod:`gateway.federation.backend_auth`) go with
  every request.
- The client's ``Authorization`` header is sent only to backends with
  ``forward_authorization = true``, and then wins over a configured ``Authorization``.
- A 401 or 403 answer is reported as an authentication failure that says which credentials
  were sent (none, the configured ones, the client's), never their value nor the service's
  page (which may quote what it was sent).
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from gateway.errors import BackendError
from gateway.federation.retry import RETRY_STATUSES, retry_after_seconds
from gateway.formats.decode import error_text
from gateway.kinds.registry import kind_for
from gateway.settings import BackendConfig
from planners.base import BackendRequest

__all__ = ["Answer", "Failure", "Prepared", "prepare", "public_url", "send_once"]

_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Prepared:
    """The pieces of one HTTP request, computed once and reused by every attempt."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    content: bytes | None = None
    form: dict[str, list[str]] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    sent_credentials: str = "no credentials"
    """Which credentials went with the request, in words (for authentication failures)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A completed exchange: status, media type, headers and the whole body."""

    status: int
    content_type: str
    headers: httpx.Headers
    body: bytearray


class Failure(Exception):
    """A failed attempt: the error to report, whether to retry, and the server's wish."""

    def __init__(
        self, error: BackendError, *, retry: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry = retry
        self.retry_after = retry_after


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def prepare(
    config: BackendConfig,
    request: BackendRequest,
    *,
    credentials: Mapping[str, str],
    run_id: str | None,
    authorization: str | None,
    uploads: Mapping[str, bytes],
) -> Prepared:
    """Build the request pieces, refusing a URL outside the backend's configured origin.

    Raises
    ------
    BackendError
        For a URL that is not the backend's, or a TAP_UPLOAD table that was not supplied.
    """
    url = public_url(request.url)
    if config.url is None or not _same_origin(request.url, config.url):
        # Only configured backends are ever contacted (DESIGN.md "HTTP").
        raise BackendError(config.name, url, "request URL is outside the configured backend")
    headers = dict(credentials)
    sent = "the gateway's configured credentials" if credentials else "no credentials"
    if authorization is not None and config.forward_authorization:
        headers["Authorization"] = authorization
        sent = "the client's Authorization header"
    params = request.params
    if run_id is not None:
        if kind_for(config.kind).runid_parameter:
            if not any(k.upper() == "RUNID" for k, _ in params):
                params = (*params, ("RUNID", run_id))
        else:
            headers["X-RunId"] = run_id
    missing = [name for name in request.uploads if name not in uploads]
    if missing:
        raise BackendError(config.name, url, f"upload table(s) not supplied: {', '.join(missing)}")
    if request.method == "GET":
        return Prepared("GET", request.url, params, headers, sent_credentials=sent)
    if request.uploads:
        form: dict[str, list[str]] = {}
        for key, value in params:
            form.setdefault(key, []).append(value)
        files = {
            name: (f"{name}.xml", uploads[name], "application/x-votable+xml")
            for name in request.uploads
        }
        return Prepared(
            "POST", request.url, (), headers, form=form, files=files, sent_credentials=sent
        )
    if request.body is not None:
        # Planners send form-encoded bodies (the Data Lab getSpec form); params go in the URL.
        headers["Content-Type"] = _FORM
        return Prepared("POST", request.url, params, headers, request.body, sent_credentials=sent)
    body = urllib.parse.urlencode(params).encode()
    headers["Content-Type"] = _FORM
    return Prepared("POST", request.url, (), headers, body, sent_credentials=sent)


def _fail(config: BackendConfig, url: str, cause: str, *, transient: bool, retry: bool) -> Failure:
    return Failure(BackendError(config.name, url, cause, transient=transient), retry=retry)


async def send_once(
    client: httpx.AsyncClient,
    config: BackendConfig,
    prepared: Prepared,
    *,
    timeouts: httpx.Timeout,
    deadline: float,
    error_body_limit: int,
    feed: Callable[[bytearray], None] | None = None,
) -> Answer:
    """One attempt, bounded by ``deadline`` seconds in total (slow drips included).

    ``feed`` (a successful answer only) is called with the body received so far after every
    chunk, for decoders that start before the body is complete.

    Raises
    ------
    Failure
        Connection failures, timeouts, truncated streams and HTTP errors, classified.
    """
    url = public_url(prepared.url)
    got_headers = False
    received = 0
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            request = client.build_request(
                prepared.method,
                prepared.url,
                params=prepared.params or None,
                headers=prepared.headers,
                content=prepared.content,
                data=prepared.form,
                files=prepared.files,
                timeout=timeouts,
            )
            response = await client.send(request, stream=True)
            got_headers = True
            try:
                body = bytearray()
                ok = response.status_code < 300
                async for chunk in response.aiter_bytes():
                    body += chunk
                    received = len(body)
                    if not ok and received >= error_body_limit:
                        break  # enough of an error page to quote it
                    if ok and feed is not None:
                        feed(body)
            finally:
                await response.aclose()
    except TimeoutError:
        waited = time.monotonic() - started
        if not got_headers:
            cause = f"no answer within the {deadline:.3g} s deadline"
            raise _fail(config, url, cause, transient=True, retry=True) from None
        cause = (
            f"answer not complete within the {deadline:.3g} s deadline "
            f"({received} bytes in {waited:.3g} s: slow or stalled stream)"
        )
        raise _fail(config, url, cause, transient=True, retry=False) from None
    except httpx.TimeoutException as error:
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout) or not got_headers:
            cause = f"timed out waiting for the service ({type(error).__name__})"
            raise _fail(config, url, cause, transient=True, retry=True) from error
        cause = f"stream stalled after {received} bytes ({type(error).__name__})"
        raise _fail(config, url, cause, transient=True, retry=False) from error
    except httpx.ConnectError as error:
        cause = f"cannot connect: {error or type(error).__name__}"
        raise _fail(config, url, cause, transient=True, retry=True) from error
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
        if not got_headers:
            # Typically a kept-alive connection the server had just closed: safe to redo.
            cause = f"connection closed before an answer: {error or type(error).__name__}"
            raise _fail(config, url, cause, transient=True, retry=True) from error
        cause = f"truncated answer after {received} bytes: {error or type(error).__name__}"
        raise _fail(config, url, cause, transient=True, retry=False) from error
    except httpx.HTTPError as error:
        cause = f"HTTP failure: {type(error).__name__}: {error}"
        raise _fail(config, url, cause, transient=False, retry=False) from error
    answer = Answer(
        response.status_code, response.headers.get("content-type", ""), response.headers, body
    )
    check_status(config, url, answer, prepared.sent_credentials)
    return answer


def check_status(config: BackendConfig, url: str, answer: Answer, sent: str) -> None:
    """Raise the right :class:`Failure` for a non-2xx answer; 429/502/503/504 are retried.

    ``sent`` says which credentials went with the request (for a 401 or 403).
    """
    status = answer.status
    if status < 300:
        return
    if status < 400:
        where = answer.headers.get("location", "?")
        cause = f"HTTP {status}: redirect to {public_url(where)} not followed"
        raise _fail(config, url, cause, transient=False, retry=False)
    if status in {401, 403}:
        refused = "authentication required" if status == 401 else "access denied"
        cause = f"HTTP {status}: {refused} (the request carried {sent})"
        raise Failure(BackendError(config.name, url, cause, status=status), retry=False)
    message = error_text(answer.body, answer.content_type)
    cause = f"HTTP {status}: {message}"
    if status in RETRY_STATUSES:
        wait = retry_after_seconds(answer.headers.get("retry-after"))
        error = BackendError(config.name, url, cause, transient=True, status=status)
        raise Failure(error, retry=True, retry_after=wait)
    raise Failure(BackendError(config.name, url, cause, status=status), retry=False)
