"""Background work of notifications: the return-event dispatcher and the merchants' webhook
senders."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.jobs.runner import Worker
from app.services.notifications.delivery import DeliveryWorker
from app.services.notifications.dispatch import RenderReturn, ReturnEventDispatcher


def workers(
    settings: Settings, http: httpx.AsyncClient, worker_id: str, render: RenderReturn
) -> list[Worker]:
    """One dispatcher and `MERCHANT_WEBHOOK_WORKERS` senders (on the shared outbound client)."""
    senders: list[Worker] = [
        DeliveryWorker(
            f"{worker_id}:webhooks:{index}", settings, http, name=f"merchant-webhooks-{index}"
        )
        for index in range(settings.merchant_webhook_workers)
    ]
    return [ReturnEventDispatcher(f"{worker_id}:events", render), *senders]
