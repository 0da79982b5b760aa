"""Operations: `systemStatus` for operators, `auditLog` for a merchant's own tenant."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.scalars import JSON

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import Forbidden, Unauthenticated
from app.graphql.core.permissions import IsMerchant
from app.models.audit_log import AuditLog as AuditLogRecord
from app.observability.metrics import POOL_USAGE, REQUEST_WINDOW
from app.services.operations import alerts as alert_service
from app.services.operations import status as status_service
from app.services.operations.audit import list_audit_log
from app.services.operations.operator_access import OperatorAccess, operator_access


class IsOperator(BasePermission):
    """Operators only. With `OPERATOR_API_KEY` set, the `X-Operator-Key` header must match it;
    without it, production refuses and development lets any merchant credential through."""

    message = "Operator access required"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        access = operator_access(info.context.settings, info.context.operator_key)
        if access is OperatorAccess.GRANTED:
            return True
        if access is OperatorAccess.MISSING_OR_WRONG_KEY:
            raise Unauthenticated("Operator access required: send the X-Operator-Key header")
        if access is OperatorAccess.DISABLED:
            raise Forbidden("Operator operations are disabled: set OPERATOR_API_KEY")
        return IsMerchant().has_permission(source, info, **kwargs)


@strawberry.enum(name="SystemAlertState")
class AlertState(Enum):
    OK = "ok"
    FIRING = "firing"
    UNKNOWN = "unknown"


@strawberry.type(name="SystemAlert", description="One of the runbook's alerts, evaluated now.")
class Alert:
    name: str
    description: str
    value: float | None = strawberry.field(description="Current value (ratio 0..1 or seconds).")
    threshold: float
    unit: str = strawberry.field(description="`ratio` or `seconds`.")
    window_minutes: int | None
    state: AlertState
    detail: str

    @classmethod
    def of(cls, alert: alert_service.Alert) -> Alert:
        return cls(
            name=alert.name,
            description=alert.description,
            value=alert.value,
            threshold=alert.threshold,
            unit=alert.unit,
            window_minutes=alert.window_minutes,
            state=AlertState(alert.state.value),
            detail=alert.detail,
        )


@strawberry.type(name="SystemDatabaseHealth")
class DatabaseHealth:
    ok: bool
    latency_ms: float | None
    error: str | None


@strawberry.type(name="SystemStatusCount")
class StatusCount:
    status: str
    count: int


@strawberry.type(name="SystemStaleSyncJob")
class StaleSyncJob:
    id: strawberry.ID
    tenant_id: str
    type: str
    started_at: datetime | None
    lease_expires_at: datetime | None
    reason: str


@strawberry.type(name="SystemWebhookRate", description="Webhook events received in the window.")
class WebhookRate:
    topic: str
    received: int
    processed: int
    failed: int
    dead: int
    pending: int
    success_rate: float | None

    @classmethod
    def of(cls, counts: alert_service.WebhookCounts) -> WebhookRate:
        return cls(
            topic=counts.topic,
            received=counts.received,
            processed=counts.processed,
            failed=counts.failed,
            dead=counts.dead,
            pending=counts.pending,
            success_rate=counts.success_rate,
        )


@strawberry.type(
    description="A notification queue: what waits to be sent, and what waits too long."
)
class OutboxStatus:
    name: str
    pending: int
    overdue: int = strawberry.field(description="Due more than 5 minutes ago.")


@strawberry.type(description="The runbook's status dashboard (operators only).")
class SystemStatus:
    generated_at: datetime
    environment: str
    healthy: bool
    database: DatabaseHealth
    integrations: list[StatusCount]
    sync_jobs: list[StatusCount]
    stale_sync_jobs: list[StaleSyncJob]
    webhook_window_minutes: int
    webhooks: list[WebhookRate]
    webhook_totals: WebhookRate
    notifications: list[OutboxStatus]
    disabled_webhook_endpoints: int
    alerts: list[Alert]

    @classmethod
    def of(cls, report: status_service.SystemStatus) -> SystemStatus:
        db = report.database
        return cls(
            generated_at=report.generated_at,
            environment=report.environment,
            healthy=report.healthy,
            database=DatabaseHealth(ok=db.ok, latency_ms=db.latency_ms, error=db.error),
            integrations=[StatusCount(status=k, count=v) for k, v in report.integrations.items()],
            sync_jobs=[StatusCount(status=k, count=v) for k, v in report.sync_jobs.items()],
            stale_sync_jobs=[
                StaleSyncJob(
                    id=strawberry.ID(job.id),
                    tenant_id=job.tenant_id,
                    type=job.type,
                    started_at=job.started_at,
                    lease_expires_at=job.lease_expires_at,
                    reason=job.reason,
                )
                for job in report.stale_sync_jobs
            ],
            webhook_window_minutes=report.webhook_window_minutes,
            webhooks=[WebhookRate.of(counts) for counts in report.webhooks],
            webhook_totals=WebhookRate.of(report.webhook_totals),
            notifications=[
                OutboxStatus(name=o.name, pending=o.pending, overdue=o.overdue)
                for o in report.notifications
            ],
            disabled_webhook_endpoints=report.disabled_webhook_endpoints,
            alerts=[Alert.of(alert) for alert in report.alerts],
        )


@strawberry.type(description="One audited change: who did what, when.")
class AuditLogEntry:
    record: strawberry.Private[AuditLogRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.id))

    @strawberry.field(description="`api_key:<key id>` or `session_token:<staff user id>`.")
    def actor(self) -> str:
        return self.record.actor

    @strawberry.field(description="The mutation or command, e.g. `approveReturn`.")
    def operation(self) -> str:
        return self.record.operation

    @strawberry.field
    def target_id(self) -> str | None:
        return self.record.target_id

    @strawberry.field(description="The input, without secrets or personal data.")
    def summary(self) -> JSON:
        return JSON(self.record.summary)

    @strawberry.field
    def request_id(self) -> str | None:
        return self.record.request_id

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at


@strawberry.type
class OperationsQueries:
    @strawberry.field(
        permission_classes=[IsOperator],
        description="Health, integrations, jobs, webhook rates and alerts (operators only).",
    )
    async def system_status(self, info: Info) -> SystemStatus:
        report = await status_service.system_status(
            info.context.settings, request_window=REQUEST_WINDOW, pool_usage=POOL_USAGE
        )
        return SystemStatus.of(report)

    @strawberry.field(
        permission_classes=[IsMerchant], description="This tenant's audit log, newest first."
    )
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditLogEntry]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_audit_log(info.context.tenant_id, request)
        return Connection[AuditLogEntry].from_page(page, lambda r: AuditLogEntry(record=r))


@strawberry.type
class OperationsMutations:
    """No operations yet."""
