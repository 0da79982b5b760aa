"""webhookStats: how a tenant's webhooks fared over a recent window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.clock import utcnow
from app.models import WebhookEvent

MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_EVENTS_SCANNED = 100_000


@dataclass(frozen=True, slots=True)
class WebhookStats:
    window_minutes: int
    received: int
    processed: int
    pending: int  # waiting, never failed
    failed: int  # not processed, failed at least once, still being retried
    dead: int
    success_rate: float | None  # processed / received; None when nothing was received
    p50_lag_seconds: float | None  # processed_at - received_at
    p95_lag_seconds: float | None


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def webhook_stats(tenant_id: str, window_minutes: int = 60) -> WebhookStats:
    """Counts and processing lag of the events received in the last `window_minutes`."""
    window = max(1, min(window_minutes, MAX_WINDOW_MINUTES))
    since = utcnow() - timedelta(minutes=window)
    received = processed = pending = failed = dead = 0
    lags: list[float] = []
    cursor = (
        WebhookEvent.get_pymongo_collection()
        .find(
            {"tenant_id": tenant_id, "received_at": {"$gte": since}},
            {"processed": 1, "dead": 1, "error": 1, "received_at": 1, "processed_at": 1},
        )
        .limit(MAX_EVENTS_SCANNED)
    )
    async for doc in cursor:
        received += 1
        if doc.get("processed"):
            processed += 1
            if doc.get("processed_at") and doc.get("received_at"):
                lags.append((doc["processed_at"] - doc["received_at"]).total_seconds())
        elif doc.get("dead"):
            dead += 1
        elif doc.get("error"):
            failed += 1
        else:
            pending += 1
    lags.sort()
    return WebhookStats(
        window_minutes=window,
        received=received,
        processed=processed,
        pending=pending,
        failed=failed,
        dead=dead,
        success_rate=(processed / received) if received else None,
        p50_lag_seconds=_percentile(lags, 0.50),
        p95_lag_seconds=_percentile(lags, 0.95),
    )
