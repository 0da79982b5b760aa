"""How the webhook senders claim and settle deliveries in batches, against the real database:
the senders of one process share one read of the queue (`DueWindow`), a stale read is read
again rather than leaving work due, and a batch's outcomes are written together, each delivery
with its own attempt and only where its lease still holds."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.jobs.notifications import workers
from app.jobs.runner import BackgroundRunner
from app.models import WebhookDelivery
from app.models.bson import to_bson
from app.models.return_request import ReturnEventType
from app.models.webhook_endpoint import DeliveryAttempt, DeliveryStatus
from app.services.notifications import delivery as delivery_module
from app.services.notifications.addresses import AddressPolicy
from app.services.notifications.delivery import (
    MAX_LOGGED_ATTEMPTS,
    AttemptResult,
    BatchOutcomes,
    DeliveryPolicy,
    DeliveryWorker,
    DueWindow,
)
from app.services.notifications.endpoints import EndpointInput, create_endpoint

POLICY = DeliveryPolicy(batch=8, addresses=AddressPolicy(allow_loopback=True))


async def _due(tenant: str, count: int, first: int = 0) -> None:
    now = datetime.now(UTC)
    await WebhookDelivery.insert_many(
        [
            WebhookDelivery(
                tenant_id=tenant,
                endpoint_id=str(ObjectId()),
                event_id=f"evt_{tenant}{index:04d}",
                event_type=ReturnEventType.APPROVED,
                return_id="r",
                body="{}",
                next_attempt_at=now - timedelta(seconds=1 + index),
            )
            for index in range(first, first + count)
        ]
    )


async def test_senders_of_one_process_never_try_the_same_deliveries(
    settings: Settings, db: Database
) -> None:
    """Two senders sharing a window claim at the same moment, again and again, until the queue
    is empty: every claim wins a whole batch (none races the other for the same ones) and
    nothing is leased twice."""
    await _due("shared-window", 64)
    window = DueWindow()
    senders = [
        DeliveryWorker(f"test:shared:{index}", settings, POLICY, window=window)
        for index in range(2)
    ]
    leased: list[ObjectId | None] = []
    while True:
        batches = await asyncio.gather(*(sender.claim(POLICY.batch) for sender in senders))
        if not any(batches):
            break
        assert [len(batch) for batch in batches] == [POLICY.batch, POLICY.batch]
        leased += [delivery.id for batch in batches for delivery in batch]
    assert len(leased) == 64 and len(set(leased)) == 64


async def test_a_window_others_have_emptied_is_read_again_instead_of_idling(
    settings: Settings, db: Database
) -> None:
    """What a sender read may be leased by another process before it claims from it: the
    claim that finds none of its picks still due reads the queue again and takes what is due
    now (it would otherwise idle a second with work waiting)."""
    await _due("stale-window", 32)
    here = DeliveryWorker("test:stale:here", settings, POLICY)
    assert len(await here.claim(POLICY.batch)) == POLICY.batch  # reads all 32, keeps 24
    elsewhere = DeliveryWorker("test:stale:elsewhere", settings, POLICY)
    assert len(await elsewhere.claim(24)) == 24  # another process takes those 24
    await _due("stale-window", 8, first=100)
    fresh = await here.claim(POLICY.batch)
    assert sorted(d.event_id for d in fresh) == [
        f"evt_stale-window{i:04d}" for i in range(100, 108)
    ]


async def test_a_batchs_outcomes_are_written_each_with_its_own_attempt_under_its_lease(
    settings: Settings, db: Database
) -> None:
    """Successes are settled by one update of them all: each delivery logs its own attempt
    (an answer starting with "$" is kept as text, not read as a field path); a delivery whose
    lease another sender holds by now is left to it; a retry is written beside them."""
    await _due("outcomes", 6)
    sender = DeliveryWorker("test:outcomes", settings, POLICY)
    batch = await sender.claim(POLICY.batch)
    assert len(batch) == 6
    retried, taken_over, settled, *succeeded = sorted(batch, key=lambda d: d.event_id)
    collection = WebhookDelivery.get_pymongo_collection()
    await collection.update_one({"_id": taken_over.id}, {"$set": {"lease_owner": "another-sender"}})
    await collection.update_one(  # settled meanwhile under the same lease (as a replay would)
        {"_id": settled.id}, {"$set": {"status": DeliveryStatus.FAILED.value}}
    )
    earlier = [  # a delivery replayed often: the log keeps the newest MAX_LOGGED_ATTEMPTS
        to_bson(DeliveryAttempt(at=datetime.now(UTC), duration_ms=n, status_code=500))
        for n in range(MAX_LOGGED_ATTEMPTS)
    ]
    await collection.update_one({"_id": succeeded[0].id}, {"$set": {"attempts": earlier}})
    answers = ["$$ROOT", '{"$set": 1}', "ok"]
    at = datetime.now(UTC)
    outcomes = BatchOutcomes()
    for index, (delivery, answer) in enumerate(zip(succeeded, answers, strict=True)):
        outcomes.add_success(
            delivery,
            DeliveryAttempt(
                at=at, duration_ms=10 + index, status_code=200 + index, response=answer
            ),
        )
    outcomes.add_success(taken_over, DeliveryAttempt(at=at, duration_ms=1, status_code=204))
    outcomes.add_success(settled, DeliveryAttempt(at=at, duration_ms=1, status_code=204))
    await sender._record(  # a failed attempt to try again later, in the same batch write
        retried,
        DeliveryAttempt(at=at, duration_ms=5, status_code=500),
        {"failures": 1, "failure": "answered 500", "lease_owner": None},
        outcomes=outcomes,
    )
    await outcomes.write()

    stored = {d.id: d for d in await WebhookDelivery.find({"tenant_id": "outcomes"}).to_list()}
    for index, (delivery, answer) in enumerate(zip(succeeded, answers, strict=True)):
        done = stored[delivery.id]
        assert done.status is DeliveryStatus.SUCCEEDED and done.lease_owner is None
        assert done.settled_at is not None and done.next_attempt_at is None
        attempt = done.attempts[-1]
        assert (attempt.status_code, attempt.duration_ms, attempt.response) == (
            200 + index,
            10 + index,
            answer,
        )
    logged = stored[succeeded[0].id].attempts
    assert len(logged) == MAX_LOGGED_ATTEMPTS and logged[0].duration_ms == 1  # oldest dropped
    assert [len(stored[d.id].attempts) for d in succeeded[1:]] == [1, 1]
    assert stored[taken_over.id].status is DeliveryStatus.PENDING
    assert stored[taken_over.id].attempts == []
    assert stored[settled.id].status is DeliveryStatus.FAILED and stored[settled.id].attempts == []
    assert stored[retried.id].status is DeliveryStatus.PENDING
    assert [a.status_code for a in stored[retried.id].attempts] == [500]
    assert stored[retried.id].failures == 1


def test_the_senders_of_one_process_share_one_window(settings: Settings) -> None:
    senders = [
        w
        for w in workers(settings, "test", make_return_renderer(settings))
        if isinstance(w, DeliveryWorker)
    ]
    assert len(senders) == settings.merchant_webhook_workers >= 2
    assert len({id(sender.window) for sender in senders}) == 1


class Receivers:
    """`send_once` as the test scripts it: a delivery whose event is gated answers only once
    its gate opens; the others at once."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, event_id: str) -> asyncio.Event:
        return self.gates.setdefault(event_id, asyncio.Event())

    async def send_once(
        self, endpoint: Any, delivery: WebhookDelivery, settings: Any, policy: Any
    ) -> AttemptResult:
        if delivery.event_id in self.gates:
            await self.gates[delivery.event_id].wait()
        return AttemptResult(DeliveryAttempt(at=datetime.now(UTC), duration_ms=1, status_code=200))


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Receivers:
    scripted = Receivers()
    monkeypatch.setattr(delivery_module, "send_once", scripted.send_once)
    return scripted


