"""The workers a runner process starts; each capability contributes its own."""

from __future__ import annotations

from app.config import Settings
from app.jobs import returns_mirror, sync, webhook_events
from app.jobs.runner import Worker
from app.shopify.http import ShopifyHttp


def build_workers(settings: Settings, shopify_http: ShopifyHttp, worker_id: str) -> list[Worker]:
    return [
        *webhook_events.workers(settings, shopify_http, worker_id),
        *sync.workers(settings, shopify_http, worker_id),
        *returns_mirror.workers(settings, shopify_http, worker_id),
    ]
