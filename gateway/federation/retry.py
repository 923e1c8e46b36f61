"""Retry policy of the executor: which failures are worth another attempt, and when.

Only failures that say nothing about the request itself are retried: the connection could not
be made, the server did not answer in time before sending anything, or it said so itself
(502/503/504, 429). A 4xx, a 500 or a malformed answer would fail the same way again.
Back-off is exponential with "full jitter" (a uniform draw below the exponential ceiling), so
that many fragments failing together do not come back in lock-step.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass

__all__ = ["RETRY_STATUSES", "RetryPolicy", "retry_after_seconds"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses that mean "try again later" rather than "this request is wrong"."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long the executor retries one backend request.

    Parameters
    ----------
    attempts
        Largest number of attempts, the first included (1 disables retries).
    base_delay, max_delay
        The back-off ceiling before attempt ``k + 1`` is ``min(max_delay, base_delay * 2**k)``;
        the actual pause is drawn uniformly below it.
    max_total
        Budget in seconds for all attempts and pauses together; no pause that would end past
        it is taken.
    max_retry_after
        Longest ``Retry-After`` (seconds) honoured; a server asking for more is not waited for.
    """

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_total: float = 120.0
    max_retry_after: float = 10.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause after failed attempt number ``attempt`` (1-based), jitter included."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Jitter is for spreading load, not security: a plain PRNG is right here.
        return (rng or random).uniform(0.0, ceiling)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait, or None when absent or unreadable.

    Parameters
    ----------
    value
        The header value: delay-seconds (``"120"``) or an HTTP-date. Fractional seconds are
        accepted although RFC 9110 only allows integers (lenient servers send them).
    now
        The current POSIX time (for tests); defaults to :func:`time.time`.

    Returns
    -------
    float or None
        A non-negative delay in seconds.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)
