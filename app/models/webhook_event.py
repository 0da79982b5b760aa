"""`webhook_events`: every accepted Shopify webhook, persisted before we answer 200.

The route writes these documents with one raw `insert_one` (see
`app/services/webhooks/ingest.py`); the background processor claims them with a lease.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class WebhookEvent(Document):
    # Derived from the shop domain (`tenant-<shop name>`, as `ensure_tenant` names tenants), so
    # the route needs no lookup; an event of a shop we do not know is kept for audit and ignored.
    tenant_id: str | None = None
    shop_domain: str
    topic: str
    event_id: str  # X-Shopify-Event-Id, else X-Shopify-Webhook-Id: the dedupe key
    webhook_id: str | None = None
    api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # every X-Shopify-* header, lower-case
    payload: dict[str, Any] = Field(default_factory=dict)
    customer_id: str | None = None  # the payload's customer, so redaction finds its events
    processed: bool = False
    dead: bool = False  # gave up after too many attempts; replayable
    attempts: int = 0  # claims so far (a crash mid-apply counts too)
    error: str | None = None  # the last failure
    result: str | None = None  # what processing did ("applied", "ignored: unknown shop", ...)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow)
    triggered_at: datetime | None = None
    processed_at: datetime | None = None
    failed_at: datetime | None = None
    replayed_at: datetime | None = None
    redacted_at: datetime | None = None  # payload scrubbed by a customers/redact

    class Settings:
        name = "webhook_events"
        use_revision = False
        indexes = [
            IndexModel(
                [("shop_domain", ASCENDING), ("event_id", ASCENDING)],
                name="shop_event_unique",
                unique=True,
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("received_at", DESCENDING)], name="tenant_received"
            ),
            IndexModel(
                [("processed", ASCENDING), ("dead", ASCENDING), ("next_attempt_at", ASCENDING)],
                name="pending",
            ),
            # operators' cross-tenant windows: alerts, `rms status`, /metrics
            IndexModel([("received_at", DESCENDING)], name="received"),
        ]
