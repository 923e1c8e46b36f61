"""A thread-safe cancellation signal shared by the event loop and a worker thread.

The job runner (on the loop) decides that work must stop (ABORT, execution duration); the
work itself runs in a thread inside DuckDB. Whoever holds something interruptible registers
a callback; ``cancel()`` runs every callback, now or as soon as one is registered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancellation:
    """Set once; callbacks registered before or after ``cancel()`` all run exactly once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when cancelled (at once if that already happened)."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self) -> None:
        """Signal cancellation and run the registered callbacks."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
