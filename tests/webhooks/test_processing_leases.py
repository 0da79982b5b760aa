"""Processor leases: a heartbeat while a handler runs, a claim served by one index, and a replay
that never resets an event a worker is applying right now."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import WebhookEvent
from app.services.webhooks.context import WebhookContext
from app.services.webhooks.processing import (
    ProcessingPolicy,
    ReplayRefused,
    WebhookProcessor,
    replay_event,
)
from tests.factories import lapse_lease, make_tenant
from tests.webhooks.helpers import order_payload, store_event

TENANT = "tenant-rms34"
PENDING_INDEX = ("processed", "dead", "next_attempt_at")


async def _only_event() -> WebhookEvent:
    [event] = await WebhookEvent.find({}).to_list()
    return event


async def test_a_long_handler_keeps_its_lease_and_runs_once(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    await store_event("orders/create", order_payload())
    # A lease of 2 s renewed every third: 0.3 s failed once on a busy CI machine (a heartbeat
    # delayed past the lease by the event loop, not by the processor), and 1 s left a renewal
    # only 0.67 s of slack.
    policy = ProcessingPolicy(max_attempts=5, retry_base_seconds=0, lease_seconds=2.0)
    started = asyncio.Event()
    runs: list[str] = []

    async def slow(context: WebhookContext) -> str:
        runs.append(context.event["event_id"])
        started.set()
        await asyncio.sleep(6.5)  # more than three leases
        return "done"

    handlers = {"orders/create": slow}
    first = WebhookProcessor(settings, "first", policy=policy, handlers=handlers)
    task = asyncio.create_task(first.process_one())
    await asyncio.wait_for(started.wait(), 5)
    second = WebhookProcessor(settings, "second", policy=policy, handlers=handlers)
    while not task.done():
        assert await second.claim() is None, "a running handler's event was claimed again"
        await asyncio.sleep(0.05)
    assert await task is True
    event = await _only_event()
    assert event.processed and event.result == "done" and event.attempts == 1
    assert event.lease_owner is None and len(runs) == 1
    assert await second.claim() is None


class _SwallowingHeartbeat(WebhookProcessor):
    """A processor whose lease renewal swallows its task's cancellation, as PyMongo's async client
    sometimes does when the cancel lands inside an operation."""

    renewals_in_flight = 0
    renewals_after_stop = 0
    handler_done = False
    swallowed = False

    async def extend_lease(self, event: dict[str, Any]) -> bool:
        if self.handler_done:
            self.renewals_after_stop += 1
        self.renewals_in_flight += 1
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            if self.swallowed:  # only once, so that a failing test can still be torn down
                raise
            self.swallowed = True  # the coroutine carries on as if nothing happened
        finally:
            self.renewals_in_flight -= 1
        return await super().extend_lease(event)


async def test_a_heartbeat_that_swallows_its_cancel_still_stops(
    settings: Settings, db: Database
) -> None:
    # Seen in a chaos run: the heartbeat survived its cancel and renewed the event's lease for
    # 25 minutes while process_one waited for it, so the event was never completed and the
    # worker never stopped.
    await make_tenant("rms34")
    await store_event("orders/create", order_payload())
    policy = ProcessingPolicy(max_attempts=5, retry_base_seconds=0, lease_seconds=0.3)
    processor = _SwallowingHeartbeat(settings, "w", policy=policy)

    async def handler(context: WebhookContext) -> str:
        while processor.renewals_in_flight == 0:  # end while a renewal is under way
            await asyncio.sleep(0.01)
        processor.handler_done = True
        return "done"

    processor.handlers = {"orders/create": handler}
    # A bound on a hang, not a timing assertion: before the fix this never returned (and could
    # not be cancelled either, hence no wait_for).
    task = asyncio.create_task(processor.process_one())
    await asyncio.wait({task}, timeout=30)
    assert task.done(), "process_one hangs on a heartbeat that survived its cancel"
    assert task.result() is True
    event = await _only_event()
    assert event.processed and event.result == "done" and event.lease_owner is None
    await asyncio.sleep(policy.lease_seconds)  # a beat that was still due would have run by now
    assert processor.renewals_after_stop == 0


class _Recorder:
    def __init__(self, inner: Any, calls: list[tuple[dict[str, Any], Any]]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def find_one_and_update(
        self, query: dict[str, Any], update: dict[str, Any], **kwargs: Any
    ) -> Any:
        self._calls.append((query, kwargs.get("sort")))
        return await self._inner.find_one_and_update(query, update, **kwargs)


class _RecordingProcessor(WebhookProcessor):
    calls: list[tuple[dict[str, Any], Any]]

    @property
    def _events(self) -> Any:
        return _Recorder(WebhookEvent.get_pymongo_collection(), self.calls)


async def test_the_claim_is_covered_by_the_pending_index(settings: Settings, db: Database) -> None:
    await store_event("orders/create", order_payload())
    processor = _RecordingProcessor(settings, "w", policy=ProcessingPolicy(lease_seconds=30))
    processor.calls = []
    before = utcnow()
    claimed = await processor.claim()
    assert claimed is not None
    [(query, sort)] = processor.calls
    # Equality fields, then one range, all in the `pending` index; no `$or`.
    assert list(query) == list(PENDING_INDEX)
    assert query["processed"] is False and query["dead"] is False
    assert set(query["next_attempt_at"]) == {"$lte"}
    assert [field for field, _ in sort] == ["next_attempt_at"]
    # The lease doubles as the retry time.
    event = await _only_event()
    assert event.lease_owner == "w" and event.lease_expires_at is not None
    assert event.next_attempt_at == event.lease_expires_at
    assert event.next_attempt_at >= before + timedelta(seconds=29)


async def test_a_crashed_workers_event_is_claimable_once_its_lease_lapses(
    settings: Settings, db: Database
) -> None:
    await store_event("orders/create", order_payload())
    policy = ProcessingPolicy(lease_seconds=30)
    crashed = WebhookProcessor(settings, "crashed", policy=policy)
    claimed = await crashed.claim()
    assert claimed is not None
    other = WebhookProcessor(settings, "other", policy=policy)
    assert await other.claim() is None  # still leased
    await lapse_lease(
        WebhookEvent, claimed["_id"], "lease_expires_at", "next_attempt_at", held_for=30
    )
    taken = await other.claim()
    assert taken is not None and taken["lease_owner"] == "other" and taken["attempts"] == 2
    assert await crashed.complete(taken, "late") is False
    assert await other.complete(taken, "applied") is True


async def test_replay_refuses_an_event_a_worker_is_applying(
    settings: Settings, db: Database
) -> None:
    await store_event("orders/create", order_payload())
    processor = WebhookProcessor(
        settings, "w", policy=ProcessingPolicy(retry_base_seconds=0, lease_seconds=30)
    )
    first = await processor.claim()
    assert first is not None
    assert await processor.fail(first, "boom") is True
    retry = await processor.claim()  # in flight again, the last error still recorded
    assert retry is not None and retry["error"] == "boom"
    with pytest.raises(ReplayRefused) as refused:
        await replay_event(TENANT, str(retry["_id"]))
    assert refused.value.code == "IN_PROGRESS"
    event = await _only_event()
    assert event.lease_owner == "w" and event.attempts == 2
    assert await processor.complete(retry, "applied") is True


async def test_replay_takes_over_a_lapsed_lease_and_a_failed_event(
    settings: Settings, db: Database
) -> None:
    await store_event("orders/create", order_payload())
    policy = ProcessingPolicy(retry_base_seconds=60, lease_seconds=0.1)
    processor = WebhookProcessor(settings, "w", policy=policy)
    first = await processor.claim()
    assert first is not None
    await processor.fail(first, "boom")  # waiting for its retry, not leased: replayable
    replayed = await replay_event(TENANT, str(first["_id"]))
    assert replayed["attempts"] == 0 and replayed["lease_owner"] is None
    assert replayed["next_attempt_at"] <= utcnow()
    crashed = await processor.claim()
    assert crashed is not None
    await WebhookEvent.get_pymongo_collection().update_one(
        {"_id": crashed["_id"]}, {"$set": {"error": "worker died"}}
    )
    await asyncio.sleep(0.15)  # the crashed worker's lease lapses
    replayed = await replay_event(TENANT, str(crashed["_id"]))
    assert replayed["attempts"] == 0 and replayed["lease_owner"] is None
