"""Pieces the scenarios share: sync workers and their loops, webhook processors that count
completions, ingesting events, reading what was stored, cross-tenant probes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
from pymongo.errors import PyMongoError

from app.db import Database, connect
from app.models.sync_job import SyncStatus, SyncType
from tools.chaos.environment import Stack
from tools.chaos.figures import Figures

SYNC_OPTIONS_FAST: dict[str, Any] = {
    "lease_seconds": 1.5,
    "retry_backoff": 0.05,
    "bulk_poll_interval": 0.05,
    "bulk_threshold": 10**9,  # paged: one page per lease-guarded write, resumable by cursor
}
_workers = itertools.count(1)


@contextlib.contextmanager
def wrapped(owner: Any, name: str, wrapper: Callable[..., Any]) -> Iterator[None]:
    """Replace `owner.name` with `wrapper(original)` for the block: how a scenario reaches the
    worst moment of a write path (right after the step it crashes behind)."""
    original = getattr(owner, name)
    setattr(owner, name, wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


async def order_ids(raw: Any, tenant_id: str) -> list[str]:
    return [d["shopify_id"] async for d in raw["orders"].find({"tenant_id": tenant_id})]


async def cross_tenant_reads(stack: Stack, reader_key: str, victim_tenant: str) -> int:
    """Records of `victim_tenant` that `reader_key` can read through GraphQL (must be 0)."""
    victim_ids = await order_ids(stack.raw, victim_tenant)
    headers = {"Authorization": f"Bearer {reader_key}"}
    leaked = 0
    response = await stack.http.post(
        f"{stack.app_url}/graphql",
        json={"query": "{ orders(first: 100) { nodes { id } } }"},
        headers=headers,
    )
    leaked += sum(1 for shopify_id in victim_ids if shopify_id in response.text)
    for shopify_id in victim_ids[:20]:
        response = await stack.http.post(
            f"{stack.app_url}/graphql",
            json={
                "query": "query($id: ID!) { order(id: $id) { id } }",
                "variables": {"id": shopify_id},
            },
            headers=headers,
        )
        if (response.json().get("data") or {}).get("order") is not None:
            leaked += 1
        response = await stack.http.post(
            f"{stack.app_url}/graphql",
            json={"query": "{ orders(first: 5) { nodes { id } } }"},
            headers={**headers, "X-Tenant-Id": victim_tenant},
        )
        if shopify_id in response.text:
            leaked += 1
    return leaked


# Sync ------------------------------------------------------------------------------------------
async def beanie(stack: Stack) -> Database:
    return await connect(stack.settings)


def sync_worker(stack: Stack, name: str, **options: Any) -> Any:
    from app.jobs.sync import SyncWorker
    from app.services.sync.engine import SyncOptions

    merged = {**SYNC_OPTIONS_FAST, **options}
    return SyncWorker(
        stack.settings, stack.http, f"chaos-{name}-{next(_workers)}", options=SyncOptions(**merged)
    )


async def queue_full_sync(tenant_id: str) -> Any:
    from app.services.sync.jobs import queue_sync

    result = await queue_sync(tenant_id, SyncType.FULL, 3650)
    if result.job is None:
        raise RuntimeError(f"sync not queued: {result.issues}")
    return result.job.id


async def job(stack: Stack, job_id: Any) -> dict[str, Any]:
    doc: dict[str, Any] | None = await stack.raw["sync_jobs"].find_one({"_id": job_id})
    return doc or {}


async def keep_working(worker: Any, stop: asyncio.Event) -> None:
    """A runner loop: claim and run jobs until told to stop; survive database errors."""
    while not stop.is_set():
        try:
            if not await worker.run_once():
                await asyncio.sleep(0.05)
        except PyMongoError:
            await asyncio.sleep(0.1)


async def stop_workers(
    runners: list[asyncio.Task[None]], stop: asyncio.Event, figures: Figures
) -> None:
    """Let the runner loops end; one blocked in a database call is cancelled and noted."""
    stop.set()
    _, stuck = await asyncio.wait(runners, timeout=15)
    for task in stuck:
        task.cancel()
        figures.notes.append("a worker was stuck in a database call and had to be cancelled")
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*runners, return_exceptions=True)


async def add_sync_figures(
    stack: Stack, figures: Figures, tenant_id: str, domain: str, job_ids: list[Any]
) -> None:
    """A completed job acknowledges every order Shopify has: count them, and what was stored."""
    docs = [await job(stack, job_id) for job_id in job_ids]
    completed = [doc for doc in docs if doc.get("status") == SyncStatus.COMPLETED.value]
    for job_id, doc in zip(job_ids, docs, strict=True):
        figures.check(bool(doc), f"job {job_id} document lost in the crash")
        figures.check(
            not doc or doc.get("status") == SyncStatus.COMPLETED.value,
            f"job {doc.get('_id')} {doc.get('status')}: {doc.get('error')}",
        )
    expected = {record["id"].rsplit("/", 1)[-1] for record in stack.simulator_orders(domain)}
    stored = await order_ids(stack.raw, tenant_id)
    if completed:
        figures.acknowledged = (figures.acknowledged or 0) + len(expected)
        figures.stored = (figures.stored or 0) + len(expected & set(stored))
    running_twice = await stack.raw["sync_jobs"].count_documents(
        {"tenant_id": tenant_id, "active": True}
    )
    figures.duplicated += len(stored) - len(set(stored)) + max(0, running_twice - 1)
    _add(figures, "jobs_done", len(completed))
    _add(figures, "resumed", sum(int(doc.get("attempts") or 0) > 1 for doc in completed))


def _add(figures: Figures, key: str, value: int) -> None:
    current = figures.details.get(key, 0)
    figures.details[key] = (current if isinstance(current, int) else 0) + value


# Webhook events in process ------------------------------------------------------------------
class CountingProcessor:
    """A `WebhookProcessor` whose successful completions are counted per event."""

    def __init__(
        self, settings: Any, name: str, lease_seconds: float, counts: Counter[str]
    ) -> None:
        from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor

        policy = ProcessingPolicy(lease_seconds=lease_seconds, retry_base_seconds=0.05)
        self.inner = WebhookProcessor(settings, name, policy=policy)
        self.counts = counts
        original = self.inner.complete

        async def counted(event: dict[str, Any], result: str) -> bool:
            done = await original(event, result)
            if done:
                self.counts[str(event["event_id"])] += 1
            return done

        self.inner.complete = counted  # type: ignore[method-assign]


async def ingest_orders(stack: Stack, domain: str, records: list[dict[str, Any]]) -> list[str]:
    """`orders/create` events for `records`, persisted as the webhook route does (acknowledged)."""
    from app.services.webhooks.ingest import build_event_document, persist_event

    event_ids = []
    for record in records:
        event_id = str(uuid.uuid4())
        body = orjson.dumps(stack.rest_order_payload(domain, record))
        headers = {
            "x-shopify-topic": "orders/create",
            "x-shopify-shop-domain": domain,
            "x-shopify-event-id": event_id,
            "x-shopify-webhook-id": str(uuid.uuid4()),
        }
        await persist_event(build_event_document("orders/create", headers, body))
        event_ids.append(event_id)
    return event_ids


async def add_event_figures(
    stack: Stack, figures: Figures, tenant_id: str, sent: list[str], counts: Counter[str]
) -> None:
    """Persisted events are acknowledged; each must be stored and completed exactly once."""
    docs = (
        await stack.raw["webhook_events"]
        .find({"tenant_id": tenant_id}, {"event_id": 1, "processed": 1})
        .to_list(None)
    )
    stored = {d["event_id"] for d in docs}
    figures.acknowledged = (figures.acknowledged or 0) + len(sent)
    figures.stored = (figures.stored or 0) + len(set(sent) & stored)
    processed = sum(1 for d in docs if d.get("processed") and counts[d["event_id"]] == 1)
    figures.duplicated += sum(max(0, c - 1) for c in counts.values())
    figures.check(
        processed == len(stored), f"{len(stored)} events stored, {processed} processed once"
    )
    _add(figures, "events_done", processed)


async def run_processors(processors: list[CountingProcessor]) -> None:
    await asyncio.gather(*(p.inner.run_until_idle() for p in processors))


Scenario = Callable[..., Awaitable[Figures]]
