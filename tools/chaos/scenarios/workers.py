"""Workers that die holding leases, and workers racing for the same work."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path

from app.services.sync.jobs import claim_next_job
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import (
    CountingProcessor,
    add_event_figures,
    add_sync_figures,
    beanie,
    ingest_orders,
    job,
    queue_full_sync,
    run_processors,
    sync_worker,
)


async def workers_killed_with_work_claimed(
    root: Path, events: int = 20, orders: int = 60
) -> Figures:
    """One worker claims events (and applies some) and dies; a sync worker dies mid-job. The
    survivors take the work over once the leases lapse: each event completed once, the job
    resumed from its cursor, no order stored twice."""
    figures = Figures("workers killed holding leases")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=max(events, orders))
            tenant_id = await stack.install_in_process(domain)
            records = stack.simulator_orders(domain)[:events]
            sent = await ingest_orders(stack, domain, records)
            counts: Counter[str] = Counter()
            doomed = CountingProcessor(stack.settings, "doomed", 0.5, counts)
            for index in range(events // 2):  # claimed; half of them applied; never completed
                event = await doomed.inner.claim()
                if event is not None and index % 2 == 0:
                    await doomed.inner.apply(event)
            survivor = CountingProcessor(stack.settings, "survivor", 0.5, counts)
            await survivor.inner.run_until_idle()
            await asyncio.sleep(0.6)  # the dead worker's leases lapse
            await survivor.inner.run_until_idle()
            await add_event_figures(stack, figures, tenant_id, sent, counts)

            # The sync job: worker A dies after its first page; worker B resumes it.
            job_id = await queue_full_sync(tenant_id)
            first = sync_worker(stack, "dies")
            claimed = await claim_next_job(first.worker_id, first.options.lease_seconds)
            assert claimed is not None
            # Slow Shopify down so the doomed worker cannot finish the job between its first
            # page and the kill (a fast machine otherwise completes it and nothing is resumed).
            await stack.control.set_faults(domain, latency_ms=400)
            run = asyncio.create_task(first.run_claimed(claimed))

            async def first_page() -> bool:
                state = await job(stack, job_id)
                return int((state.get("progress") or {}).get("pages") or 0) >= 1

            await eventually(first_page, 60, 0.005)
            run.cancel()  # the process is gone: no completion, no release
            with contextlib.suppress(asyncio.CancelledError):
                await run
            await stack.control.set_faults(domain, latency_ms=0)
            second = sync_worker(stack, "resumes")

            async def taken_over() -> bool:
                return bool(await second.run_once())

            await eventually(taken_over, 30, 0.1)
            await add_sync_figures(stack, figures, tenant_id, domain, [job_id])
            figures.check(figures.details.get("resumed") == 1, "the job was not resumed")
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


async def workers_racing(root: Path, events: int = 30, shops: int = 3, orders: int = 40) -> Figures:
    """Three event processors and two sync workers run at once over the same queue: every
    event completed exactly once, every job run by one worker once."""
    figures = Figures("workers racing for the same work")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=events)
            tenant_id = await stack.install_in_process(domain)
            sent = await ingest_orders(stack, domain, stack.simulator_orders(domain))
            counts: Counter[str] = Counter()
            racers = [CountingProcessor(stack.settings, f"r{i}", 30, counts) for i in range(3)]
            await run_processors(racers)
            await add_event_figures(stack, figures, tenant_id, sent, counts)

            tenants = []
            for _ in range(shops):
                shop = await stack.new_shop(orders=orders)
                tenants.append((await stack.install_in_process(shop), shop))
            job_ids = [await queue_full_sync(tenant) for tenant, _ in tenants]
            workers = [sync_worker(stack, f"race{i}") for i in range(2)]

            async def drain(worker: object) -> None:
                while await worker.run_once():  # type: ignore[attr-defined]
                    pass

            await asyncio.gather(*(drain(worker) for worker in workers))
            for (tenant, shop), job_id in zip(tenants, job_ids, strict=True):
                await add_sync_figures(stack, figures, tenant, shop, [job_id])
                claimed = int((await job(stack, job_id)).get("attempts") or 0)
                figures.duplicated += max(0, claimed - 1)  # claimed twice
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures
