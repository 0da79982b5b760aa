"""`rms bench` notifications: merchants' webhooks, measured in this process on the bench's
database, against a receiver on loopback (uvicorn in a process of its own, answering 204).

- Drain rate: the same number of deliveries sent by `MERCHANT_WEBHOOK_WORKERS` delivery workers
  (claim a batch, address check, sign, POST them at once, record each) against a raw loop of
  that many httpx POSTs of the same body with as many in flight (workers x batch): what a
  script with nothing to claim, sign or record would do.
- Transitions: `approveReturn`'s service call, p50, for a shop with an endpoint subscribed to
  every event (the dispatcher and the senders running beside it in the same loop, as in an API
  process with its runner) against a shop with none (the dispatcher only). Both write the same
  document update: the event is queued by the transition either way. Measured in blocks of a
  few seconds, off, on, on, off (`APPROVAL_BLOCKS`), on returns made without a creation event,
  so the background work is what the approvals' own events make; every message must be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from app.clock import utcnow
from app.db import connect
from app.graphql.returns.snapshot import make_return_renderer
from app.jobs.runner import BackgroundRunner
from app.models import Return, WebhookDelivery
from app.models.bson import to_bson
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import (
    ReturnEventType,
    ReturnItem,
    ReturnReason,
    ReturnStatus,
    ReturnTransition,
)
from app.models.webhook_endpoint import DeliveryStatus
from app.services.notifications.addresses import AddressPolicy
from app.services.notifications.delivery import DeliveryPolicy, DeliveryWorker, DueWindow
from app.services.notifications.dispatch import ReturnEventDispatcher
from app.services.notifications.endpoints import EndpointInput, create_endpoint
from app.services.returns.transitions import approve_return
from tools.bench.report import FAIL, PASS, Report, Row
from tools.devdb import free_port

if TYPE_CHECKING:
    from tools.bench.harness import Stack

LOOPBACK = AddressPolicy(allow_loopback=True)
_ITEM = {"title": "T-shirt", "quantity": 1, "unitPrice": {"amount": "25.00", "currencyCode": "USD"}}
# About the size of a real message (a return of a dozen lines).
BODY = orjson.dumps(
    {"type": "return.approved", "data": {"return": {"id": "x", "items": [_ITEM] * 12}}}
).decode()


@contextlib.contextmanager
def _receiver() -> Iterator[str]:
    """The receiver's URL, served by a process of its own (`tools/bench/receiver.py`)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.receiver", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench's webhook receiver did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _raw_drain(url: str, count: int, senders: int) -> float:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        left = iter(range(count))

        async def sender() -> None:
            for _ in left:
                response = await http.post(
                    url, content=BODY.encode(), headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return time.perf_counter() - started


async def _our_drain(stack: Stack, url: str, count: int) -> tuple[float, int]:
    settings = stack.settings()
    tenant = "bench-notify-drain"
    made = await create_endpoint(
        tenant, EndpointInput(url=url, topics=list(ReturnEventType)), settings
    )
    assert made.endpoint is not None, made.user_errors
    now = utcnow()
    documents = []
    for index in range(count):
        document = to_bson(
            WebhookDelivery(
                tenant_id=tenant,
                endpoint_id=str(made.endpoint.id),
                event_id=f"evt_bench{index:08d}",
                event_type=ReturnEventType.APPROVED,
                return_id="bench",
                body=BODY,
                next_attempt_at=now,
                created_at=now,
            )
        )
        document.pop("_id", None)
        document.pop("id", None)
        documents.append(document)
    await WebhookDelivery.get_pymongo_collection().insert_many(documents)
    policy = DeliveryPolicy(addresses=LOOPBACK)
    window = DueWindow()  # as `app.jobs.notifications` gives the senders of one process
    workers = [
        DeliveryWorker(f"bench:{index}", settings, policy, window=window)
        for index in range(settings.merchant_webhook_workers)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(worker.run_until_idle() for worker in workers))
    seconds = time.perf_counter() - started
    sent = await WebhookDelivery.get_pymongo_collection().count_documents(
        {"tenant_id": tenant, "status": DeliveryStatus.SUCCEEDED.value}
    )
    return seconds, int(sent)


async def _requested_returns(tenant: str, count: int, first: int) -> list[str]:
    ids = []
    for index in range(first, first + count):
        record = Return(
            tenant_id=tenant,
            order_id=f"90000{index}",
            order_number=str(5000 + index),
            customer_email="bench@example.com",
            items=[
                ReturnItem(
                    line_item_id=f"80000{index}",
                    title="T-shirt",
                    quantity=1,
                    unit_price=Decimal("25.00"),
                    reason=ReturnReason.DEFECTIVE,
                )
            ],
            return_method=ReturnMethod.CUSTOMER_SHIPS,
            resolution_type=ResolutionType.REFUND,
        )
        record.history = [
            ReturnTransition(at=utcnow(), actor="bench", to_status=ReturnStatus.REQUESTED)
        ]
        await record.insert()  # no creation event: only the approvals' own events are sent
        ids.append(str(record.id))
    return ids


OFF_TENANT, ON_TENANT = "bench-notify-off", "bench-notify-on"
# Blocks of approvals, off, on, on, off: a drift of the machine or of the growing database
# during the measurement falls on both alike. A block lasts seconds (`notify_approvals` each),
# several of the senders' and the dispatcher's polls, so the approvals meet the background work
# their own events make as they would in a process with its runner.
APPROVAL_BLOCKS = (False, True, True, False)


@dataclass(slots=True)
class Block:
    seconds: list[float]  # each approval's
    sent_in_time: int  # the block's messages sent by the time its clock stopped


def _sent(tenant: str) -> Awaitable[int]:
    return WebhookDelivery.get_pymongo_collection().count_documents(
        {"tenant_id": tenant, "status": DeliveryStatus.SUCCEEDED.value}
    )


async def _approvals(stack: Stack, notify: bool, count: int, first: int) -> Block:
    """`approve_return` timed for `count` requested returns of the shop with an endpoint on
    every event (`notify`) or of the shop with none, the dispatcher (and the senders) running
    beside them; after the clock stops, their events are handed over and sent before the
    next block."""
    settings = stack.settings()
    tenant = ON_TENANT if notify else OFF_TENANT
    ids = await _requested_returns(tenant, count, first)
    dispatcher = ReturnEventDispatcher("bench:events", make_return_renderer(settings))
    senders = []
    if notify:
        policy = DeliveryPolicy(addresses=LOOPBACK)
        window = DueWindow()
        senders = [
            DeliveryWorker(f"bench:send:{i}", settings, policy, window=window)
            for i in range(settings.merchant_webhook_workers)
        ]
    sent_before = await _sent(tenant)
    runner = BackgroundRunner([dispatcher, *senders])  # as in a process with its runner
    runner.start()
    each = []
    try:
        for return_id in ids:
            started = time.perf_counter()
            result = await approve_return(tenant, return_id, "bench")
            each.append(time.perf_counter() - started)
            assert result.record is not None, result.user_errors
            await asyncio.sleep(0.005)  # a staff member's pace, not a tight loop
        sent_in_time = await _sent(tenant) - sent_before  # as the clock stops
    finally:
        await runner.stop(grace_seconds=DeliveryPolicy().timeout_seconds)
    # What is left of this block's events, untimed: handed over, then sent to the end.
    while await dispatcher.run_once():
        pass
    for sender in senders:
        await sender.run_until_idle()
    return Block(each, sent_in_time)


async def _approvals_off_and_on(stack: Stack, url: str, approvals: int) -> dict[str, float]:
    """p50 and p90 ms of `approve_return` without and with an endpoint (`approvals` per
    block), how many of the approvals' messages were sent while the clock ran and in the end."""
    await create_endpoint(
        ON_TENANT, EndpointInput(url=url, topics=list(ReturnEventType)), stack.settings()
    )
    blocks: dict[bool, list[Block]] = {False: [], True: []}
    for number, notify in enumerate(APPROVAL_BLOCKS):
        blocks[notify].append(await _approvals(stack, notify, approvals, number * approvals))
    found: dict[str, float] = {}
    for notify, name in ((False, "off"), (True, "on")):
        ms = [value * 1000 for block in blocks[notify] for value in block.seconds]
        found[f"approve_{name}_ms"] = statistics.median(ms)
        found[f"approve_{name}_p90_ms"] = statistics.quantiles(ms, n=10)[-1]
        found[f"approvals_{name}"] = len(ms)
    found["approvals_on_sent_in_time"] = sum(block.sent_in_time for block in blocks[True])
    found["approvals_on_sent"] = await _sent(ON_TENANT)
    return found


async def _run(stack: Stack, url: str, deliveries: int, approvals: int) -> dict[str, Any]:
    database = await connect(stack.settings(), create_indexes=False)
    try:
        # as many POSTs in flight as ours: each worker sends its claimed batch at once
        senders = stack.settings().merchant_webhook_workers * DeliveryPolicy().batch
        raw_seconds = await _raw_drain(url, deliveries, senders)
        ours_seconds, sent = await _our_drain(stack, url, deliveries)
        approved = await _approvals_off_and_on(stack, url, approvals)
        return {
            "raw_seconds": raw_seconds,
            "ours_seconds": ours_seconds,
            "sent": sent,
            "senders": senders,
            **approved,
        }
    finally:
        await database.close()


def measure_notifications(stack: Stack, report: Report) -> None:
    deliveries = stack.config.notify_deliveries
    approvals = stack.config.notify_approvals
    with _receiver() as url:
        found = asyncio.run(_run(stack, url, deliveries, approvals))
    raw_rate = deliveries / found["raw_seconds"]
    ours_rate = found["sent"] / found["ours_seconds"]
    report.add(
        Row(
            f"drain {deliveries} merchant webhook deliveries to a loopback receiver",
            f"deliveries/s ({found['senders']} in flight)",
            "deliveries/s",
            ours_rate,
            raw_rate,
            ">= 50% of baseline",
            PASS if found["sent"] == deliveries and ours_rate >= 0.5 * raw_rate else FAIL,
            note="baseline: raw httpx POSTs of the same body, as many at once",
            details=found,
        )
    )
    off, on = found["approve_off_ms"], found["approve_on_ms"]
    # Every message sent in the end, and a good share while the clock ran: the senders really
    # worked beside the timed approvals (the one dispatcher, rendering each return's message,
    # runs a few seconds behind a staff member approving 40 a second, so not all of them).
    background_worked = (
        found["approvals_on_sent"] == found["approvals_on"]
        and found["approvals_on_sent_in_time"] >= 0.25 * found["approvals_on"]
    )
    report.add(
        Row(
            f"approveReturn ({found['approvals_on']:.0f} of each) with an endpoint on every event"
            " vs none",
            "p50 (service call)",
            "ms",
            on,
            off,
            "within 10% of no endpoint",
            PASS if on <= 1.10 * off and background_worked else FAIL,
            note=(
                "dispatcher and senders running beside it; baseline: a shop with no endpoint; "
                f"p90 {found['approve_on_p90_ms']:.1f} vs {found['approve_off_p90_ms']:.1f} ms; "
                f"blocks of {approvals} off, on, on, off; messages sent "
                f"{found['approvals_on_sent']:.0f} of {found['approvals_on']:.0f}, "
                f"{found['approvals_on_sent_in_time']:.0f} while timed"
            ),
        )
    )
