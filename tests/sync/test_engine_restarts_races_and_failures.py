"""The sync engine (`app/services/sync/engine.py`, `bulk.py`) when things go sideways: a
restarted bulk export, a sync racing shop/redact, failures made visible."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Customer, Order, SyncJob, Tenant
from app.models.sync_job import SyncStatus, SyncType
from app.services.orders.store import UpsertCounts, upsert_customers, upsert_orders
from app.services.sync import engine
from app.services.sync.engine import shopify_time
from app.services.sync.jobs import queue_sync
from tests.sync.helpers import (
    FAST,
    assert_matches_simulator,
    connect_shop,
    make_worker,
    reload,
    run_queued,
    sim_orders,
)
from tools.shopify_sim import SimulatorControl, SimulatorServer


async def test_a_bulk_export_started_again_reads_the_new_file_from_its_start(
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=30)
    queued = await queue_sync(shop.tenant_id, SyncType.FULL, 365)
    assert queued.job is not None
    # A worker died after recording 10 orders of a bulk file that Shopify no longer has.
    now = utcnow()
    await SyncJob.get_pymongo_collection().update_one(
        {"_id": queued.job.id},
        {
            "$set": {
                "status": SyncStatus.RUNNING.value,
                "lease_owner": "dead-worker",
                "lease_expires_at": now - timedelta(seconds=1),
                "started_at": now,
                "attempts": 1,
                "mode": "bulk",
                "query": f"created_at:>='{shopify_time(now - timedelta(days=365))}'",
                "bulk_operation_id": "gid://shopify/BulkOperation/999999999",
                "cursor": "10",
                "progress.pages": 1,
                "progress.orders": 10,
                "progress.upserted": 10,
                "progress.total_estimate": 30,
            }
        },
    )

    await run_queued(make_worker(settings, sim_http, replace(FAST, bulk_batch_size=7)))

    job = await reload(queued.job)
    assert job.status == SyncStatus.COMPLETED, job.error
    assert job.bulk_operation_id != "gid://shopify/BulkOperation/999999999"
    assert job.progress.orders == 30 == job.progress.upserted + job.progress.unchanged
    assert job.progress.pages == 5  # 7 orders a batch, counted for the new file only
    stored = await Order.find({"tenant_id": shop.tenant_id}).to_list()
    assert_matches_simulator(stored, sim_orders(simulator, shop.domain))


async def test_a_page_written_after_shop_redact_is_erased(
    db: Database,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=30)
    tenant_id = shop.tenant_id
    queued = await queue_sync(tenant_id, SyncType.FULL, 365)
    assert queued.job is not None
    calls = 0
    redacted = asyncio.Event()

    async def redact_shop() -> None:  # what shop/redact deletes, tenant first
        await Tenant.get_pymongo_collection().delete_many({"_id": tenant_id})
        for model in (Order, Customer, SyncJob):
            await model.get_pymongo_collection().delete_many({"tenant_id": tenant_id})

    async def orders_after_redact(orders: list[Order]) -> UpsertCounts:
        nonlocal calls
        calls += 1
        if calls == 2:  # shop/redact lands just before the second page's write
            await redact_shop()
            redacted.set()
        return await upsert_orders(orders)

    async def customers_after_redact(customers: list[Customer]) -> UpsertCounts:
        if calls == 2:
            await redacted.wait()
        return await upsert_customers(customers)

    monkeypatch.setattr(engine, "upsert_orders", orders_after_redact)
    monkeypatch.setattr(engine, "upsert_customers", customers_after_redact)
    options = replace(FAST, line_items_first=20)  # 6 orders a page

    await run_queued(make_worker(settings, sim_http, options))

    assert calls == 2 and redacted.is_set()
    assert await SyncJob.find({"tenant_id": tenant_id}).count() == 0
    assert await Order.find({"tenant_id": tenant_id}).count() == 0
    assert await Customer.find({"tenant_id": tenant_id}).count() == 0


async def test_customer_failures_are_counted_and_warned_about(
    db: Database,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=12)
    queued = await queue_sync(shop.tenant_id, SyncType.FULL, 365)
    assert queued.job is not None

    async def one_customer_fails(customers: list[Customer]) -> UpsertCounts:
        counts = await upsert_customers(customers)
        counts.failed += 1
        counts.errors.append("simulated customer write error")
        return counts

    monkeypatch.setattr(engine, "upsert_customers", one_customer_fails)

    await run_queued(make_worker(settings, sim_http))

    job = await reload(queued.job)
    assert job.status == SyncStatus.COMPLETED, job.error
    assert job.progress.pages >= 1
    assert job.progress.failed == job.progress.pages
    assert any(f"{job.progress.failed} order(s) or customer(s)" in w for w in job.warnings)


async def test_a_clean_sync_has_no_failure_warning(
    db: Database,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=5)
    queued = await queue_sync(shop.tenant_id, SyncType.FULL, 365)
    assert queued.job is not None

    await run_queued(make_worker(settings, sim_http))

    job = await reload(queued.job)
    assert job.status == SyncStatus.COMPLETED and job.progress.failed == 0
    assert not any("could not be stored" in w for w in job.warnings)
