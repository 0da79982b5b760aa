"""`notifications`: emails to customers and staff about their returns, and a tenant's switches.

One document per (tenant, event, recipient): the dispatcher writes it with the message already
rendered (the return as it is when the event is handed over, moments after it), and a sender
claims it with a lease and hands it to SMTP, retrying with back-off.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow
from app.models.return_request import ReturnEventType

LOCALES = ("en", "fr")  # the languages the emails are written in


class Recipient(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class EmailTemplate(BaseModel):
    subject: str | None = None  # None: the catalog's
    message: str | None = None


class NotificationSettings(BaseModel):
    """A tenant's email switches: which events email the customer, which the staff (at
    `staff_email`), and the language of the emails."""

    customer_events: list[ReturnEventType] = Field(default_factory=lambda: list(ReturnEventType))
    staff_events: list[ReturnEventType] = Field(default_factory=lambda: [ReturnEventType.REQUESTED])
    staff_email: str | None = None
    locale: str = "en"
    # The shop's own words, per "<recipient>:<event name>" (e.g. "customer:approved"):
    # a subject and a message in the sandboxed template language, checked when saved.
    templates: dict[str, EmailTemplate] = Field(default_factory=dict)


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good, or every attempt failed; retryable


class EmailNotification(Document):
    tenant_id: str
    event_id: str
    event_type: ReturnEventType | None = None  # None: not about a return (an endpoint disabled)
    return_id: str | None = None
    recipient: Recipient
    to: str
    locale: str
    subject: str
    text: str
    html: str
    message_id: str  # the Message-ID header, the same on every attempt
    status: EmailStatus = EmailStatus.PENDING
    attempts: int = 0  # SMTP attempts that failed since created or retried
    error: str | None = None
    next_attempt_at: datetime | None = Field(default_factory=utcnow)  # None once settled
    lease_owner: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None

    class Settings:
        name = "notifications"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("event_id", ASCENDING), ("recipient", ASCENDING)],
                name="tenant_event_recipient",
                unique=True,
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel([("tenant_id", ASCENDING), ("return_id", ASCENDING)], name="tenant_return"),
            # The senders' queue: only emails still to send are indexed.
            IndexModel(
                [("next_attempt_at", ASCENDING)],
                name="email_due",
                partialFilterExpression={"status": "pending"},
            ),
        ]
