"""Background processing of `sync_jobs` (not built yet)."""

from __future__ import annotations

from app.config import Settings
from app.jobs.runner import Worker
from app.shopify.http import ShopifyHttp


def workers(settings: Settings, shopify_http: ShopifyHttp, worker_id: str) -> list[Worker]:
    return []
