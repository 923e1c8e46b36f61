"""A thread-safe cancellation signal shared by the event loop and worker threads.

Whoever decides that work must stop (a sync deadline, a client gone, ABORT, an execution
duration) calls ``cancel()``; whoever holds something interruptible (a DuckDB cursor, the task
awaiting backend fetches) registers a callback. ``cancel()`` runs every callback, now or as
soon as one is registered, from whichever thread calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


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

    def cancels_task(self, task: asyncio.Task[T]) -> None:
        """Cancel ``task`` (on its own loop) when this is cancelled, from any thread."""
        loop = task.get_loop()

        def stop() -> None:
            # The loop may be gone by the time a late cancel() comes: nothing is left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

        self.on_cancel(stop)


async def in_worker_thread(cancellation: Cancellation, func: Callable[..., T], *args: object) -> T:
    """``func(*args)`` in a worker thread; cancelling the caller interrupts it and waits.

    Blocking work (planning, DuckDB) must not hold the event loop. A caller cancelled while it
    waits (deadline, client gone, ABORT) cancels ``cancellation``, which interrupts the work
    registered there, and then waits for the thread, so that resources are released in order
    (an engine is never closed under a running query).
    """
    work = asyncio.ensure_future(anyio.to_thread.run_sync(functools.partial(func, *args)))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        cancellation.cancel()
        # anyio cancel scopes cancel again on every turn of the loop: wait through them.
        while not work.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved: the caller's cancellation is what is raised
        raise
