"""The stalled-db scenario's report of an unanswered request names where each task waits: the
innermost coroutine of its await chain, not only the outermost (what `Task.get_stack` gives)."""

from __future__ import annotations

import asyncio

from tools.chaos.scenarios.stall import _awaited


async def _innermost_wait(stop: asyncio.Event) -> None:
    await stop.wait()


async def _middle(stop: asyncio.Event) -> None:
    await _innermost_wait(stop)


async def _outermost(stop: asyncio.Event) -> None:
    await _middle(stop)


async def test_the_report_follows_a_task_down_to_what_it_awaits() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_outermost(stop))
    await asyncio.sleep(0)  # the task runs up to its wait
    chain = _awaited(task.get_coro())
    names = [place.rsplit(" ", 1)[-1] for place in chain]
    assert names[:3] == ["_outermost", "_middle", "_innermost_wait"]
    assert names[-1] == "wait"  # asyncio.Event.wait: the innermost suspended coroutine
    stop.set()
    await task
