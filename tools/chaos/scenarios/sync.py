"""Sync jobs through database crashes and a misbehaving Shopify."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.models.sync_job import SyncStatus
from app.services.sync import jobs
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import (
    add_sync_figures,
    beanie,
    job,
    keep_working,
    queue_full_sync,
    stop_workers,
    sync_worker,
    wrapped,
)

# Crashes right after the worker recorded these pages: the worst moment for the page's writes
# (the worker carries on from its in-memory cursor once the database is back). Two crashes, as
# one lost nothing in 2 of 10 runs with unjournaled writes (the journal had been flushed).
CRASH_AFTER_PAGES = (1, 3)
OUTAGE_SECONDS = 1.0
LEASE_SECONDS = 10.0


async def sync_with_database_restart(root: Path, orders: int = 120) -> Figures:
    """The database dies right after a sync recorded a page (twice) and comes back a second later:
    the job completes (the worker carries on, or another takes it over when its lease lapsed) and
    every order is stored once."""
    figures = Figures("sync: db killed mid-sync")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=orders)
            tenant_id = await stack.install_in_process(domain)
            await stack.control.set_faults(domain, latency_ms=50)
            job_id = await queue_full_sync(tenant_id)
            pages = 0

            def crash_after_a_page(
                record_progress: Callable[..., Awaitable[Any]],
            ) -> Callable[..., Awaitable[Any]]:
                async def recorded_then_crash(*args: Any, **kwargs: Any) -> Any:
                    nonlocal pages
                    state = await record_progress(*args, **kwargs)
                    pages += 1
                    if pages in CRASH_AFTER_PAGES:
                        await stack.kill_database()
                        await asyncio.sleep(OUTAGE_SECONDS)
                        await stack.restart_database()
                    return state

                return recorded_then_crash

            stop = asyncio.Event()
            with wrapped(jobs, "record_progress", crash_after_a_page):
                # Two workers, as deployed. The lease outlasts the outage, as a production lease
                # outlasts a database blip: the worker carries on from its in-memory cursor
                # (the case that loses a page when acknowledged writes are not durable).
                runners = [
                    asyncio.create_task(
                        keep_working(sync_worker(stack, name, lease_seconds=LEASE_SECONDS), stop)
                    )
                    for name in ("a", "b")
                ]

                async def finished() -> bool:
                    state = await job(stack, job_id)
                    return state.get("status") not in (
                        SyncStatus.QUEUED.value,
                        SyncStatus.RUNNING.value,
                    )

                with contextlib.suppress(TimeoutError):
                    await eventually(finished, 90, 0.1)
                await stop_workers(runners, stop, figures)
            figures.check(
                pages > max(CRASH_AFTER_PAGES),
                f"the crashes did not land between pages ({pages} pages)",
            )
            await add_sync_figures(stack, figures, tenant_id, domain, [job_id])
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


async def sync_with_shopify_faults(root: Path, orders: int = 120) -> Figures:
    """5xx answers, hung requests, a tiny cost bucket and tokens expiring mid-sync: the job
    completes and every order is stored once."""
    figures = Figures("sync: shopify 5xx/timeouts/throttle/expiry")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
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
            job_id = await queue_full_sync(tenant_id)
            stop = asyncio.Event()
            runner = asyncio.create_task(
                keep_working(sync_worker(stack, "faults", retries=8), stop)
            )

            async def finished() -> bool:
                status = (await job(stack, job_id)).get("status")
                return status not in (None, SyncStatus.QUEUED.value, SyncStatus.RUNNING.value)

            with contextlib.suppress(TimeoutError):
                await eventually(finished, 120, 0.1)
            await stop_workers([runner], stop, figures)
            counters = (await stack.control.shop_state(domain)).get("counters") or {}
            for key in ("faults_5xx", "throttled", "token_refreshes", "unauthorized"):
                figures.details[key] = int(counters.get(key) or 0)
            await stack.control.reset_faults(domain)
            await add_sync_figures(stack, figures, tenant_id, domain, [job_id])
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures
