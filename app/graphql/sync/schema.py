"""Sync jobs: `resyncShopify`, `cancelSyncJob`, `syncJobs`, `syncJob`. Merged by app/graphql/schema.py."""

from __future__ import annotations

import asyncio
import logging

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import user_errors
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.sync.types import (
    CancelSyncJobPayload,
    ResyncShopifyInput,
    ResyncShopifyPayload,
    SyncJob,
    SyncJobStatus,
    SyncUserError,
)
from app.http.database_deadline import beyond_request_deadline
from app.services.integration.webhook_subscriptions import ensure_webhook_subscriptions
from app.services.sync.jobs import (
    SyncErrorCode,
    SyncIssue,
    cancel_sync_job,
    get_sync_job,
    list_sync_jobs,
    queue_sync,
)

logger = logging.getLogger(__name__)

# The webhook repair is best effort and must not hold a resync request for long.
WEBHOOK_REPAIR_TIMEOUT_SECONDS = 10.0


def _user_errors(issues: list[SyncIssue]) -> list[SyncUserError]:
    return user_errors(issues, SyncUserError)


async def _repair_webhooks(info: Info) -> tuple[int | None, SyncUserError | None]:
    """The runbook's "re-register webhooks" step; its failure never fails the resync."""
    http = info.context.shopify_http
    if http is None:
        return None, None
    try:
        report = await asyncio.wait_for(
            beyond_request_deadline(
                ensure_webhook_subscriptions(info.context.tenant_id, info.context.settings, http)
            ),
            timeout=WEBHOOK_REPAIR_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        logger.warning("webhook repair during resync failed: %s", exc)
        return None, SyncUserError(
            field=None,
            code=SyncErrorCode.WEBHOOKS_NOT_REPAIRED,
            message=f"Webhook subscriptions could not be checked: {type(exc).__name__}",
        )
    repaired = len(report.created) + len(report.updated)
    if report.ok:
        return repaired, None
    return repaired, SyncUserError(
        field=None,
        code=SyncErrorCode.WEBHOOKS_NOT_REPAIRED,
        message=f"Webhook subscriptions not fully repaired: {report.error_text()}",
    )


@strawberry.type
class SyncQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="Sync jobs, newest first.")
    async def sync_jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: SyncJobStatus | None = None,
    ) -> Connection[SyncJob]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_sync_jobs(
            info.context.tenant_id,
            request,
            status=status.to_model() if status else None,
        )
        return Connection[SyncJob].from_page(page, lambda record: SyncJob(record=record))

    @strawberry.field(permission_classes=[IsMerchant], description="A sync job by id.")
    async def sync_job(self, info: Info, id: strawberry.ID) -> SyncJob | None:
        record = await get_sync_job(info.context.tenant_id, argument_id(id, "SyncJob"))
        return SyncJob(record=record) if record else None


@strawberry.type
class SyncMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description=(
            "Queue a sync of orders and customers from Shopify (returns at once) and repair "
            "missing webhook subscriptions. One active job per shop: a second request returns "
            "the active job with SYNC_ALREADY_RUNNING."
        ),
    )
    async def resync_shopify(
        self, info: Info, input: ResyncShopifyInput | None = None
    ) -> ResyncShopifyPayload:
        request = input or ResyncShopifyInput()
        principal = info.context.principal
        result = await queue_sync(
            info.context.tenant_id,
            request.type.to_model(),
            request.days,
            requested_by=principal.actor if principal else None,
        )
        errors = _user_errors(result.issues)
        repaired: int | None = None
        if result.created:  # a request answered with the active job leaves webhooks to it
            repaired, webhook_error = await _repair_webhooks(info)
            if webhook_error is not None:
                errors.append(webhook_error)
        return ResyncShopifyPayload(
            job=SyncJob(record=result.job) if result.job else None,
            webhooks_repaired=repaired,
            user_errors=errors,
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Cancel a sync job: a queued one at once, a running one at its next page.",
    )
    async def cancel_sync_job(self, info: Info, id: strawberry.ID) -> CancelSyncJobPayload:
        result = await cancel_sync_job(info.context.tenant_id, argument_id(id, "SyncJob"))
        return CancelSyncJobPayload(
            job=SyncJob(record=result.job) if result.job else None,
            user_errors=_user_errors(result.issues),
        )
