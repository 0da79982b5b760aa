"""The webhook metric families are fed by ingest and processing (they were declared and
scraped, yet nothing fed them: `/metrics` showed zeros)."""

from __future__ import annotations

from app.config import Settings
from app.db import Database
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import CounterDeltas, make_tenant
from tests.webhooks.helpers import order_payload, store_event


async def test_webhook_counters_follow_ingest_and_processing(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    created, updated = {"topic": "orders/create"}, {"topic": "orders/updated"}
    counters = CounterDeltas(
        ("rms_webhook_events_received_total", created),
        ("rms_webhook_events_received_total", updated),
        ("rms_webhook_events_processed_total", created),
        ("rms_webhook_processing_lag_seconds_count", created),
        ("rms_webhook_events_failed_total", updated),
        ("rms_webhook_events_dead_total", updated),
    )
    await store_event("orders/create", order_payload())
    await store_event("orders/updated", order_payload())
    await store_event("orders/updated", order_payload(), event_id="again")
    await store_event("orders/updated", order_payload(), event_id="again")  # a duplicate

    async def applied(context: WebhookContext) -> str:
        return "applied"

    async def broken(context: WebhookContext) -> str:
        raise HandlerError("cannot apply")

    processor = WebhookProcessor(
        settings,
        "w",
        policy=ProcessingPolicy(max_attempts=1, retry_base_seconds=0, lease_seconds=30),
        handlers={"orders/create": applied, "orders/updated": broken},
    )
    assert await processor.run_until_idle() == 3
    assert counters.deltas() == [1, 2, 1, 1, 2, 2]
