"""Fault scenarios. Each builds its own stack, injects its fault and returns `Figures`.

The fast test slice (tests/faults) runs them small; `rms chaos` runs them larger.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from pymongo.errors import PyMongoError

from app.db import Database, connect
from app.models.sync_job import SyncStatus, SyncType
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures

SYNC_OPTIONS_FAST: dict[str, Any] = {
    "lease_seconds": 1.5,
    "retry_backoff": 0.05,
    "bulk_poll_interval": 0.05,
    "bulk_threshold": 10**9,  # paged: one page per lease-guarded write, resumable by cursor
}
_workers = itertools.count(1)


def _shopify_id(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


async def _order_ids(raw: Any, tenant_id: str) -> list[str]:
    return [d["shopify_id"] async for d in raw["orders"].find({"tenant_id": tenant_id})]


async def _cross_tenant_reads(stack: Stack, reader_key: str, victim_tenant: str) -> int:
    """Records of `victim_tenant` that `reader_key` can read through GraphQL (must be 0)."""
    victim_ids = await _order_ids(stack.raw, victim_tenant)
    headers = {"Authorization": f"Bearer {reader_key}"}
    leaked = 0
    response = await stack.http.post(
        f"{stack.app_url}/graphql",
        json={"query": "{ orders(first: 100) { nodes { id } } }"},
        headers=headers,
    )
    text = response.text
    leaked += sum(1 for shopify_id in victim_ids if shopify_id in text)
    for shopify_id in victim_ids[:20]:
        response = await stack.http.post(
            f"{stack.app_url}/graphql",
            json={
                "query": "query($id: ID!) { order(id: $id) { id } }",
                "variables": {"id": shopify_id},
            },
            headers={**headers},
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


# 1. Database killed during webhook ingest ----------------------------------------------------
async def webhooks_with_database_restart(root: Path, events: int = 12) -> Figures:
    """Orders created in Shopify while our database is killed and restarted: every event
    Shopify got a 2xx for is stored once and processed once; refused ones are retried."""
    figures = Figures("webhooks: db killed during ingest")
    started = time.monotonic()
    async with Stack(
        root,
        serve_app=True,
        socket_timeout_ms=None,  # as deployed: the ingest path answers 503 while the db is down
        webhook_lease_seconds=2.0,
        webhook_retry_base_seconds=0.2,
        webhook_idle_seconds=0.05,
    ) as stack:
        victim_shop = await stack.new_shop(orders=0)
        other_shop = await stack.new_shop(orders=0, prefix="other")
        victim = await stack.install_through_the_app(victim_shop)
        other = await stack.install_through_the_app(other_shop)
        kill_at, restart_at = events // 3, (2 * events) // 3
        for index in range(events):
            if index == kill_at:
                await stack.kill_database()
            if index == restart_at:
                await asyncio.sleep(1.5)  # deliveries meet the outage and are retried
                await stack.restart_database()
            await stack.control.create_order(victim_shop)
        await stack.control.settle(victim_shop, timeout=60)

        async def all_processed() -> bool:
            stored: int = await stack.raw["webhook_events"].count_documents({"tenant_id": victim})
            done: int = await stack.raw["webhook_events"].count_documents(
                {"tenant_id": victim, "processed": True}
            )
            return stored > 0 and stored == done

        with contextlib.suppress(TimeoutError):
            await eventually(all_processed, 60, 0.1)
        deliveries = (await stack.control.deliveries(victim_shop))["deliveries"]
        attempts = [
            d for d in deliveries if d.get("event_id") and d.get("topic") == "orders/create"
        ]
        sent = {d["event_id"] for d in attempts}
        acknowledged = {
            d["event_id"] for d in attempts if 200 <= int(d.get("status_code") or 0) < 300
        }
        refused = sum(1 for d in attempts if int(d.get("status_code") or 0) >= 500)
        stored_docs = (
            await stack.raw["webhook_events"]
            .find({"tenant_id": victim, "topic": "orders/create"}, {"event_id": 1, "processed": 1})
            .to_list(None)
        )
        stored_ids = Counter(doc["event_id"] for doc in stored_docs)
        figures.events_sent = len(sent)
        figures.events_acknowledged = len(acknowledged)
        figures.events_stored = len(stored_ids)
        figures.events_processed = sum(1 for doc in stored_docs if doc.get("processed"))
        figures.events_completed_twice = sum(count - 1 for count in stored_ids.values())
        lost = acknowledged - set(stored_ids)
        if lost:
            figures.notes.append(f"acknowledged but not stored: {sorted(lost)[:3]}")
        unacknowledged = sent - acknowledged
        if unacknowledged:
            figures.notes.append(f"{len(unacknowledged)} events never acknowledged (retries left)")
        figures.notes.append(f"{refused} deliveries answered 5xx while the database was down")
        order_ids = await _order_ids(stack.raw, victim)
        figures.orders_expected = events
        figures.orders_stored = len(set(order_ids))
        figures.jobs_duplicated = len(order_ids) - len(set(order_ids))
        figures.cross_tenant_reads = await _cross_tenant_reads(
            stack, await stack.api_key(other), victim
        )
    figures.seconds = time.monotonic() - started
    return figures


# Sync helpers -----------------------------------------------------------------------------------
async def _beanie(stack: Stack) -> Database:
    return await connect(stack.settings)


def _sync_worker(stack: Stack, name: str, **options: Any) -> Any:
    from app.jobs.sync import SyncWorker
    from app.services.sync.engine import SyncOptions

    merged = {**SYNC_OPTIONS_FAST, **options}
    return SyncWorker(
        stack.settings, stack.http, f"chaos-{name}-{next(_workers)}", options=SyncOptions(**merged)
    )


async def _queue_full_sync(tenant_id: str) -> Any:
    from app.services.sync.jobs import queue_sync

    result = await queue_sync(tenant_id, SyncType.FULL, 3650)
    if result.job is None:
        raise RuntimeError(f"sync not queued: {result.issues}")
    return result.job.id


async def _job(stack: Stack, job_id: Any) -> dict[str, Any]:
    doc: dict[str, Any] | None = await stack.raw["sync_jobs"].find_one({"_id": job_id})
    return doc or {}


async def _keep_working(worker: Any, stop: asyncio.Event) -> None:
    """A runner loop: claim and run jobs until told to stop; survive database errors."""
    while not stop.is_set():
        try:
            if not await worker.run_once():
                await asyncio.sleep(0.05)
        except PyMongoError:
            await asyncio.sleep(0.1)


async def _stop_workers(
    runners: list[asyncio.Task[None]], stop: asyncio.Event, figures: Figures
) -> None:
    """Let the runner loops end; one blocked in a database call forever is cancelled and noted."""
    stop.set()
    _, stuck = await asyncio.wait(runners, timeout=15)
    for task in stuck:
        task.cancel()
        figures.notes.append(
            "a sync worker was stuck in a database call after the restart (no socket timeout "
            "on the client) and had to be cancelled; another worker took its job over"
        )
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*runners, return_exceptions=True)


async def _sync_figures(
    stack: Stack, figures: Figures, tenant_id: str, domain: str, job_ids: list[Any]
) -> None:
    docs = [await _job(stack, job_id) for job_id in job_ids]
    for job_id, doc in zip(job_ids, docs, strict=True):
        if not doc:
            figures.notes.append(f"job {job_id} document lost in the crash")
    figures.jobs_completed = sum(1 for d in docs if d.get("status") == SyncStatus.COMPLETED.value)
    figures.jobs_resumed = sum(
        1
        for d in docs
        if d.get("status") == SyncStatus.COMPLETED.value and int(d.get("attempts") or 0) > 1
    )
    for doc in docs:
        if doc.get("status") != SyncStatus.COMPLETED.value:
            figures.notes.append(f"job {doc.get('_id')} {doc.get('status')}: {doc.get('error')}")
    order_ids = await _order_ids(stack.raw, tenant_id)
    figures.orders_expected = len(stack.simulator_orders(domain))
    figures.orders_stored = len(set(order_ids))
    duplicated = len(order_ids) - len(set(order_ids))
    running_twice = await stack.raw["sync_jobs"].count_documents(
        {"tenant_id": tenant_id, "active": True}
    )
    figures.jobs_duplicated = duplicated + max(0, running_twice - 1)


# 2. Database killed during a sync ---------------------------------------------------------------
async def sync_with_database_restart(root: Path, orders: int = 120) -> Figures:
    """The database dies while a sync is writing pages and comes back: the job completes
    (resumed from its cursor when its lease lapsed) and every order is stored once."""
    figures = Figures("sync: db killed mid-sync")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await _beanie(stack)
        try:
            domain = await stack.new_shop(orders=orders)
            tenant_id = await stack.install_in_process(domain)
            await stack.control.set_faults(domain, latency_ms=150)
            job_id = await _queue_full_sync(tenant_id)
            stop = asyncio.Event()
            # Two workers, as deployed: a worker stuck on a dead connection is covered by the
            # other taking the job over when its lease lapses.
            runners = [
                asyncio.create_task(_keep_working(_sync_worker(stack, name), stop))
                for name in ("a", "b")
            ]

            async def first_page() -> bool:
                job = await _job(stack, job_id)
                return int((job.get("progress") or {}).get("pages") or 0) >= 1

            await eventually(first_page, 60, 0.01)
            before = await _job(stack, job_id)
            await stack.kill_database()
            await asyncio.sleep(1.0)
            await stack.restart_database()
            if before.get("status") != SyncStatus.RUNNING.value:
                figures.notes.append(f"the job was already {before.get('status')} at the crash")

            async def finished() -> bool:
                job = await _job(stack, job_id)
                return job.get("status") not in (SyncStatus.QUEUED.value, SyncStatus.RUNNING.value)

            with contextlib.suppress(TimeoutError):
                await eventually(finished, 90, 0.1)
            await _stop_workers(runners, stop, figures)
            await _sync_figures(stack, figures, tenant_id, domain, [job_id])
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


# 3. Shopify misbehaving during a sync -----------------------------------------------------------
async def sync_with_shopify_faults(root: Path, orders: int = 120) -> Figures:
    """5xx answers, hung requests, a tiny cost bucket and tokens expiring mid-sync: the job
    completes and every order is stored once."""
    figures = Figures("sync: shopify 5xx/timeouts/throttle/expiry")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await _beanie(stack)
        try:
            domain = await stack.new_shop(orders=orders)
            tenant_id = await stack.install_in_process(domain)
            await stack.control.set_faults(
                domain,
                error_rate=0.15,
                error_status=503,
                timeout_rate=0.03,
                hang_seconds=0.5,
                seed=3,
                bucket_size=400,
                restore_rate=400,
                bucket_available=0,
                expire_tokens_in=0.3,
            )
            job_id = await _queue_full_sync(tenant_id)
            stop = asyncio.Event()
            runner = asyncio.create_task(
                _keep_working(_sync_worker(stack, "faults", retries=8), stop)
            )

            async def finished() -> bool:
                status = (await _job(stack, job_id)).get("status")
                return status not in (None, SyncStatus.QUEUED.value, SyncStatus.RUNNING.value)

            with contextlib.suppress(TimeoutError):
                await eventually(finished, 120, 0.1)
            await _stop_workers([runner], stop, figures)
            state = await stack.control.shop_state(domain)
            counters = state.get("counters") or {}
            figures.notes.append(
                "simulator: "
                + ", ".join(
                    f"{key}={value}"
                    for key, value in sorted(counters.items())
                    if isinstance(value, int) and value
                )
            )
            await stack.control.reset_faults(domain)
            await _sync_figures(stack, figures, tenant_id, domain, [job_id])
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


# Webhook events in process (workers killed, racing) -------------------------------------------
class _CountingProcessor:
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


async def _ingest_orders(stack: Stack, domain: str, records: list[dict[str, Any]]) -> list[str]:
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


async def _event_figures(
    stack: Stack, figures: Figures, tenant_id: str, sent: list[str], counts: Counter[str]
) -> None:
    docs = (
        await stack.raw["webhook_events"]
        .find({"tenant_id": tenant_id}, {"event_id": 1, "processed": 1})
        .to_list(None)
    )
    figures.events_sent = len(sent)
    figures.events_acknowledged = len(sent)  # persisted by the ingest path = acknowledged
    figures.events_stored = len({d["event_id"] for d in docs})
    figures.events_processed = sum(
        1 for d in docs if d.get("processed") and counts[d["event_id"]] == 1
    )
    figures.events_completed_twice = sum(max(0, c - 1) for c in counts.values())


async def _run_processors(processors: list[_CountingProcessor]) -> None:
    await asyncio.gather(*(p.inner.run_until_idle() for p in processors))


# 4. Workers killed with events and jobs claimed ---------------------------------------------
async def workers_killed_with_work_claimed(
    root: Path, events: int = 20, orders: int = 60
) -> Figures:
    """One worker claims events (and applies some) and dies; a sync worker dies mid-job. The
    survivors take the work over once the leases lapse: each event completed once, the job
    resumed from its cursor, no order stored twice."""
    figures = Figures("workers killed holding leases")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await _beanie(stack)
        try:
            domain = await stack.new_shop(orders=max(events, orders))
            tenant_id = await stack.install_in_process(domain)
            records = stack.simulator_orders(domain)[:events]
            sent = await _ingest_orders(stack, domain, records)
            counts: Counter[str] = Counter()
            doomed = _CountingProcessor(stack.settings, "doomed", 0.5, counts)
            for index in range(events // 2):  # claimed; half of them applied; never completed
                event = await doomed.inner.claim()
                if event is not None and index % 2 == 0:
                    await doomed.inner.apply(event)
            survivor = _CountingProcessor(stack.settings, "survivor", 0.5, counts)
            await survivor.inner.run_until_idle()
            await asyncio.sleep(0.6)  # the dead worker's leases lapse
            await survivor.inner.run_until_idle()
            await _event_figures(stack, figures, tenant_id, sent, counts)

            # The sync job: worker A dies after its first page; worker B resumes it.
            job_id = await _queue_full_sync(tenant_id)
            first = _sync_worker(stack, "dies")
            from app.services.sync.jobs import claim_next_job

            claimed = await claim_next_job(first.worker_id, first.options.lease_seconds)
            assert claimed is not None
            # Slow Shopify down so the doomed worker cannot finish the job between its first
            # page and the kill (a fast machine otherwise completes it and nothing is resumed).
            await stack.control.set_faults(domain, latency_ms=400)
            run = asyncio.create_task(first.run_claimed(claimed))

            async def first_page() -> bool:
                job = await _job(stack, job_id)
                return int((job.get("progress") or {}).get("pages") or 0) >= 1

            await eventually(first_page, 60, 0.005)
            run.cancel()  # the process is gone: no completion, no release
            with contextlib.suppress(asyncio.CancelledError):
                await run
            await stack.control.set_faults(domain, latency_ms=0)
            second = _sync_worker(stack, "resumes")

            async def taken_over() -> bool:
                return bool(await second.run_once())

            await eventually(taken_over, 30, 0.1)
            await _sync_figures(stack, figures, tenant_id, domain, [job_id])
            # Events from the webhooks were for the first `events` orders; the sync stores all.
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


# 5. Two workers racing for the same work ----------------------------------------------------
async def workers_racing(root: Path, events: int = 30, shops: int = 3, orders: int = 40) -> Figures:
    """Three event processors and two sync workers run at once over the same queue: every
    event completed exactly once, every job run by one worker once."""
    figures = Figures("workers racing for the same work")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await _beanie(stack)
        try:
            domain = await stack.new_shop(orders=events)
            tenant_id = await stack.install_in_process(domain)
            sent = await _ingest_orders(stack, domain, stack.simulator_orders(domain))
            counts: Counter[str] = Counter()
            racers = [_CountingProcessor(stack.settings, f"r{i}", 30, counts) for i in range(3)]
            await _run_processors(racers)
            await _event_figures(stack, figures, tenant_id, sent, counts)

            tenants = []
            for _ in range(shops):
                shop = await stack.new_shop(orders=orders)
                tenants.append((await stack.install_in_process(shop), shop))
            job_ids = [await _queue_full_sync(tenant) for tenant, _ in tenants]
            workers = [_sync_worker(stack, f"race{i}") for i in range(2)]

            async def drain(worker: Any) -> None:
                while await worker.run_once():
                    pass

            await asyncio.gather(*(drain(worker) for worker in workers))
            totals = Figures("")
            completed = resumed = duplicated = expected = stored = 0
            for (tenant, shop), job_id in zip(tenants, job_ids, strict=True):
                await _sync_figures(stack, totals, tenant, shop, [job_id])
                completed += totals.jobs_completed or 0
                resumed += totals.jobs_resumed or 0
                duplicated += totals.jobs_duplicated or 0
                expected += totals.orders_expected or 0
                stored += totals.orders_stored or 0
                job = await _job(stack, job_id)
                duplicated += max(0, int(job.get("attempts") or 0) - 1)  # claimed twice
            figures.jobs_completed = completed
            figures.jobs_resumed = resumed
            figures.jobs_duplicated = duplicated
            figures.orders_expected = expected
            figures.orders_stored = stored
            figures.notes.extend(totals.notes)
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


Scenario = Callable[[Path], Awaitable[Figures]]


def scenarios(quick: bool) -> list[Scenario]:
    """The `rms chaos` run: small with `--quick`, larger otherwise."""
    scale = 1 if quick else 5

    async def ingest(root: Path) -> Figures:
        return await webhooks_with_database_restart(root, events=12 * scale)

    async def sync_restart(root: Path) -> Figures:
        return await sync_with_database_restart(root, orders=150 * scale)

    async def sync_faults(root: Path) -> Figures:
        return await sync_with_shopify_faults(root, orders=150 * scale)

    async def killed(root: Path) -> Figures:
        return await workers_killed_with_work_claimed(root, events=20 * scale, orders=60 * scale)

    async def racing(root: Path) -> Figures:
        return await workers_racing(root, events=30 * scale, shops=3, orders=40 * scale)

    return [ingest, sync_restart, sync_faults, killed, racing]
