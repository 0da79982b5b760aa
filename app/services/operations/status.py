"""The runbook's status dashboard as one report: database, integrations, jobs, webhooks, alerts.

Shared by `rms status` and the `systemStatus` GraphQL query. Operators only: it spans tenants.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clock import utcnow
from app.config import Settings
from app.models import (
    EmailNotification,
    ShopifyIntegration,
    SyncJob,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.sync_job import SyncStatus
from app.observability.metrics import PoolUsage, RequestWindow
from app.services.operations.alerts import (
    WEBHOOK_WINDOW_MINUTES,
    Alert,
    DiskUsageReader,
    WebhookCounts,
    evaluate_alerts,
    total_webhook_counts,
    webhook_counts_since,
)

PING_TIMEOUT_SECONDS = 2.0
# The runbook's "clear sync locks" threshold: an hour without progress.
STALE_SYNC_SECONDS = 3600
MAX_STALE_JOBS_LISTED = 50


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    ok: bool
    latency_ms: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StaleSyncJob:
    id: str
    tenant_id: str
    type: str
    started_at: datetime | None
    lease_expires_at: datetime | None
    reason: str  # "running for more than 1 h" / "lease expired"


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """One notification queue: what waits, and how much of it waited too long."""

    name: str  # "emails" or "webhook deliveries"
    pending: int
    overdue: int  # due more than `OVERDUE_AFTER` ago: its senders are down or behind


@dataclass(frozen=True, slots=True)
class SystemStatus:
    generated_at: datetime
    environment: str
    database: DatabaseHealth
    integrations: dict[str, int] = field(default_factory=dict)
    sync_jobs: dict[str, int] = field(default_factory=dict)
    stale_sync_jobs: list[StaleSyncJob] = field(default_factory=list)
    webhook_window_minutes: int = WEBHOOK_WINDOW_MINUTES
    webhooks: list[WebhookCounts] = field(default_factory=list)
    notifications: list[OutboxCounts] = field(default_factory=list)
    disabled_webhook_endpoints: int = 0
    alerts: list[Alert] = field(default_factory=list)

    @property
    def webhook_totals(self) -> WebhookCounts:
        return total_webhook_counts(self.webhooks)

    @property
    def healthy(self) -> bool:
        return self.database.ok and not any(alert.firing for alert in self.alerts)


async def database_health() -> DatabaseHealth:
    started = time.perf_counter()
    try:
        database = Tenant.get_pymongo_collection().database
        await asyncio.wait_for(database.command("ping"), timeout=PING_TIMEOUT_SECONDS)
    except Exception as exc:
        return DatabaseHealth(ok=False, latency_ms=None, error=type(exc).__name__)
    return DatabaseHealth(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def integrations_by_status() -> dict[str, int]:
    pipeline: list[dict[str, Any]] = [{"$group": {"_id": "$status", "count": {"$sum": 1}}}]
    collection = ShopifyIntegration.get_pymongo_collection()
    return {
        str(row["_id"]): int(row["count"]) async for row in await collection.aggregate(pipeline)
    }


async def sync_jobs_by_status() -> dict[str, int]:
    """One indexed count per status (`status_lease` index), cheap however many jobs exist."""
    collection = SyncJob.get_pymongo_collection()
    counts = await asyncio.gather(
        *(collection.count_documents({"status": status.value}) for status in SyncStatus)
    )
    return {status.value: int(count) for status, count in zip(SyncStatus, counts, strict=True)}


OVERDUE_AFTER = timedelta(minutes=5)


async def outbox_counts(now: datetime) -> list[OutboxCounts]:
    """Pending emails and merchants' webhook deliveries, across tenants (operators): counted on
    their senders' queue indexes (partial on pending), so cheap however many were sent."""
    since = datetime(1970, 1, 1, tzinfo=UTC)  # names the queue index's key: the plan uses it
    late = now - OVERDUE_AFTER
    queues = (
        ("emails", EmailNotification.get_pymongo_collection()),
        ("webhook deliveries", WebhookDelivery.get_pymongo_collection()),
    )
    counts = await asyncio.gather(
        *(
            collection.count_documents({"status": "pending", "next_attempt_at": {"$gte": since}})
            for _name, collection in queues
        ),
        *(
            collection.count_documents(
                {"status": "pending", "next_attempt_at": {"$gte": since, "$lt": late}}
            )
            for _name, collection in queues
        ),
    )
    pending, overdue = counts[: len(queues)], counts[len(queues) :]
    return [
        OutboxCounts(name, int(waiting), int(behind))
        for (name, _collection), waiting, behind in zip(queues, pending, overdue, strict=True)
    ]


