"""An event `persist_event` accepted (the route then answers 200) must survive a database crash."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson

from app.db import connect
from app.services.webhooks.ingest import IngestOutcome, build_event_document, persist_event
from tests.webhooks.helpers import order_payload
from tools.chaos.environment import Stack


async def test_accepted_webhook_events_survive_an_immediate_database_crash(
    tmp_path: Path,
) -> None:
    async with Stack(tmp_path) as stack:
        database = await connect(stack.settings)
        try:
            accepted = 0
            for number in range(20):
                headers = {
                    "x-shopify-topic": "orders/create",
                    "x-shopify-shop-domain": "durable.myshopify.com",
                    "x-shopify-event-id": str(uuid.uuid4()),
                }
                body = orjson.dumps(order_payload(order_id=7_000_000 + number))
                result = await persist_event(build_event_document("orders/create", headers, body))
                accepted += result.outcome is IngestOutcome.ACCEPTED
            assert accepted == 20
            await stack.kill_database()
            await stack.restart_database()
            stored = await stack.raw["webhook_events"].count_documents({})
            assert stored == accepted, f"{accepted - stored} accepted events lost"
        finally:
            await database.close()
