"""One place that maps every failure to a DALI error: HTTP status, UWS error type, message.

Client faults (bad ADQL, unknown names, bad parameters, unsupported constructs, runtime faults
of the query itself such as a division by zero) are 400; transient backend failures are 503;
a backend that rejects the query it was sent passes its 4xx on; other backend failures are
502; everything else is 500. The message always says what went wrong and where (line and
column for ADQL, parameter name for REST parameters, backend name for backend failures).
Backend URLs are internal: they go to the server log, never into a message a client sees.
An internal failure (a 500) shows no exception text either: the client gets a reference id,
and the server log has the traceback and the query's log line under that id.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from gateway.engine.faults import engine_fault
from gateway.tap.params import TapUsageError
from grammar.errors import AdqlError

log = logging.getLogger(__name__)

_PASSED_ON = frozenset({400})
"""Backend statuses that mean "this query is wrong", reported to the client as 400."""

_POSITION = re.compile(r"(\bat line \d+, column \d+)")
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
    reference: str | None = None
    """For internal failures: the id that the client's message and the server log share."""


def incident_reference(exc: BaseException) -> str:
    """A short id for the internal failure ``exc``, the same every time it is asked."""
    reference = getattr(exc, "_adql_gateway_reference", None)
    if not isinstance(reference, str):
        reference = secrets.token_hex(6)
        # Kept on the exception: the response, the job record and the query log line,
        # each classifying the same failure, must all show the same id.
        setattr(exc, "_adql_gateway_reference", reference)  # noqa: B010
    return reference


def _internal(exc: BaseException, what: str, *, log_failure: bool) -> DaliFault:
    reference = incident_reference(exc)
    if log_failure:
        log.error("%s (reference %s)", what, reference, exc_info=exc)
    message = f"{what} (reference {reference}); the service log has the details"
    return DaliFault(500, "fatal", message, reference)


def classify(exc: BaseException, *, log_failure: bool = True) -> DaliFault:
    """Map an exception to the DALI fault the client sees.

    ``log_failure=False`` only classifies; by default failures worth an operator's look
    (backend failures, internal errors with their traceback) are logged as well.
    """
    if isinstance(exc, AdqlError | TapUsageError | UploadError):
        return DaliFault(400, "fatal", str(exc))
    if isinstance(exc, BackendError):
        if log_failure:
            log.warning("backend %r at %s: %s", exc.backend, exc.url, exc.cause)
        if exc.status in _PASSED_ON:
            # The backend refused the query itself (bad ADQL for it, a runtime fault): the
            # client's request is at fault, not the gateway nor the backend. Positions in its
            # message are in the query the gateway sent it.
            message = _POSITION.sub(r"\1 of the query sent to it", str(exc))
            return DaliFault(400, "fatal", message)
        return DaliFault(
            503 if exc.transient else 502, "transient" if exc.transient else "fatal", str(exc)
        )
    if (engine := engine_fault(exc)) is not None:
        status, kind, message = engine
        if status >= 500:
            return _internal(exc, "internal error in the query engine", log_failure=log_failure)
        return DaliFault(status, kind, message)
    if isinstance(exc, ResourceLimitError):
        return DaliFault(503, "transient", str(exc))
    if isinstance(exc, ConnectionError) and type(exc).__module__.startswith("gateway."):
        # The job database or queue is down: the request may succeed once it is back.
        if log_failure:
            log.warning("service dependency unavailable: %s", exc)
        return DaliFault(503, "transient", str(exc))
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("gateway."):
        # Our own validation errors (unsupported RESPONSEFORMAT, malformed upload) are usage faults.
        return DaliFault(400, "fatal", str(exc))
    return _internal(exc, "internal error", log_failure=log_failure)


def describe_fault(exc: BaseException) -> str:
    """The message a client reads for ``exc`` (for errors reported inside a result stream)."""
    return classify(exc).message
