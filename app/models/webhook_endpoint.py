"""`webhook_endpoints` and `webhook_deliveries`: merchants' own systems (ERP, helpdesk,
warehouse) subscribed to their returns' events, and each message sent to them.

An endpoint keeps its signing secrets encrypted (MultiFernet, like Shopify tokens): the newest
signs; a rotated-out one keeps signing beside it until its `expires_at`, so receivers can
switch over. A delivery is one event for one endpoint (unique per tenant, event and endpoint:
the dispatcher may run twice, the delivery exists once), with its exact body (every attempt
sends the same bytes under the same `webhook-id`) and the log of its attempts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow
from app.models.return_request import ReturnEventType


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"  # by the merchant, or after failing for about a day


class EndpointSecret(BaseModel):
    ciphertext: str  # Fernet ciphertext of "whsec_<base64>"
    created_at: datetime
    expires_at: datetime | None = None  # set when rotated out: signs beside the new one until


class WebhookEndpoint(Document):
    tenant_id: str
    url: str
    topics: list[ReturnEventType]
    description: str | None = None
    secrets: list[EndpointSecret]  # newest first
    status: EndpointStatus = EndpointStatus.ENABLED
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "webhook_endpoints"
        use_revision = False
        indexes = [
            IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="tenant_created")
        ]


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at` (leased while a worker sends it)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt failed, or its endpoint was disabled; replayable


class DeliveryAttempt(BaseModel):
    at: datetime
    status_code: int | None = None  # None: no answer (refused address, timeout, connection)
    duration_ms: int
    response: str | None = None  # the first 1 KB of the answer
    error: str | None = None


class WebhookDelivery(Document):
    tenant_id: str
    endpoint_id: str
    event_id: str  # the return event's ("evt_..."), sent as the message's `webhook-id`
    event_type: ReturnEventType
    return_id: str
    body: str  # the exact JSON sent, signed anew (fresh timestamp) at each attempt
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    failures: int = 0  # failed attempts since created or last replayed (the back-off's step)
    failure: str | None = None  # why it last failed, or why it was given up
    claims: int = 0  # leases taken (a worker dying mid-send counts too)
    next_attempt_at: datetime | None = Field(default_factory=utcnow)  # None once settled
    lease_owner: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    settled_at: datetime | None = None
    redacted_at: datetime | None = None  # its customer's data erased (customers/redact)

    class Settings:
        name = "webhook_deliveries"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("event_id", ASCENDING), ("endpoint_id", ASCENDING)],
                name="tenant_event_endpoint",
                unique=True,
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("endpoint_id", ASCENDING), ("created_at", DESCENDING)],
                name="tenant_endpoint_created",
            ),
            # The delivery workers' queue: only deliveries still to send are indexed.
            IndexModel(
                [("next_attempt_at", ASCENDING)],
                name="delivery_due",
                partialFilterExpression={"status": "pending"},
            ),
        ]
