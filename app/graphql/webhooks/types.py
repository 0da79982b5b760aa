"""GraphQL types of the webhooks domain. Payloads are never exposed (they hold customer data)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from bson import Decimal128, ObjectId
from strawberry.scalars import JSON

from app.graphql.core.errors import FIELD_DESCRIPTION
from app.graphql.core.node import Node, global_id
from app.models import CustomerDataExport as CustomerDataExportRecord
from app.models import WebhookEvent as WebhookEventRecord
from app.services.webhooks.processing import WebhookEventErrorCode
from app.services.webhooks.stats import WebhookStats as WebhookStatsRecord


@strawberry.type(description="A Shopify webhook delivery we accepted (its payload is not shown).")
class WebhookEvent(Node):
    record: strawberry.Private[WebhookEventRecord]

    @strawberry.field(description="Global id (opaque; use it with replayWebhookEvent).")
    def id(self) -> strawberry.ID:
        return global_id("WebhookEvent", self.record.id)

    @strawberry.field
    def topic(self) -> str:
        return self.record.topic

    @strawberry.field
    def shop_domain(self) -> str:
        return self.record.shop_domain

    @strawberry.field(description="X-Shopify-Event-Id (else X-Shopify-Webhook-Id).")
    def event_id(self) -> str:
        return self.record.event_id

    @strawberry.field
    def webhook_id(self) -> str | None:
        return self.record.webhook_id

    @strawberry.field
    def api_version(self) -> str | None:
        return self.record.api_version

    @strawberry.field
    def processed(self) -> bool:
        return self.record.processed

    @strawberry.field(description="Gave up after repeated failures; replayable.")
    def dead(self) -> bool:
        return self.record.dead

    @strawberry.field
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field(description="The last failure, if any.")
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field(description="What processing did, e.g. `applied` or `ignored: ...`.")
    def result(self) -> str | None:
        return self.record.result

    @strawberry.field
    def next_attempt_at(self) -> datetime | None:
        return None if self.record.processed else self.record.next_attempt_at

    @strawberry.field
    def received_at(self) -> datetime:
        return self.record.received_at

    @strawberry.field(description="X-Shopify-Triggered-At.")
    def triggered_at(self) -> datetime | None:
        return self.record.triggered_at

    @strawberry.field
    def processed_at(self) -> datetime | None:
        return self.record.processed_at


@strawberry.type
class WebhookStats:
    record: strawberry.Private[WebhookStatsRecord]

    @strawberry.field
    def window_minutes(self) -> int:
        return self.record.window_minutes

    @strawberry.field(description="Events received in the window.")
    def received(self) -> int:
        return self.record.received

    @strawberry.field
    def processed(self) -> int:
        return self.record.processed

    @strawberry.field(description="Waiting for their first attempt.")
    def pending(self) -> int:
        return self.record.pending

    @strawberry.field(description="Failed at least once and still being retried.")
    def failed(self) -> int:
        return self.record.failed

    @strawberry.field
    def dead(self) -> int:
        return self.record.dead

    @strawberry.field(description="processed / received; null when nothing was received.")
    def success_rate(self) -> float | None:
        return self.record.success_rate

    @strawberry.field(description="Median of processedAt - receivedAt, in seconds.")
    def p50_lag_seconds(self) -> float | None:
        return self.record.p50_lag_seconds

    @strawberry.field(description="95th percentile of processedAt - receivedAt, in seconds.")
    def p95_lag_seconds(self) -> float | None:
        return self.record.p95_lag_seconds


def plain_json(value: Any) -> Any:
    """Stored BSON values as JSON: money as strings, times as ISO 8601, ids as strings."""
    if isinstance(value, dict):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ObjectId):
        return str(value)
    return value


@strawberry.type(description="What we hold about one customer, for a customers/data_request.")
class CustomerDataExport(Node):
    record: strawberry.Private[CustomerDataExportRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("CustomerDataExport", self.record.id)

    @strawberry.field(description="Shopify's data request id.")
    def data_request_id(self) -> str | None:
        return self.record.data_request_id

    @strawberry.field
    def customer_id(self) -> str | None:
        return self.record.customer_id

    @strawberry.field
    def customer_email(self) -> str | None:
        return self.record.customer_email

    @strawberry.field
    def orders_requested(self) -> list[str]:
        return self.record.orders_requested

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="The export: `customer`, `orders`, `returns` as JSON.")
    def data(self) -> JSON:
        return JSON(
            plain_json(
                {
                    "customer": self.record.customer,
                    "orders": self.record.orders,
                    "returns": self.record.returns,
                }
            )
        )


WebhookEventErrorCodeEnum = strawberry.enum(WebhookEventErrorCode, name="WebhookEventErrorCode")


@strawberry.type(description="An expected failure of an operation on a webhook event.")
class WebhookEventUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: WebhookEventErrorCodeEnum  # type: ignore[valid-type]
    message: str


@strawberry.type
class ReplayWebhookEventPayload:
    webhook_event: WebhookEvent | None
    user_errors: list[WebhookEventUserError]
