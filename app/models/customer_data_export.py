"""`customer_data_exports`: what we hold about one customer, produced for a
`customers/data_request` so the merchant can hand it over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class CustomerDataExport(Document):
    tenant_id: str
    shop_domain: str
    request_key: str  # Shopify's data_request id, else the event id: one export per request
    data_request_id: str | None = None
    event_id: str | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    orders_requested: list[str] = Field(default_factory=list)
    # Raw snapshots of our documents (BSON types kept: Decimal128, datetimes).
    customer: dict[str, Any] | None = None
    orders: list[dict[str, Any]] = Field(default_factory=list)
    returns: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "customer_data_exports"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("request_key", ASCENDING)],
                name="tenant_request_unique",
                unique=True,
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="tenant_customer"
            ),
        ]
