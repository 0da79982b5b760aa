"""Background work of return shipping: the label workers (buy and void prepaid labels).

Tracking events need no worker of their own: they ride `webhook_events` (see
`services/shipping/tracking.py`), processed by the webhook event workers.
"""

from __future__ import annotations

import httpx

from app.carriers.easypost import EasyPostClient
from app.config import Settings
from app.jobs.runner import Worker
from app.services.shipping.labels import LabelWorker


def workers(settings: Settings, http: httpx.AsyncClient, worker_id: str) -> list[Worker]:
    """`LABEL_WORKERS` label workers on the runner's pooled client. Without `EASYPOST_API_KEY`
    they still run: a due label then fails visibly ("no carrier account is configured")."""
    carrier = (
        EasyPostClient(http, settings.easypost_api_base_url, settings.easypost_api_key)
        if settings.easypost_api_key
        else None
    )
    return [
        LabelWorker(f"{worker_id}:labels:{index}", lambda: carrier, name=f"return-labels-{index}")
        for index in range(settings.label_workers)
    ]
