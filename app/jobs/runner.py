"""The lease-based background runner: loops over workers that claim work from MongoDB.

Each worker claims one unit of work with an atomic lease (a conditional update), so any number
of runner processes can share the database without running the same unit twice. Idle, a worker
polls every `idle_seconds`; one that can be woken sooner (work queued by this process) waits
through its own `idle` (`WakesEarly`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Protocol, runtime_checkable

logger = logging.getLogger("app.jobs")


def make_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker(Protocol):
    """One kind of background work (webhook events, sync jobs, ...)."""

    name: str
    idle_seconds: float

    async def run_once(self) -> bool:
        """Claim and do one unit of work; `False` when there was nothing to do."""
        ...


@runtime_checkable
class WakesEarly(Protocol):
    """A worker whose idle wait may end early, when work is queued in this process."""

    async def idle(self, seconds: float) -> None:
        """Wait up to `seconds` before the next `run_once`."""
        ...


@runtime_checkable
class Closes(Protocol):
    """A worker with work of its own still running after its loop ends (sends it started)."""

    async def aclose(self, grace_seconds: float) -> None:
        """Let that work finish within `grace_seconds`, then cancel what is left."""
        ...


class BackgroundRunner:
    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def _loop(self, worker: Worker) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                did_work = await worker.run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                logger.exception("background worker %s failed", worker.name)
                did_work = False
            if did_work:
                await asyncio.sleep(0)
                continue
            delay = worker.idle_seconds * (min(2**failures, 30) if failures else 1)
            await self._idle(worker, delay)

    async def _idle(self, worker: Worker, delay: float) -> None:
        """Until `delay` is over, the runner stops or the worker wakes up early."""
        if not isinstance(worker, WakesEarly):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            return
        waits = [
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(worker.idle(delay)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    def workers_not_running(self) -> list[str]:
        """Workers whose loop is not running (never started, ended or stopping): a runner that
        is not doing its work, for readiness. A worker busy in a long unit of work is running."""
        if self._stopping.is_set() or not self._tasks:
            return [worker.name for worker in self.workers]
        return [
            worker.name
            for worker, task in zip(self.workers, self._tasks, strict=True)
            if task.done()
        ]

    def start(self) -> None:
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._loop(worker), name=f"worker:{worker.name}")
            for worker in self.workers
        ]

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop the loops and close what their workers still run, within `grace_seconds` in
        all."""
        self._stopping.set()
        if not self._tasks:
            return
        deadline = asyncio.get_running_loop().time() + grace_seconds
        _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []
        for worker in self.workers:
            if isinstance(worker, Closes):
                left = max(0.0, deadline - asyncio.get_running_loop().time())
                try:
                    await worker.aclose(left)
                except Exception:
                    logger.exception("background worker %s did not close cleanly", worker.name)
