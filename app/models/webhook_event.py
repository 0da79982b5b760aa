"""`webhook_events`: every accepted Shopify webhook, persisted before we answer 200."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class WebhookEvent(Document):
    tenant_id: str | None = None  # None when the shop is unknown to us (kept for audit)
    shop_domain: str
    topic: str
    event_id: str  # X-Shopify-Event-Id, else X-Shopify-Webhook-Id: the dedupe key
    webhook_id: str | None = None
    api_version: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    processed: bool = False
    dead: bool = False
    attempts: int = 0
    error: str | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow)
    triggered_at: datetime | None = None
    processed_at: datetime | None = None

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
        ]
