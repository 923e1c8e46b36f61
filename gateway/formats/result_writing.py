"""What every streaming result writer (VOTable, CSV, TSV, JSON, Parquet) shares."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["overflowed"]


def overflowed(overflow: Callable[[], bool] | None) -> bool:
    """Whether the result was cut at MAXREC: ``overflow`` is asked once, after the last batch.

    Parameters
    ----------
    overflow
        The writer's ``overflow`` argument; None means the result is complete.
    """
    return overflow is not None and overflow()
