"""Background processing of `webhook_events`: lease-based workers over `WebhookProcessor`."""

from __future__ import annotations

from app.config import Settings
from app.jobs.runner import Worker
from app.services.webhooks.processing import WebhookProcessor
from app.shopify.http import ShopifyHttp

# Workers per runner process (setting WEBHOOK_WORKERS). Events are independent (newer-wins
# upserts, idempotent handlers), so several may run at once; each claims its own lease.


class WebhookEventWorker:
    """Applies one due webhook event per `run_once`."""

    def __init__(self, processor: WebhookProcessor, name: str, idle_seconds: float) -> None:
        self.processor = processor
        self.name = name
        self.idle_seconds = idle_seconds

    async def run_once(self) -> bool:
        return await self.processor.process_one()


def workers(settings: Settings, shopify_http: ShopifyHttp, worker_id: str) -> list[Worker]:
    count = settings.webhook_workers
    idle = settings.webhook_idle_seconds
    return [
        WebhookEventWorker(
            # Handlers ask Shopify before trusting some events (an unknown order, an uninstall).
            WebhookProcessor(settings, f"{worker_id}:webhooks:{index}", shopify_http=shopify_http),
            name=f"webhook-events-{index}",
            idle_seconds=idle,
        )
        for index in range(count)
    ]
