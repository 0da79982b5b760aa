"""Webhook query inputs."""

from __future__ import annotations

import strawberry

from app.services.webhooks.queries import WebhookEventFilter


@strawberry.input
class WebhookEventFilterInput:
    topic: str | None = None
    processed: bool | None = None
    dead: bool | None = None

    def to_service(self) -> WebhookEventFilter:
        return WebhookEventFilter(topic=self.topic, processed=self.processed, dead=self.dead)
