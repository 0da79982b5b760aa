"""How the webhook senders claim and settle deliveries in batches, against the real database:
the senders of one process share one read of the queue (`DueWindow`), a stale read is read
again rather than leaving work due, and a batch's outcomes are written together, each delivery
with its own attempt and only where its lease still holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.jobs.notifications import workers
from app.models import WebhookDelivery
from app.models.bson import to_bson
from app.models.return_request import ReturnEventType
from app.models.webhook_endpoint import DeliveryAttempt, DeliveryStatus
from app.services.notifications.addresses import AddressPolicy
from app.services.notifications.delivery import (
    MAX_LOGGED_ATTEMPTS,
    BatchOutcomes,
    DeliveryPolicy,
    DeliveryWorker,
    DueWindow,
)
from app.services.notifications.endpoints import EndpointInput, create_endpoint
from tests.simulator_fixtures import WebhookReceiver

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
        outcomes.succeeded(
            delivery,
            DeliveryAttempt(
                at=at, duration_ms=10 + index, status_code=200 + index, response=answer
            ),
        )
    outcomes.succeeded(taken_over, DeliveryAttempt(at=at, duration_ms=1, status_code=204))
    outcomes.succeeded(settled, DeliveryAttempt(at=at, duration_ms=1, status_code=204))
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


async def test_a_send_that_outlives_its_batch_writes_its_own_outcome(
    settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    """A batch waits `batch_wait_seconds` for its sends; one still running then is left to
    finish beside the next batches and settles its delivery itself (here every send of the
    batch is late: the wait is zero)."""
    tenant = "stragglers"
    path = webhook_receiver.new_path(200)
    made = await create_endpoint(
        tenant,
        EndpointInput(url=webhook_receiver.url(path), topics=list(ReturnEventType)),
        settings,
    )
    assert made.endpoint is not None
    now = datetime.now(UTC)
    await WebhookDelivery.insert_many(
        [
            WebhookDelivery(
                tenant_id=tenant,
                endpoint_id=str(made.endpoint.id),
                event_id=f"evt_late{index}",
                event_type=ReturnEventType.APPROVED,
                return_id="r",
                body="{}",
                next_attempt_at=now - timedelta(seconds=1),
            )
            for index in range(3)
        ]
    )
    policy = DeliveryPolicy(
        batch=8, batch_wait_seconds=0.0, addresses=AddressPolicy(allow_loopback=True)
    )
    sender = DeliveryWorker("test:late", settings, policy)
    assert await sender.run_once()  # claimed and started; nothing finished within the wait
    assert not await sender.run_once()  # nothing more due: waits for the late ones, then idle
    stored = await WebhookDelivery.find({"tenant_id": tenant}).to_list()
    assert [d.status for d in stored] == [DeliveryStatus.SUCCEEDED] * 3
    assert all(len(d.attempts) == 1 and d.attempts[0].status_code == 200 for d in stored)
    assert len(webhook_receiver.at(path)) == 3
