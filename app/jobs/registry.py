"""The workers a runner process starts; each capability contributes its own."""

from __future__ import annotations

from app.config import Settings
from app.jobs import notifications, returns_mirror, shipping, sync, webhook_events
from app.jobs.runner import Worker
from app.services.notifications.dispatch import RenderReturn
from app.shopify.http import ShopifyHttp


def build_workers(
    settings: Settings, shopify_http: ShopifyHttp, worker_id: str, render_return: RenderReturn
) -> list[Worker]:
    """`render_return` shows a return as the API does (it belongs to the GraphQL edge, above
    the jobs: whoever starts the runner hands it in)."""
    return [
        *webhook_events.workers(settings, shopify_http, worker_id),
        *sync.workers(settings, shopify_http, worker_id),
        *returns_mirror.workers(settings, shopify_http, worker_id),
        *notifications.workers(settings, worker_id, render_return),
        *shipping.workers(settings, shopify_http, worker_id),
    ]
