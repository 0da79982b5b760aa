"""The sync and Shopify metric families are fed by the sync and the Admin API client (they
were declared and scraped, yet nothing fed them: `/metrics` showed zeros)."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.db import Database
from app.models.sync_job import SyncType
from app.observability.metrics import REGISTRY
from app.services.integration.integrations import mark_uninstalled
from app.services.sync.jobs import cancel_sync_job, queue_sync
from tests.factories import CounterDeltas
from tests.sync.helpers import connect_shop, make_worker, run_queued
from tools.shopify_sim import SimulatorControl

API = {"api": "admin_graphql"}


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_sync_feeds_the_sync_and_shopify_counters(
    settings: Settings, db: Database, sim_control: SimulatorControl, sim_http: httpx.AsyncClient
) -> None:
    shop = await connect_shop(sim_control, settings, orders=30)
    await sim_control.set_faults(shop.domain, fail_next=1, error_status=429)
    counters = CounterDeltas(
        ("rms_sync_jobs_finished_total", {"type": "full", "status": "completed"}),
        ("rms_shopify_api_calls_total", {**API, "outcome": "throttled"}),
        ("rms_shopify_api_throttles_total", API),
    )
    ok_before = _value("rms_shopify_api_calls_total", {**API, "outcome": "ok"})
    cost_before = _value("rms_shopify_api_query_cost_total")

    assert (await queue_sync(shop.tenant_id, SyncType.FULL)).job is not None
    await run_queued(make_worker(settings, sim_http))

    assert counters.deltas() == [1, 1, 1]
    assert _value("rms_shopify_api_calls_total", {**API, "outcome": "ok"}) > ok_before
    assert _value("rms_shopify_api_query_cost_total") > cost_before


async def test_a_canceled_queued_job_is_counted(
    settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings, orders=1)
    counters = CounterDeltas(
        ("rms_sync_jobs_finished_total", {"type": "incremental", "status": "canceled"}),
    )
    queued = await queue_sync(shop.tenant_id, SyncType.INCREMENTAL)
    assert queued.job is not None
    await cancel_sync_job(shop.tenant_id, str(queued.job.id))
    assert counters.deltas() == [1]


async def test_jobs_an_uninstall_cancels_are_counted_as_swept(
    settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings, orders=1)
    counters = CounterDeltas(
        ("rms_sync_jobs_finished_total", {"type": "swept", "status": "canceled"}),
    )
    assert (await queue_sync(shop.tenant_id, SyncType.INCREMENTAL)).job is not None
    assert (await mark_uninstalled(shop.tenant_id)).changed
    assert counters.deltas() == [1]
