"""`GET /metrics`: Prometheus text format.

Two parts: this process's counters and histograms (`metrics.REGISTRY`), and gauges computed from
stored data at scrape time with cheap indexed counts (webhook events by state, sync jobs by status,
integrations by status, the 15-minute webhook failure ratio). Serve it on an internal network only:
it carries no tenant data but tells an outsider a lot about the service.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Iterable
from datetime import timedelta

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from app.clock import utcnow
from app.config import Settings
from app.models import WebhookEvent
from app.observability.metrics import POOL_USAGE, REGISTRY, PoolUsage
from app.services.operations.alerts import (
    SHOP_REDACT_REFUSED_WINDOW_MINUTES,
    WEBHOOK_WINDOW_MINUTES,
    disk_path,
    refused_shop_redacts_since,
    total_webhook_counts,
    webhook_counts_since,
)
from app.services.operations.operator_access import (
    OPERATOR_KEY_HEADER,
    OperatorAccess,
    operator_access,
)
from app.services.operations.status import integrations_by_status, sync_jobs_by_status

logger = logging.getLogger("app.metrics")
router = APIRouter(tags=["operations"])

SCRAPE_TIMEOUT_SECONDS = 3.0


class _Families(Collector):
    """A collector that yields metric families already computed for this scrape."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


async def _webhook_state_counts() -> dict[str, int]:
    """Indexed counts (`pending` index: processed, dead, next_attempt_at)."""
    collection = WebhookEvent.get_pymongo_collection()
    processed, pending, dead = await asyncio.gather(
        collection.count_documents({"processed": True}),
        collection.count_documents({"processed": False, "dead": False}),
        collection.count_documents({"processed": False, "dead": True}),
    )
    return {"processed": int(processed), "pending": int(pending), "dead": int(dead)}


async def _oldest_pending_age_seconds() -> float:
    collection = WebhookEvent.get_pymongo_collection()
    oldest = await collection.find_one(
        {"processed": False, "dead": False},
        {"received_at": 1},
        sort=[("received_at", 1)],
    )
    if oldest is None or oldest.get("received_at") is None:
        return 0.0
    age: float = (utcnow() - oldest["received_at"]).total_seconds()
    return max(age, 0.0)


async def stored_data_families(settings: Settings) -> list[GaugeMetricFamily]:
    """Gauges read from MongoDB at scrape time."""
    now = utcnow()
    (
        webhook_states,
        oldest_pending,
        syncs,
        integrations,
        window,
        refused_redacts,
    ) = await asyncio.gather(
        _webhook_state_counts(),
        _oldest_pending_age_seconds(),
        sync_jobs_by_status(),
        integrations_by_status(),
        webhook_counts_since(now - timedelta(minutes=WEBHOOK_WINDOW_MINUTES)),
        refused_shop_redacts_since(now - timedelta(minutes=SHOP_REDACT_REFUSED_WINDOW_MINUTES)),
    )
    events = GaugeMetricFamily(
        "rms_webhook_events", "Stored webhook events by state.", labels=["state"]
    )
    for state, count in webhook_states.items():
        events.add_metric([state], count)
    lag = GaugeMetricFamily(
        "rms_webhook_oldest_pending_age_seconds",
        "Age of the oldest webhook event still waiting to be processed (processing lag).",
        value=oldest_pending,
    )
    totals = total_webhook_counts(window)
    failures = GaugeMetricFamily(
        "rms_webhook_failure_ratio_15m",
        "Failed or dead webhook events over events received in the last 15 minutes.",
        value=totals.failure_ratio or 0.0,
    )
    received = GaugeMetricFamily(
        "rms_webhook_events_received_15m",
        "Webhook events received in the last 15 minutes, by topic.",
        labels=["topic"],
    )
    for counts in window:
        received.add_metric([counts.topic], counts.received)
    jobs = GaugeMetricFamily("rms_sync_jobs", "Sync jobs by status.", labels=["status"])
    for status, count in syncs.items():
        jobs.add_metric([status], count)
    connected = GaugeMetricFamily(
        "rms_integrations", "Shopify integrations by status.", labels=["status"]
    )
    for status, count in integrations.items():
        connected.add_metric([status], count)
    refused = GaugeMetricFamily(
        "rms_shop_redacts_refused_7d",
        "Connected shops that refused a shop/redact in the last 7 days (replay, or wrong state).",
        value=refused_redacts,
    )
    return [events, lag, failures, received, jobs, connected, refused]


def process_families(settings: Settings, pool: PoolUsage) -> list[GaugeMetricFamily]:
    """Gauges of this process computed at scrape time (pool ratio, disk)."""
    max_pool = GaugeMetricFamily(
        "rms_mongodb_pool_max_size",
        "maxPoolSize of this process's MongoDB client.",
        value=settings.mongodb_max_pool_size,
    )
    in_use = pool.max_in_use()
    ratio = GaugeMetricFamily(
        "rms_mongodb_pool_usage_ratio",
        "Busiest server's checked-out connections over maxPoolSize.",
        value=(in_use or 0) / settings.mongodb_max_pool_size,
    )
    families = [max_pool, ratio]
    path = disk_path(settings)
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return families
    capacity = usage.used + usage.free
    disk = GaugeMetricFamily(
        "rms_disk_usage_ratio", "Used over usable space of the data path's disk.", labels=["path"]
    )
    disk.add_metric([path], usage.used / capacity if capacity else 0.0)
    families.append(disk)
    return families


async def render_metrics(settings: Settings, pool: PoolUsage = POOL_USAGE) -> bytes:
    started = time.perf_counter()
    scrape = CollectorRegistry(auto_describe=False)
    families = process_families(settings, pool)
    database_up = 1.0
    try:
        families += await asyncio.wait_for(
            stored_data_families(settings), timeout=SCRAPE_TIMEOUT_SECONDS
        )
    except Exception as exc:
        database_up = 0.0
        logger.warning("metrics: stored-data gauges unavailable: %s", type(exc).__name__)
    families.append(
        GaugeMetricFamily(
            "rms_database_up", "1 when the stored-data gauges could be read.", value=database_up
        )
    )
    families.append(
        GaugeMetricFamily(
            "rms_metrics_scrape_duration_seconds",
            "Time spent computing the stored-data gauges.",
            value=time.perf_counter() - started,
        )
    )
    scrape.register(_Families(families))
    return generate_latest(REGISTRY) + generate_latest(scrape)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Cross-tenant figures: the operator key when one is set (`X-Operator-Key` or a bearer
    token), never in production without one."""
    settings: Settings = request.app.state.settings
    sent = request.headers.get(OPERATOR_KEY_HEADER)
    bearer = request.headers.get("authorization", "")
    if sent is None and bearer.lower().startswith("bearer "):
        sent = bearer[7:].strip()
    access = operator_access(settings, sent)
    if access is OperatorAccess.MISSING_OR_WRONG_KEY:
        return Response("operator key required\n", status_code=401, media_type="text/plain")
    if access is OperatorAccess.DISABLED:
        return Response(
            "set OPERATOR_API_KEY to scrape /metrics\n", status_code=403, media_type="text/plain"
        )
    body = await render_metrics(settings)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
