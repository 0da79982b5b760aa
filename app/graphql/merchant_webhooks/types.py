"""GraphQL types of merchants' webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.graphql.core.errors import FIELD_DESCRIPTION
from app.graphql.core.node import Node, global_id
from app.models import WebhookDelivery as WebhookDeliveryRecord
from app.models import WebhookEndpoint as WebhookEndpointRecord
from app.models.return_request import ReturnEventType
from app.models.webhook_endpoint import DeliveryAttempt as DeliveryAttemptRecord
from app.models.webhook_endpoint import DeliveryStatus, EndpointStatus
from app.services.notifications.errors import NotificationErrorCode


@strawberry.enum(
    description="The return events an endpoint subscribes to; a delivery's `type` is the "
    "event's own name (`RETURN_APPROVED` is `return.approved`). `RETURN_LABEL_CREATED` "
    "(`return.label_created`) is no change of status: the return's prepaid label was bought "
    "(`Return.shipment`); its `data.status` is the return's status then."
)
class WebhookEndpointTopic(Enum):
    RETURN_REQUESTED = ReturnEventType.REQUESTED
    RETURN_APPROVED = ReturnEventType.APPROVED
    RETURN_DECLINED = ReturnEventType.DECLINED
    RETURN_RECEIVED = ReturnEventType.RECEIVED
    RETURN_RESOLVED = ReturnEventType.RESOLVED
    RETURN_CANCELED = ReturnEventType.CANCELED
    RETURN_LABEL_CREATED = ReturnEventType.LABEL_CREATED


WebhookEndpointStatusEnum = strawberry.enum(EndpointStatus, name="WebhookEndpointStatus")
WebhookDeliveryStatusEnum = strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
NotificationErrorCodeEnum = strawberry.enum(NotificationErrorCode, name="NotificationErrorCode")


@strawberry.type(description="A merchant's system that receives signed return events.")
class WebhookEndpoint(Node):
    record: strawberry.Private[WebhookEndpointRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("WebhookEndpoint", self.record.id)

    @strawberry.field
    def url(self) -> str:
        return self.record.url

    @strawberry.field
    def topics(self) -> list[WebhookEndpointTopic]:
        return [WebhookEndpointTopic(topic) for topic in self.record.topics]

    @strawberry.field
    def description(self) -> str | None:
        return self.record.description

    @strawberry.field(
        description="DISABLED by the merchant, or after about a day in which every delivery "
        "failed (`disabledReason` says which); enable it with `updateWebhookEndpoint`."
    )
    def status(self) -> WebhookEndpointStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field
    def disabled_reason(self) -> str | None:
        return self.record.disabled_reason

    @strawberry.field
    def disabled_at(self) -> datetime | None:
        return self.record.disabled_at

    @strawberry.field(
        description="When the newest signing secret was made; a rotated-out one keeps signing "
        "beside it until `previousSecretExpiresAt`."
    )
    def secret_created_at(self) -> datetime:
        return self.record.secrets[0].created_at

    @strawberry.field
    def previous_secret_expires_at(self) -> datetime | None:
        ends = [s.expires_at for s in self.record.secrets[1:] if s.expires_at is not None]
        return max(ends) if ends else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at


@strawberry.type(description="One attempt to deliver a message.")
class WebhookDeliveryAttempt:
    record: strawberry.Private[DeliveryAttemptRecord]

    @strawberry.field
    def at(self) -> datetime:
        return self.record.at

    @strawberry.field(description="The receiver's HTTP status; null when it did not answer.")
    def status_code(self) -> int | None:
        return self.record.status_code

    @strawberry.field
    def duration_ms(self) -> int:
        return self.record.duration_ms

    @strawberry.field(description="The first 1 KB of the receiver's answer.")
    def response(self) -> str | None:
        return self.record.response

    @strawberry.field(description="Why there was no answer (timeout, refused address, ...).")
    def error(self) -> str | None:
        return self.record.error


@strawberry.type(description="One return event sent to one endpoint, with its attempts.")
class WebhookDelivery(Node):
    record: strawberry.Private[WebhookDeliveryRecord]

    @strawberry.field(description="Global id (opaque; use it with replayWebhookDelivery).")
    def id(self) -> strawberry.ID:
        return global_id("WebhookDelivery", self.record.id)

    @strawberry.field
    def endpoint_id(self) -> strawberry.ID:
        return global_id("WebhookEndpoint", self.record.endpoint_id)

    @strawberry.field(description="The message's `webhook-id` (the same on every attempt).")
    def message_id(self) -> str:
        return self.record.event_id

    @strawberry.field
    def topic(self) -> WebhookEndpointTopic:
        return WebhookEndpointTopic(self.record.event_type)

    @strawberry.field
    def return_id(self) -> strawberry.ID:
        return global_id("Return", self.record.return_id)

    @strawberry.field
    def status(self) -> WebhookDeliveryStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field(description="Why it last failed, or why it was given up.")
    def failure(self) -> str | None:
        return self.record.failure

    @strawberry.field(description="When it is tried next (null once settled).")
    def next_attempt_at(self) -> datetime | None:
        return self.record.next_attempt_at

    @strawberry.field(description="Attempts, oldest first (the latest 20).")
    def attempts(self) -> list[WebhookDeliveryAttempt]:
        return [WebhookDeliveryAttempt(record=attempt) for attempt in self.record.attempts]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def settled_at(self) -> datetime | None:
        return self.record.settled_at


@strawberry.type(description="An expected failure of an operation on webhook endpoints.")
class NotificationUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: NotificationErrorCodeEnum  # type: ignore[valid-type]
    message: str


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None
    user_errors: list[NotificationUserError]


@strawberry.type
class WebhookEndpointSecretPayload:
    webhook_endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_...`), shown this once: verify deliveries with "
        "it (any Standard Webhooks library)."
    )
    user_errors: list[NotificationUserError]


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_webhook_endpoint_id: strawberry.ID | None
    user_errors: list[NotificationUserError]


@strawberry.type
class ReplayWebhookDeliveryPayload:
    webhook_delivery: WebhookDelivery | None
    user_errors: list[NotificationUserError]
