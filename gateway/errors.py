"""One place that maps every failure to a DALI error: HTTP status, UWS error type, message.

Client faults (bad ADQL, unknown names, bad parameters, unsupported constructs, runtime faults
of the query itself such as a division by zero) are 400; transient backend failures are 503;
a backend that rejects the query it was sent passes its 4xx on; other backend failures are
502; everything else is 500. The message always says what went wrong and where (line and
column for ADQL, parameter name for REST parameters, backend name for backend failures).
Backend URLs are internal: they go to the server log, never into a message a client sees.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from gateway.engine_faults import engine_fault
from gateway.tap_params import TapUsageError
from grammar.errors import AdqlError

log = logging.getLogger(__name__)

_PASSED_ON = frozenset({400})
"""Backend statuses that mean "this query is wrong", reported to the client as 400."""

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>)]+", re.IGNORECASE)


def without_urls(text: str) -> str:
    """``text`` with every URL replaced by ``<url>`` (backend addresses are internal)."""
    return _URL.sub("<url>", text)


class BackendError(RuntimeError):
    """A backend failed: which one, at which URL, whether retrying may help, and why.

    ``str()`` names the backend (its configured name) and the cause, never the URL: the
    message reaches clients, the URL only the log. ``status`` is the backend's HTTP status
    when it answered with an error.
    """

    def __init__(
        self,
        backend: str,
        url: str,
        cause: str,
        *,
        transient: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(f"backend '{backend}' failed: {without_urls(cause)}")
        self.backend = backend
        self.url = url
        self.cause = cause
        self.transient = transient
        self.status = status


class UploadError(ValueError):
    """An uploaded table is unusable: bad format, too large, or a refused URL."""


class ResourceLimitError(RuntimeError):
    """A configured limit (execution time, concurrent jobs) stopped the request."""


@dataclass(frozen=True, slots=True)
class DaliFault:
    """How a failure is reported: HTTP status, UWS error type and the message."""

    status: int
    kind: Literal["fatal", "transient"]
    message: str


def classify(exc: BaseException) -> DaliFault:
    """Map an exception to the DALI fault the client sees."""
    if isinstance(exc, AdqlError | TapUsageError | UploadError):
        return DaliFault(400, "fatal", str(exc))
    if isinstance(exc, BackendError):
        log.warning("backend %r at %s: %s", exc.backend, exc.url, exc.cause)
        if exc.status in _PASSED_ON:
            # The backend refused the query itself (bad ADQL for it, a runtime fault): the
            # client's request is at fault, not the gateway nor the backend.
            return DaliFault(400, "fatal", str(exc))
        return DaliFault(
            503 if exc.transient else 502, "transient" if exc.transient else "fatal", str(exc)
        )
    if (engine := engine_fault(exc)) is not None:
        status, kind, message = engine
        if status >= 500:
            log.error("query engine failure", exc_info=exc)
        return DaliFault(status, kind, message)
    if isinstance(exc, ResourceLimitError):
        return DaliFault(503, "transient", str(exc))
    if isinstance(exc, ConnectionError) and type(exc).__module__.startswith("gateway."):
        # The job database or queue is down: the request may succeed once it is back.
        log.warning("service dependency unavailable: %s", exc)
        return DaliFault(503, "transient", str(exc))
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("gateway."):
        # Our own validation errors (unsupported RESPONSEFORMAT, malformed upload) are usage faults.
        return DaliFault(400, "fatal", str(exc))
    log.error("internal error", exc_info=exc)
    return DaliFault(500, "fatal", f"internal error: {type(exc).__name__}: {exc}")


def describe_fault(exc: BaseException) -> str:
    """The message a client reads for ``exc`` (for errors reported inside a result stream)."""
    return classify(exc).message
