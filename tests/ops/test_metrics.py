"""`GET /metrics`: Prometheus text with request, webhook, sync, Shopify and pool families."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import SyncJob, WebhookEvent
from app.models.sync_job import SyncStatus, SyncType
from app.observability import metrics
from app.observability.metrics_middleware import MetricsMiddleware

EXPECTED_FAMILIES = {
    "rms_http_requests",
    "rms_http_request_duration_seconds",
    "rms_graphql_operations",
    "rms_graphql_operation_duration_seconds",
    "rms_errors",
    "rms_webhook_events_received",
    "rms_webhook_events_processed",
    "rms_webhook_events_failed",
    "rms_webhook_events_dead",
    "rms_webhook_processing_lag_seconds",
    "rms_webhook_events",
    "rms_webhook_oldest_pending_age_seconds",
    "rms_webhook_failure_ratio_15m",
    "rms_sync_jobs",
    "rms_sync_jobs_finished",
    "rms_integrations",
    "rms_shopify_api_calls",
    "rms_shopify_api_throttles",
    "rms_shopify_api_query_cost",
    "rms_mongodb_pool_connections_in_use",
    "rms_mongodb_pool_max_size",
    "rms_mongodb_pool_usage_ratio",
    "rms_disk_usage_ratio",
    "rms_database_up",
}


def _is_metrics(factory: object) -> bool:
    return factory is MetricsMiddleware


@pytest.fixture
async def metrics_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the metrics middleware and pool listener (added here until main.py does)."""
    listeners = cast(Any, [metrics.MongoPoolListener()])
    application: FastAPI = create_app(settings, mongo_listeners=listeners, configure_logs=False)
    if not any(_is_metrics(m.cls) for m in application.user_middleware):
        application.add_middleware(MetricsMiddleware)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _scrape(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _value(family: Any, **labels: str) -> float:
    for sample in family.samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()) and not sample.name.endswith(
            ("_created", "_bucket")
        ):
            return float(sample.value)
    raise AssertionError(f"no sample {labels} in {family.name}")


async def test_metrics_has_every_family_in_prometheus_text(
    metrics_client: httpx.AsyncClient,
) -> None:
    await metrics_client.get("/api/health")
    families = await _scrape(metrics_client)
    assert set(families) >= EXPECTED_FAMILIES, EXPECTED_FAMILIES - set(families)
    assert _value(families["rms_database_up"]) == 1.0


async def test_requests_are_counted_by_route_template(metrics_client: httpx.AsyncClient) -> None:
    await metrics_client.get("/api/health")
    await metrics_client.get("/no/such/route/123")
    families = await _scrape(metrics_client)
    requests = families["rms_http_requests"]
    assert _value(requests, route="/api/health", method="GET", status="200") >= 1
    assert _value(requests, route="<unmatched>", method="GET", status="404") >= 1
    assert not any("/no/such" in str(s.labels) for s in requests.samples)
    latency = families["rms_http_request_duration_seconds"]
    assert any(s.labels.get("route") == "/api/health" for s in latency.samples)


async def test_graphql_requests_are_counted_by_operation(
    metrics_client: httpx.AsyncClient,
) -> None:
    await metrics_client.post("/graphql", json={"query": "query ProbeOps { __typename }"})
    families = await _scrape(metrics_client)
    assert _value(families["rms_http_requests"], route="/graphql", method="POST") >= 1
    operations = families["rms_graphql_operations"]
    labels = {s.labels.get("operation") for s in operations.samples}
    assert "ProbeOps" in labels or "anonymous" in labels, labels


async def test_stored_data_gauges_count_webhook_events_and_sync_jobs(
    metrics_client: httpx.AsyncClient,
) -> None:
    for index, (processed, dead) in enumerate([(True, False), (False, False), (False, True)]):
        await WebhookEvent(
            tenant_id="tenant-m",
            shop_domain="m.myshopify.com",
            topic="orders/create",
            event_id=f"m-{index}",
            processed=processed,
            dead=dead,
            error="boom" if dead else None,
            received_at=utcnow() - timedelta(minutes=2),
        ).insert()
    await SyncJob(tenant_id="tenant-m", type=SyncType.FULL, status=SyncStatus.RUNNING).insert()
    await SyncJob(
        tenant_id="tenant-m", type=SyncType.FULL, status=SyncStatus.FAILED, active=None
    ).insert()

    families = await _scrape(metrics_client)
    events = families["rms_webhook_events"]
    assert _value(events, state="processed") == 1
    assert _value(events, state="pending") == 1
    assert _value(events, state="dead") == 1
    assert _value(families["rms_webhook_oldest_pending_age_seconds"]) >= 100
    assert abs(_value(families["rms_webhook_failure_ratio_15m"]) - 1 / 3) < 1e-9
    jobs = families["rms_sync_jobs"]
    assert _value(jobs, status="running") == 1
    assert _value(jobs, status="failed") == 1
    assert _value(jobs, status="queued") == 0


async def test_pool_in_use_is_reported_per_server(metrics_client: httpx.AsyncClient) -> None:
    await metrics_client.get("/api/health")
    families = await _scrape(metrics_client)
    pool = families["rms_mongodb_pool_connections_in_use"]
    assert pool.samples, "the pool listener saw no pool"
    assert all(sample.value >= 0 for sample in pool.samples)


async def test_helpers_feed_the_webhook_and_shopify_families(
    metrics_client: httpx.AsyncClient,
) -> None:
    metrics.webhook_received("orders/updated")
    metrics.webhook_processed("orders/updated", lag_seconds=1.5)
    metrics.webhook_failed("orders/updated", dead=True)
    metrics.shopify_api_call("graphql", "throttled", seconds=0.2, cost=12, throttled=True)
    metrics.sync_jobs_finished("full", "completed")
    families = await _scrape(metrics_client)
    assert _value(families["rms_webhook_events_dead"], topic="orders/updated") >= 1
    assert _value(families["rms_shopify_api_throttles"], api="graphql") >= 1
    assert _value(families["rms_shopify_api_query_cost"]) >= 12
    assert _value(families["rms_sync_jobs_finished"], type="full", status="completed") >= 1


def test_operation_labels_are_bounded() -> None:
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("query:returns") == "query:returns"
    assert metrics.operation_label("bad name {}") == "invalid"
