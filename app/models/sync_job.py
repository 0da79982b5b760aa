"""`sync_jobs`: one pull of orders and customers from Shopify, run under a lease."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class SyncType(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE_SYNC_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING)
TERMINAL_SYNC_STATUSES = (SyncStatus.COMPLETED, SyncStatus.FAILED, SyncStatus.CANCELED)


class SyncProgress(BaseModel):
    pages: int = 0
    orders: int = 0
    customers: int = 0
    upserted: int = 0
    unchanged: int = 0
    failed: int = 0
    total_estimate: int | None = None
    # After the orders: the returns Shopify shows on them, and those applied here (reconcile)
    returns_seen: int = 0
    returns_applied: int = 0


class SyncJob(Document):
    tenant_id: str
    type: SyncType
    days: int | None = None
    status: SyncStatus = SyncStatus.QUEUED
    # Set while the job is queued or running; a unique partial index on it keeps one
    # active job per tenant even under concurrent requests.
    active: bool | None = True
    mode: str | None = None  # "paged" | "bulk"; chosen when the job first runs
    since: datetime | None = None  # incremental: pull what changed after this
    # The Shopify search string, fixed on the first run so a resumed job pages the same set.
    query: str | None = None
    # Paged: last recorded page's end cursor. Bulk: number of orders already recorded.
    cursor: str | None = None
    bulk_operation_id: str | None = None
    warnings: list[str] = Field(default_factory=list)
    progress: SyncProgress = Field(default_factory=SyncProgress)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    heartbeat_at: datetime | None = None
    attempts: int = 0
    cancel_requested: bool = False
    requested_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "sync_jobs"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("active", ASCENDING)],
                name="one_active_job_per_tenant",
                unique=True,
                partialFilterExpression={"active": True},
            ),
            IndexModel(
                [("status", ASCENDING), ("lease_expires_at", ASCENDING)], name="status_lease"
            ),
            # `last_completed_sync`: {tenant_id, status} (newest started_at first).
            IndexModel(
                [("tenant_id", ASCENDING), ("status", ASCENDING), ("started_at", DESCENDING)],
                name="tenant_status_started",
            ),
        ]
