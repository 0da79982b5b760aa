"""GraphQL types of sync jobs: the job with its progress and ETA, inputs and payloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

import strawberry

from app.clock import utcnow
from app.graphql.core.errors import FIELD_DESCRIPTION
from app.graphql.core.node import Node, global_id
from app.models import SyncJob as SyncJobRecord
from app.models.sync_job import SyncStatus, SyncType
from app.services.sync.jobs import SyncErrorCode, estimated_seconds_left


@strawberry.enum(description="What a sync pulls.")
class SyncJobType(Enum):
    FULL = "full"
    INCREMENTAL = "incremental"

    def to_model(self) -> SyncType:
        return SyncType(self.value)


@strawberry.enum(description="Where a sync job is in its life.")
class SyncJobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    def to_model(self) -> SyncStatus:
        return SyncStatus(self.value)


SyncErrorCodeEnum = strawberry.enum(SyncErrorCode, name="SyncErrorCode")


@strawberry.type(description="An expected failure of a sync request.")
class SyncUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: SyncErrorCodeEnum  # type: ignore[valid-type]
    message: str


@strawberry.type(description="Counters a job updates after every page.")
class SyncProgress:
    pages: int
    orders: int
    customers: int
    upserted: int = strawberry.field(description="Orders inserted or replaced by newer data.")
    unchanged: int = strawberry.field(description="Orders we already held at the same age.")
    failed: int
    total_estimate: int | None = strawberry.field(
        description="Shopify's `ordersCount` for the job's window, taken when it started."
    )
    percent: float | None
    returns_seen: int = strawberry.field(
        default=0, description="After the orders: returns Shopify shows on them."
    )
    returns_applied: int = strawberry.field(
        default=0,
        description="Of those, returns changed here to match Shopify (adopted, followed or "
        "resolved: their webhooks were missed).",
    )


@strawberry.type(description="One pull of orders and customers from Shopify.")
class SyncJob(Node):
    record: strawberry.Private[SyncJobRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("SyncJob", self.record.id)

    @strawberry.field
    def type(self) -> SyncJobType:
        return SyncJobType(self.record.type.value)

    @strawberry.field
    def days(self) -> int | None:
        return self.record.days

    @strawberry.field
    def status(self) -> SyncJobStatus:
        return SyncJobStatus(self.record.status.value)

    @strawberry.field(description="`paged` or `bulk` (a bulk-operation export), once started.")
    def mode(self) -> str | None:
        return self.record.mode

    @strawberry.field(description="Incremental jobs: orders updated after this are pulled.")
    def since(self) -> datetime | None:
        return self.record.since

    @strawberry.field
    def progress(self) -> SyncProgress:
        p = self.record.progress
        percent = None
        if p.total_estimate:
            percent = round(min(100.0, 100.0 * p.orders / p.total_estimate), 1)
        elif self.record.status == SyncStatus.COMPLETED:
            percent = 100.0
        return SyncProgress(
            pages=p.pages,
            orders=p.orders,
            customers=p.customers,
            upserted=p.upserted,
            unchanged=p.unchanged,
            failed=p.failed,
            total_estimate=p.total_estimate,
            percent=percent,
            returns_seen=p.returns_seen,
            returns_applied=p.returns_applied,
        )

    @strawberry.field(description="Seconds left at the rate so far (running jobs only).")
    def eta_seconds(self) -> float | None:
        left = estimated_seconds_left(self.record)
        return None if left is None else round(left, 1)

    @strawberry.field(description="When the job should finish at the rate so far.")
    def estimated_completion_at(self) -> datetime | None:
        left = estimated_seconds_left(self.record)
        return None if left is None else utcnow() + timedelta(seconds=left)

    @strawberry.field
    def cancel_requested(self) -> bool:
        return self.record.cancel_requested

    @strawberry.field
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field
    def warnings(self) -> list[str]:
        return list(self.record.warnings)

    @strawberry.field(description="Why the job failed or was canceled.")
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def started_at(self) -> datetime | None:
        return self.record.started_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.record.finished_at


@strawberry.input
class ResyncShopifyInput:
    type: SyncJobType = SyncJobType.FULL
    days: int | None = strawberry.field(
        default=None, description="FULL: orders created in the last `days` (default 30, 1..3650)."
    )


@strawberry.type
class ResyncShopifyPayload:
    job: SyncJob | None
    webhooks_repaired: int | None = strawberry.field(
        description="Webhook subscriptions created or fixed while resyncing (null: not checked)."
    )
    user_errors: list[SyncUserError]


@strawberry.type
class CancelSyncJobPayload:
    job: SyncJob | None
    user_errors: list[SyncUserError]
