"""Background work of returns: the Shopify mirror (outbox) worker and the ledger release sweeper."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.jobs.runner import Worker
from app.services.integration.session import IntegrationNotConnected, admin_client_for
from app.services.returns.ledger import LedgerReleaseSweeper
from app.services.returns.shopify_mirror import (
    MIRROR_RETRY,
    ReturnMirrorWorker,
    ShopifyGraphQL,
)


def workers(settings: Settings, http: httpx.AsyncClient, worker_id: str) -> list[Worker]:
    """`RETURNS_MIRROR_WORKERS` mirror workers wired to the per-tenant Admin API client (a new
    one per claimed return, reading the stored token once), and the release sweeper."""

    async def client_for(tenant_id: str) -> ShopifyGraphQL | None:
        try:
            client = await admin_client_for(tenant_id, settings, http, read_token_once=True)
        except IntegrationNotConnected:
            return None
        client.retry = MIRROR_RETRY
        return client

    mirrors: list[Worker] = [
        ReturnMirrorWorker(
            f"{worker_id}:mirror:{index}", client_for, name=f"returns-shopify-mirror-{index}"
        )
        for index in range(settings.returns_mirror_workers)
    ]
    return [*mirrors, LedgerReleaseSweeper()]
