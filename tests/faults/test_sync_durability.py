"""A sync page whose progress was recorded must survive a database crash right after.

The worker keeps its position in memory: when the database dies and comes back between two
pages, the worker carries on from where it was, not from the stored cursor. So every write the
cursor moves past must be durable when it is acknowledged, or the crash silently drops a page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.db import connect
from app.jobs.sync import SyncWorker
from app.models.sync_job import SyncStatus, SyncType
from app.services.orders.store import upsert_orders
from app.services.sync import jobs
from app.services.sync.engine import SyncOptions
from tools.chaos.environment import Stack

ORDERS = 60
CRASH_AFTER_PAGE = 2


async def test_a_crash_right_after_a_recorded_page_loses_no_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Stack(tmp_path) as stack:
        database = await connect(stack.settings)
        try:
            domain = await stack.new_shop(orders=ORDERS)
            tenant_id = await stack.install_in_process(domain)
            queued = await jobs.queue_sync(tenant_id, SyncType.FULL, 3650)
            assert queued.job is not None
            record_progress = jobs.record_progress
            pages = 0

            async def record_then_crash(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
                nonlocal pages
                state = await record_progress(*args, **kwargs)
                pages += 1
                if pages == CRASH_AFTER_PAGE:
                    # The worker has its acknowledgement: the database dies at once and comes
                    # back before the next page is written.
                    await stack.kill_database()
                    await stack.restart_database()
                return state

            monkeypatch.setattr(jobs, "record_progress", record_then_crash)
            worker = SyncWorker(
                stack.settings,
                stack.http,
                "durability",
                options=SyncOptions(lease_seconds=30, bulk_threshold=10**9, retry_backoff=0.05),
            )
            assert await worker.run_once()

            job = await stack.raw["sync_jobs"].find_one({"_id": queued.job.id})
            assert job is not None and job["status"] == SyncStatus.COMPLETED.value, job
            assert pages > CRASH_AFTER_PAGE, "the crash must come between two pages"
            stored = await stack.raw["orders"].count_documents({"tenant_id": tenant_id})
            assert stored == ORDERS, f"{ORDERS - stored} orders of acknowledged pages lost"
            assert job["progress"]["orders"] == ORDERS  # every page counted once
        finally:
            await database.close()


async def test_a_database_outage_while_a_page_is_stored_is_retried_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As deployed: no operation timeout in the URI, so the page's write fails during the
    # outage (the driver gives up after the 0.5 s server selection timeout).
    async with Stack(tmp_path, socket_timeout_ms=None) as stack:
        database = await connect(stack.settings)
        try:
            domain = await stack.new_shop(orders=ORDERS)
            tenant_id = await stack.install_in_process(domain)
            queued = await jobs.queue_sync(tenant_id, SyncType.FULL, 3650)
            assert queued.job is not None
            calls = 0

            async def outage_during_the_second_page(*args: Any, **kwargs: Any) -> Any:
                nonlocal calls
                calls += 1
                if calls == 2:
                    await stack.kill_database()
                    asyncio.get_running_loop().call_later(
                        1.0, lambda: asyncio.ensure_future(stack.restart_database())
                    )
                return await upsert_orders(*args, **kwargs)

            monkeypatch.setattr(
                "app.services.sync.engine.upsert_orders", outage_during_the_second_page
            )
            worker = SyncWorker(
                stack.settings,
                stack.http,
                "outage",
                # Retries for a minute (1 + 2 + ... + 32 s): the database's restart on a busy
                # machine outlasted the default three (7 s) in a slow run.
                options=SyncOptions(
                    lease_seconds=30, bulk_threshold=10**9, retry_backoff=1.0, retries=6
                ),
            )
            assert await worker.run_once()

            job = await stack.raw["sync_jobs"].find_one({"_id": queued.job.id})
            assert job is not None and job["status"] == SyncStatus.COMPLETED.value, job
            stored = await stack.raw["orders"].count_documents({"tenant_id": tenant_id})
            assert stored == ORDERS
        finally:
            await database.close()
