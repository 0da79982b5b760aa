"""What a topic handler gets: the claimed event and the settings; what it returns: a result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from app.config import Settings


class HandlerError(Exception):
    """An expected, retryable failure of a handler (recorded as the event's `error`)."""


@dataclass(frozen=True, slots=True)
class WebhookContext:
    settings: Settings
    event: dict[str, Any]  # the raw `webhook_events` document as claimed
    now: datetime
    # The runner's shared client for Shopify calls; None: a check opens a short-lived one.
    shopify_http: httpx.AsyncClient | None = None

    @property
    def event_pk(self) -> Any:
        return self.event["_id"]

    @property
    def tenant_id(self) -> str:
        tenant_id = self.event.get("tenant_id")
        if not tenant_id:
            raise HandlerError("event has no tenant_id")
        return str(tenant_id)

    @property
    def shop_domain(self) -> str:
        return str(self.event["shop_domain"])

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.event.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def happened_at(self) -> datetime:
        """When Shopify says the event happened (X-Shopify-Triggered-At), else when we got it."""
        triggered = self.event.get("triggered_at")
        received = self.event.get("received_at")
        moment = triggered or received or self.now
        assert isinstance(moment, datetime)
        return moment


# A handler applies one event idempotently and says what it did ("applied", "ignored: ...").
Handler = Callable[[WebhookContext], Awaitable[str]]
