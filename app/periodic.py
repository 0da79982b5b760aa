"""`Periodic`: a step run every few seconds in its own task (lease heartbeats, lock renewals, the
server-clock reader) that stops when asked, even if the step swallows its cancellation.

Cancelling the task alone is not enough: PyMongo's async client can swallow a cancellation that
lands inside an operation (the operation finishes and the coroutine carries on; 14 of 400
cancels did so in a probe with PyMongo 4.20). A `while True` loop that survives its cancel keeps
renewing a lease forever, and whoever awaits it after cancelling waits forever too: a webhook
event stayed leased by a worker that had finished with it, and that worker never stopped.
So the loop checks a stop flag before every step, and `stop()` waits a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

# How long `stop()` waits for a step under way to finish before leaving the task to end alone.
STOP_GRACE_SECONDS = 5.0


class Periodic:
    """Runs `step` every `interval` seconds until `stop()`, or until `step` returns False.

    The first step runs one interval after `start()`. An exception from `step` is logged and the
    next step runs on schedule (a missed heartbeat only shortens a lease)."""

    def __init__(
        self, step: Callable[[], Awaitable[bool | None]], interval: float, *, name: str
    ) -> None:
        self._step = step
        self._interval = interval
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval)
                return
            except TimeoutError:
                pass
            if self._stopping.is_set():
                return
            try:
                carry_on = await self._step()
            except Exception:
                logger.warning(
                    "%s: step failed; next one in %.1f s", self._name, self._interval, exc_info=True
                )
                continue
            if carry_on is False:
                return

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop stepping: no step starts after this call; waits up to `grace_seconds` for one
        under way, then leaves it to end by itself (it starts no other). Calling it again
        returns at once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait({task}, timeout=grace_seconds)
        if not task.done():
            logger.warning(
                "%s: a step was still under way %.1f s after stop", self._name, grace_seconds
            )
