"""Webhook operations: the event log, its stats, replays, and customer data exports."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import BadUserInput
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.webhooks.inputs import WebhookEventFilterInput
from app.graphql.webhooks.types import (
    CustomerDataExport,
    ReplayWebhookEventPayload,
    WebhookEvent,
    WebhookEventUserError,
    WebhookStats,
)
from app.models import WebhookEvent as WebhookEventRecord
from app.services.webhooks.processing import ReplayRefused, parse_event_id, replay_event
from app.services.webhooks.queries import (
    get_customer_data_export,
    list_customer_data_exports,
    list_webhook_events,
)
from app.services.webhooks.stats import MAX_WINDOW_MINUTES, webhook_stats


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        permission_classes=[IsMerchant], description="Received webhooks, newest first."
    )
    async def webhook_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: WebhookEventFilterInput | None = None,
    ) -> Connection[WebhookEvent]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_webhook_events(
            info.context.tenant_id,
            request,
            filter=filter.to_service() if filter else None,
        )
        return Connection[WebhookEvent].from_page(page, lambda record: WebhookEvent(record=record))

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Webhook counts, success rate and processing lag over a recent window.",
    )
    async def webhook_stats(self, info: Info, window_minutes: int = 60) -> WebhookStats:
        if window_minutes < 1 or window_minutes > MAX_WINDOW_MINUTES:
            raise BadUserInput(
                f"`windowMinutes` must be between 1 and {MAX_WINDOW_MINUTES}",
                argument="windowMinutes",
            )
        return WebhookStats(record=await webhook_stats(info.context.tenant_id, window_minutes))

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Exports produced for customers/data_request, newest first.",
    )
    async def customer_data_exports(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerDataExport]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_customer_data_exports(info.context.tenant_id, request)
        return Connection[CustomerDataExport].from_page(
            page, lambda record: CustomerDataExport(record=record)
        )

    @strawberry.field(permission_classes=[IsMerchant], description="One customer data export.")
    async def customer_data_export(
        self, info: Info, id: strawberry.ID
    ) -> CustomerDataExport | None:
        pk = parse_event_id(argument_id(id, "CustomerDataExport"))
        if pk is None:
            return None
        record = await get_customer_data_export(info.context.tenant_id, pk)
        return CustomerDataExport(record=record) if record else None


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Put a dead or failed webhook event back in the queue.",
    )
    async def replay_webhook_event(
        self, info: Info, id: strawberry.ID
    ) -> ReplayWebhookEventPayload:
        try:
            updated = await replay_event(info.context.tenant_id, argument_id(id, "WebhookEvent"))
        except ReplayRefused as exc:
            return ReplayWebhookEventPayload(
                webhook_event=None,
                user_errors=[WebhookEventUserError(field=["id"], code=exc.code, message=str(exc))],
            )
        record = WebhookEventRecord.model_validate(updated)
        return ReplayWebhookEventPayload(webhook_event=WebhookEvent(record=record), user_errors=[])