def _batches_of_two(wait_seconds: float) -> DeliveryPolicy:
    return DeliveryPolicy(
        batch=2, batch_wait_seconds=wait_seconds, addresses=AddressPolicy(allow_loopback=True)
    )


async def _to_endpoint(tenant: str, settings: Settings, *event_ids: str) -> None:
    made = await create_endpoint(
        tenant, EndpointInput(url="http://127.0.0.1:9/hook", topics=list(ReturnEventType)), settings
    )
    assert made.endpoint is not None
    await WebhookDelivery.insert_many(
        [
            WebhookDelivery(
                tenant_id=tenant,
                endpoint_id=str(made.endpoint.id),
                event_id=event_id,
                event_type=ReturnEventType.APPROVED,
                return_id="r",
                body="{}",
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
            )
            for event_id in event_ids
        ]
    )


async def _stored(tenant: str) -> dict[str, WebhookDelivery]:
    return {d.event_id: d for d in await WebhookDelivery.find({"tenant_id": tenant}).to_list()}


async def test_a_send_that_outlives_its_batch_writes_its_own_outcome_and_caps_the_sender(
    settings: Settings, db: Database, receivers: Receivers
) -> None:
    """A batch waits `batch_wait_seconds` for its sends: those done are settled by its write,
    one still running finishes beside the next batches and settles itself. With a batch of
    those running, the sender claims nothing more until one ends."""
    sender = DeliveryWorker("test:late", settings, _batches_of_two(0.2))
    tenant = "late-sends"
    first, second = receivers.gate("evt_late_a"), receivers.gate("evt_late_b")
    await _to_endpoint(tenant, settings, "evt_late_a", "evt_late_b")
    assert await sender.run_once()  # both still sending when the batch stops waiting
    await _to_endpoint(tenant, settings, "evt_late_c")
    capped = asyncio.create_task(sender.run_once())
    await asyncio.sleep(0.3)
    assert not capped.done() and (await _stored(tenant))["evt_late_c"].claims == 0
    first.set()  # one late send ends: its outcome is written, and the sender claims again
    assert await capped
    stored = await _stored(tenant)
    assert stored["evt_late_a"].status is DeliveryStatus.SUCCEEDED
    assert stored["evt_late_c"].status is DeliveryStatus.SUCCEEDED  # the batch's own write
    assert stored["evt_late_b"].status is DeliveryStatus.PENDING  # still sending
    second.set()
    assert await sender.run_until_idle() == 0  # waits for the last late send
    stored = await _stored(tenant)
    assert all(d.status is DeliveryStatus.SUCCEEDED for d in stored.values())
    assert all(len(d.attempts) == 1 for d in stored.values())


