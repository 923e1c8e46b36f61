"""Work in worker threads stops, and is waited for, when its caller is cancelled."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import pytest

from gateway.query.cancellation import Cancellation, in_worker_thread


def interruptible(cancellation: Cancellation, finished: threading.Event) -> str:
    """Spin until cancelled (as a DuckDB query until interrupted), then clean up a while."""
    deadline = time.monotonic() + 10
    while not cancellation.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    finished.set()
    return "interrupted" if cancellation.cancelled else "ran out"


@pytest.mark.parametrize("scope", ["anyio", "asyncio"])
def test_a_cancelled_caller_interrupts_the_thread_and_waits_for_it(scope: str) -> None:
    async def main() -> float:
        cancellation, finished = Cancellation(), threading.Event()
        started = time.monotonic()
        if scope == "anyio":
            # anyio re-delivers the cancellation on every loop turn until the scope exits.
            with anyio.move_on_after(0.2):
                await in_worker_thread(cancellation, interruptible, cancellation, finished)
        else:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await in_worker_thread(cancellation, interruptible, cancellation, finished)
        assert cancellation.cancelled
        assert finished.is_set()  # the thread's cleanup is over before the caller goes on
        return time.monotonic() - started

    assert anyio.run(main) < 5


def test_the_result_comes_back_through_the_call() -> None:
    async def main() -> str:
        cancellation, finished = Cancellation(), threading.Event()
        cancellation.cancel()
        return await in_worker_thread(cancellation, interruptible, cancellation, finished)

    assert anyio.run(main) == "interrupted"
