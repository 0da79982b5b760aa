"""A redacted customer's returns in the webhook delivery log: each message body (the return as
it was shown, with the customer's email and notes) is cut down to the event and the return's id.
A message still to send goes out so (its receiver learns the event, not the customer)."""

from __future__ import annotations

from datetime import datetime

import orjson

from app.models import WebhookDelivery


async def redact_deliveries(tenant_id: str, return_ids: list[str], now: datetime) -> int:
    """Deliveries rewritten; idempotent."""
    if not return_ids:
        return 0
    deliveries = WebhookDelivery.get_pymongo_collection()
    rewritten = 0
    async for doc in deliveries.find(
        {"tenant_id": tenant_id, "return_id": {"$in": return_ids}},
        {"body": 1, "event_id": 1, "event_type": 1, "return_id": 1},
    ):
        try:
            sent = orjson.loads(doc["body"])
            shown_id = sent["data"]["return"]["id"]
            timestamp = sent["timestamp"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            shown_id, timestamp = doc["return_id"], None
        body = orjson.dumps(
            {
                "type": doc["event_type"],
                "timestamp": timestamp,
                "data": {"eventId": doc["event_id"], "return": {"id": shown_id, "redacted": True}},
            }
        ).decode()
        result = await deliveries.update_one(
            {"_id": doc["_id"], "tenant_id": tenant_id},
            {"$set": {"body": body, "redacted_at": now, "attempts.$[].response": None}},
        )
        rewritten += result.modified_count
    return rewritten