async def test_a_sender_stopped_mid_batch_writes_what_was_answered(
    settings: Settings, db: Database, receivers: Receivers
) -> None:
    """The runner cancels a sender waiting on its batch: what its receivers answered is
    written; a send still running goes on and settles itself; closing the sender cancels the
    sends it still has, whose deliveries stay leased, to be sent again after the lease."""
    policy = _batches_of_two(30.0)
    sender = DeliveryWorker("test:stopped", settings, policy)
    tenant = "stopped-sends"
    gate = receivers.gate("evt_stop_slow")
    await _to_endpoint(tenant, settings, "evt_stop_fast", "evt_stop_slow")
    waiting = asyncio.create_task(sender.run_once())
    await asyncio.sleep(0.3)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    for _ in range(250):  # the batch's write goes on after the cancel (`aclose` waits for it)
        stored = await _stored(tenant)
        if stored["evt_stop_fast"].status is DeliveryStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.02)
    assert stored["evt_stop_fast"].status is DeliveryStatus.SUCCEEDED
    assert stored["evt_stop_slow"].status is DeliveryStatus.PENDING
    gate.set()
    assert await sender.run_until_idle() == 0
    assert (await _stored(tenant))["evt_stop_slow"].status is DeliveryStatus.SUCCEEDED

    receivers.gate("evt_stop_never")  # never answers
    await _to_endpoint(tenant, settings, "evt_stop_never")
    closing = DeliveryWorker("test:closing", settings, replace(policy, batch_wait_seconds=0.1))
    assert await closing.run_once()  # its one send still running
    await closing.aclose(0.1)
    never = (await _stored(tenant))["evt_stop_never"]
    assert never.status is DeliveryStatus.PENDING and never.attempts == []
    assert never.lease_owner is not None  # leased: due again when the lease ends


async def test_a_stopping_runner_closes_the_sends_its_senders_still_have(
    settings: Settings, db: Database, receivers: Receivers
) -> None:
    """`BackgroundRunner.stop` gives a sender's running sends its grace, then cancels them: none
    is left running (and writing) after the runner said it stopped."""
    receivers.gate("evt_runner_slow")  # never answers
    await _to_endpoint("runner-stop", settings, "evt_runner_slow")
    sender = DeliveryWorker("test:runner", settings, _batches_of_two(0.05))
    runner = BackgroundRunner([sender])
    runner.start()
    for _ in range(100):  # until the send is running beyond its batch
        if sender._stragglers:
            break
        await asyncio.sleep(0.02)
    running = set(sender._stragglers)
    assert running
    await runner.stop(grace_seconds=0.1)
    assert all(task.done() for task in running) and not sender._stragglers