async def disabled_webhook_endpoints() -> int:
    return int(
        await WebhookEndpoint.get_pymongo_collection().count_documents({"status": "disabled"})
    )


async def stale_sync_jobs(
    now: datetime, older_than_seconds: int = STALE_SYNC_SECONDS
) -> list[StaleSyncJob]:
    """Running jobs with no sign of life (heartbeat, else start) for more than an hour, or
    whose worker's lease has run out: what `rms sync clear-stale-locks` clears."""
    cutoff = now - timedelta(seconds=older_than_seconds)
    cursor = (
        SyncJob.get_pymongo_collection()
        .find(
            {"status": SyncStatus.RUNNING.value},
            {"tenant_id": 1, "type": 1, "started_at": 1, "heartbeat_at": 1, "lease_expires_at": 1},
        )
        .limit(1000)
    )
    stale = []
    async for job in cursor:
        started, lease = job.get("started_at"), job.get("lease_expires_at")
        last_seen = job.get("heartbeat_at") or started
        reason = None
        if last_seen is not None and last_seen < cutoff:
            reason = f"no heartbeat for more than {older_than_seconds} s"
        elif lease is not None and lease < now:
            reason = "lease expired (worker gone?)"
        if reason:
            stale.append(
                StaleSyncJob(
                    id=str(job["_id"]),
                    tenant_id=str(job.get("tenant_id")),
                    type=str(job.get("type")),
                    started_at=started,
                    lease_expires_at=lease,
                    reason=reason,
                )
            )
    stale.sort(key=lambda j: j.started_at or now)
    return stale[:MAX_STALE_JOBS_LISTED]


async def system_status(
    settings: Settings,
    *,
    request_window: RequestWindow | None,
    pool_usage: PoolUsage | None,
    disk_usage: DiskUsageReader = shutil.disk_usage,
    now: datetime | None = None,
) -> SystemStatus:
    """Everything the on-call engineer checks first. With the database down, the report still
    comes back (database error, stored-data sections empty, their alerts `unknown`)."""
    now = now or utcnow()
    database = await database_health()
    if not database.ok:
        alerts = await evaluate_alerts(
            settings,
            request_window=request_window,
            pool_usage=pool_usage,
            disk_usage=disk_usage,
            webhook_counts=None,
            now=now,
            skip_database=True,
        )
        return SystemStatus(now, settings.environment, database, alerts=alerts)
    integrations, jobs, stale, webhooks, outboxes, disabled = await asyncio.gather(
        integrations_by_status(),
        sync_jobs_by_status(),
        stale_sync_jobs(now),
        webhook_counts_since(now - timedelta(minutes=WEBHOOK_WINDOW_MINUTES)),
        outbox_counts(now),
        disabled_webhook_endpoints(),
    )
    alerts = await evaluate_alerts(
        settings,
        request_window=request_window,
        pool_usage=pool_usage,
        disk_usage=disk_usage,
        webhook_counts=webhooks,
        now=now,
    )
    return SystemStatus(
        generated_at=now,
        environment=settings.environment,
        database=database,
        integrations=integrations,
        sync_jobs=jobs,
        stale_sync_jobs=stale,
        webhooks=webhooks,
        notifications=outboxes,
        disabled_webhook_endpoints=disabled,
        alerts=alerts,
    )
