"""`customers`: the tenant's Shopify customers."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class Customer(Document):
    tenant_id: str
    shopify_id: str
    admin_graphql_api_id: str | None = None
    email: str | None = None  # lower-cased
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    orders_count: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime  # Shopify's: newer wins
    synced_at: datetime = Field(default_factory=utcnow)
    redacted_at: datetime | None = None

    class Settings:
        name = "customers"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("shopify_id", ASCENDING)],
                name="tenant_shopify_id_unique",
                unique=True,
            ),
            # serves order_store's newer-wins upsert filter (equality fields first)
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    ("shopify_id", ASCENDING),
                    ("redacted_at", ASCENDING),
                    ("updated_at", ASCENDING),
                ],
                name="tenant_shopify_id_redacted_updated",
            ),
            IndexModel([("tenant_id", ASCENDING), ("email", ASCENDING)], name="tenant_email"),
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
        ]
