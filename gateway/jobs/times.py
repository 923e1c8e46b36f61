"""Job times as integer microseconds since the epoch: exact sorting and comparison in SQL."""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if value.tzinfo is None:
        msg = "job times must be timezone-aware"
        raise ValueError(msg)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int | None) -> datetime | None:
    """Inverse of :func:`to_us`; None stays None."""
    if value is None:
        return None
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)
