"""`Periodic` stops when asked even when its step swallows the cancellation (as PyMongo's async
client sometimes does), and a step can end it."""

from __future__ import annotations

import asyncio
import contextlib

from app.periodic import Periodic


async def test_stop_holds_even_when_the_step_swallows_its_cancel() -> None:
    steps = 0
    in_step = asyncio.Event()

    async def step() -> bool:
        nonlocal steps
        steps += 1
        in_step.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed
            await asyncio.sleep(0.3)
        return True

    periodic = Periodic(step, 0.01, name="test")
    periodic.start()
    await asyncio.wait_for(in_step.wait(), 5)
    # A bound on a hang, not a timing assertion.
    await asyncio.wait_for(periodic.stop(), 30)
    taken = steps
    await asyncio.sleep(0.2)  # twenty intervals: a loop still running would have stepped again
    assert steps == taken == 1


async def test_a_step_returning_false_ends_it_and_failures_do_not() -> None:
    calls = 0

    async def step() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a database hiccup")
        return calls < 3

    periodic = Periodic(step, 0.01, name="test")
    periodic.start()
    for _ in range(500):
        if calls >= 3:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert calls == 3
    await periodic.stop()


async def test_stop_before_any_step_runs_none() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    periodic = Periodic(step, 0.05, name="test")
    periodic.start()
    await periodic.stop()
    await asyncio.sleep(0.1)
    assert calls == 0
