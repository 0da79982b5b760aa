"""The lease-based processor: claim, apply, complete once; retry with backoff; park as dead."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Order, WebhookEvent
from app.services.webhooks.context import Handler, HandlerError, WebhookContext
from app.services.webhooks.handlers import HANDLERS
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor, replay_dead_events
from tests.factories import make_tenant
from tests.webhooks.helpers import ConnectedShop, order_payload, store_event

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0, lease_seconds=30)


def counting(
    applied: Counter[str], handlers: Mapping[str, Handler] = HANDLERS
) -> dict[str, Handler]:
    """The real handlers, counting each completed application per event id."""

    def wrap(handler: Handler) -> Handler:
        async def counted(context: WebhookContext) -> str:
            result = await handler(context)
            applied[context.event["event_id"]] += 1
            return result

        return counted

    return {topic: wrap(handler) for topic, handler in handlers.items()}


async def _events() -> list[WebhookEvent]:
    return await WebhookEvent.find({}).sort("received_at").to_list()


async def test_events_are_applied_and_marked_processed(
    settings: Settings, shop: ConnectedShop
) -> None:
    payload = shop.order(number=1001)
    await store_event("orders/create", payload)
    applied: Counter[str] = Counter()
    processor = WebhookProcessor(settings, "w1", policy=FAST, handlers=counting(applied))
    assert await processor.run_until_idle() == 1
    [event] = await _events()
    assert event.processed and event.attempts == 1 and event.error is None
    assert event.processed_at is not None and event.lease_owner is None
    assert event.result is not None and event.result.startswith("applied")
    order = await Order.find_one({"tenant_id": "tenant-rms34", "shopify_id": str(payload["id"])})
    assert order is not None and order.source == "webhook"
    assert list(applied.values()) == [1]


async def test_update_before_create_and_stale_update_end_with_the_newest(
    settings: Settings, shop: ConnectedShop
) -> None:
    base = utcnow() - timedelta(days=2)
    order_id = shop.order_ids[0]
    create = order_payload(order_id=order_id, updated_at=base, total="10.00", tags="a")
    newest = order_payload(
        order_id=order_id, updated_at=base + timedelta(hours=2), total="30.00", tags="c"
    )
    older = order_payload(
        order_id=order_id, updated_at=base + timedelta(hours=1), total="20.00", tags="b"
    )
    # Arrival order: the newest update, then the create, then a stale update.
    for topic, payload in (
        ("orders/updated", newest),
        ("orders/create", create),
        ("orders/updated", older),
    ):
        await store_event(topic, payload)
    processor = WebhookProcessor(settings, "w1", policy=FAST)
    assert await processor.run_until_idle() == 3
    [order] = await Order.find({"tenant_id": "tenant-rms34"}).to_list()
    assert str(order.total_price) == "30.00" and order.tags == ["c"]
    assert all(event.processed for event in await _events())


async def test_an_event_of_an_unknown_shop_is_kept_and_ignored(
    settings: Settings, db: Database
) -> None:
    await store_event("orders/create", order_payload(), shop="stranger.myshopify.com")
    await WebhookProcessor(settings, "w1", policy=FAST).run_until_idle()
    [event] = await _events()
    assert event.processed and event.result == "ignored: unknown shop"
    assert event.tenant_id == "tenant-stranger"
    assert await Order.find({}).count() == 0


async def test_failures_back_off_then_park_the_event_as_dead_and_replay_requeues_it(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    unusable = order_payload(number=1)
    unusable["updated_at"] = "last Tuesday"  # the right shape, but no time in it
    await store_event("orders/create", unusable)
    policy = ProcessingPolicy(max_attempts=3, retry_base_seconds=60, lease_seconds=30)
    processor = WebhookProcessor(settings, "w1", policy=policy)
    assert await processor.process_one() is True
    [event] = await _events()
    assert not event.processed and not event.dead and event.attempts == 1
    assert event.error is not None and "updated_at" in event.error
    assert event.next_attempt_at > utcnow() + timedelta(seconds=50)
    assert await processor.process_one() is False  # not due yet
    for expected_attempts in (2, 3):
        await WebhookEvent.get_pymongo_collection().update_many(
            {}, {"$set": {"next_attempt_at": utcnow()}}
        )
        assert await processor.process_one() is True
        [event] = await _events()
        assert event.attempts == expected_attempts
    assert event.dead and not event.processed
    assert await processor.process_one() is False  # dead events are not claimed
    assert await replay_dead_events("tenant-rms34") == 1
    [event] = await _events()
    assert (event.dead, event.attempts, event.error) == (False, 0, None)
    assert event.replayed_at is not None


async def test_backoff_is_exponential_and_capped() -> None:
    policy = ProcessingPolicy(retry_base_seconds=5, retry_max_seconds=60)
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]


async def test_a_worker_killed_after_claiming_leaves_events_to_be_processed_exactly_once(
    settings: Settings, shop: ConnectedShop
) -> None:
    for number in range(1001, 1007):
        await store_event("orders/create", shop.order(number=number))
    applied: Counter[str] = Counter()
    handlers = counting(applied)
    short = ProcessingPolicy(max_attempts=5, retry_base_seconds=0, lease_seconds=0.3)

    # Worker A claims two events and dies before applying them.
    crashed = WebhookProcessor(settings, "crashed", policy=short, handlers=handlers)
    assert await crashed.claim() is not None and await crashed.claim() is not None

    # Worker B is cancelled while a handler is in the middle of applying an event.
    started, release = asyncio.Event(), asyncio.Event()

    async def stuck(context: WebhookContext) -> str:
        started.set()
        await release.wait()
        return "never"

    cancelled = WebhookProcessor(
        settings, "cancelled", policy=short, handlers={"orders/create": stuck}
    )
    task = asyncio.create_task(cancelled.run_until_idle())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # After restart, two fresh workers drain the queue; expired leases are taken over.
    # Their own leases are long: with 0.3 s a survivor delayed by a busy machine lost its lease
    # to the other survivor mid-handler, and the event was applied twice.
    await asyncio.sleep(0.35)
    steady = ProcessingPolicy(max_attempts=5, retry_base_seconds=0, lease_seconds=30)
    survivors = [
        WebhookProcessor(settings, f"w{i}", policy=steady, handlers=handlers) for i in (1, 2)
    ]
    await asyncio.gather(*(worker.run_until_idle() for worker in survivors))
    events = await _events()
    assert len(events) == 6 and all(event.processed for event in events)
    assert sorted(applied.values()) == [1] * 6
    assert await Order.find({"tenant_id": "tenant-rms34"}).count() == 6


async def test_concurrent_workers_never_apply_the_same_event_twice(
    settings: Settings, shop: ConnectedShop
) -> None:
    for number in range(2001, 2021):
        await store_event("orders/create", shop.order(number=number))
    applied: Counter[str] = Counter()
    handlers = counting(applied)
    workers = [
        WebhookProcessor(settings, f"w{i}", policy=FAST, handlers=handlers) for i in range(4)
    ]
    counts = await asyncio.gather(*(worker.run_until_idle() for worker in workers))
    assert sum(counts) == 20
    assert len(applied) == 20 and set(applied.values()) == {1}


async def test_completion_needs_the_lease(settings: Settings, db: Database) -> None:
    await make_tenant("rms34")
    await store_event("orders/create", order_payload())
    slow = WebhookProcessor(settings, "slow", policy=ProcessingPolicy(lease_seconds=0.05))
    event = await slow.claim()
    assert event is not None
    await asyncio.sleep(0.1)
    fast = WebhookProcessor(settings, "fast", policy=FAST)
    taken = await fast.claim()
    assert taken is not None and taken["_id"] == event["_id"]
    assert await slow.complete(event, "late") is False
    assert await fast.complete(taken, "applied") is True
    [stored] = await _events()
    assert stored.processed and stored.result == "applied" and stored.attempts == 2


async def test_an_event_that_keeps_killing_workers_ends_dead(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    await store_event("orders/create", order_payload())
    policy = ProcessingPolicy(max_attempts=2, retry_base_seconds=0, lease_seconds=0.01)
    for _ in range(2):  # two crashes after claiming
        assert await WebhookProcessor(settings, "doomed", policy=policy).claim() is not None
        await asyncio.sleep(0.02)
    processor = WebhookProcessor(settings, "next", policy=policy)
    assert await processor.process_one() is True
    [event] = await _events()
    assert event.dead and not event.processed and event.attempts == 3


async def test_handler_errors_are_recorded(settings: Settings, db: Database) -> None:
    async def broken(context: WebhookContext) -> str:
        raise HandlerError("shop is on fire")

    await store_event("app/uninstalled", {"id": 1})
    processor = WebhookProcessor(settings, "w", policy=FAST, handlers={"app/uninstalled": broken})
    await processor.process_one()
    [event] = await _events()
    assert event.error == "shop is on fire" and event.attempts == 1
