"""One place that maps every failure to a DALI error: HTTP status, UWS error type, message.

Client faults (bad ADQL, unknown names, bad parameters, unsupported constructs) are 400;
transient backend failures are 503; everything else is 500. The message always says what
went wrong and where (line and column for ADQL, parameter name for REST parameters, backend
name for backend failures).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from gateway.tap_params import TapUsageError
from grammar.errors import AdqlError

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """A backend failed: which one, at which URL, whether retrying may help, and why."""

    def __init__(self, backend: str, url: str, cause: str, *, transient: bool = False) -> None:
        super().__init__(f"backend '{backend}' failed ({url}): {cause}")
        self.backend = backend
        self.url = url
        self.cause = cause
        self.transient = transient


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
        return DaliFault(
            503 if exc.transient else 502, "transient" if exc.transient else "fatal", str(exc)
        )
    if isinstance(exc, ResourceLimitError):
        return DaliFault(503, "transient", str(exc))
    if isinstance(exc, ValueError) and type(exc).__module__.startswith("gateway."):
        # Our own validation errors (unsupported RESPONSEFORMAT, malformed upload) are usage faults.
        return DaliFault(400, "fatal", str(exc))
    log.error("internal error", exc_info=exc)
    return DaliFault(500, "fatal", f"internal error: {type(exc).__name__}: {exc}")
