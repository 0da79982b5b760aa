"""`orders`: the tenant's Shopify orders as we last saw them (webhooks and sync)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from beanie import DecimalAnnotation, Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow
from app.models.money import DEFAULT_CURRENCY


class OrderCustomer(BaseModel):
    id: str | None = None  # Shopify customer id (numeric string)
    email: str | None = None  # lower-cased
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class LineItem(BaseModel):
    id: str  # Shopify line item id (numeric string)
    title: str = ""
    variant_id: str | None = None
    variant_title: str | None = None
    product_id: str | None = None
    product_type: str | None = None
    product_tags: list[str] = Field(default_factory=list)
    sku: str | None = None
    quantity: int = 0
    fulfilled_quantity: int = 0
    price: DecimalAnnotation = Decimal("0")  # unit price
    total_discount: DecimalAnnotation = Decimal("0")  # discounts allocated to this line


class Address(BaseModel):
    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None  # ISO 3166-1 alpha-2, what carriers want
    province_code: str | None = None
    phone: str | None = None


class Order(Document):
    tenant_id: str
    shopify_id: str  # "5813364687033"
    admin_graphql_api_id: str | None = None  # "gid://shopify/Order/5813364687033"
    order_number: str  # "1001"
    name: str  # "#1001"
    email: str | None = None  # lower-cased contact email
    customer: OrderCustomer | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    financial_status: str | None = None
    fulfillment_status: str | None = None
    tags: list[str] = Field(default_factory=list)
    currency: str = DEFAULT_CURRENCY
    subtotal_price: DecimalAnnotation = Decimal("0")
    total_price: DecimalAnnotation = Decimal("0")
    total_discounts: DecimalAnnotation = Decimal("0")
    shipping_address: Address | None = None
    fulfilled_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    created_at: datetime  # Shopify's
    updated_at: datetime  # Shopify's: newer wins
    synced_at: datetime = Field(default_factory=utcnow)
    source: str = "sync"  # "sync" | "webhook" | "seed"
    # set by customers/redact: later payloads update only the non-personal fields (order_store)
    redacted_at: datetime | None = None

    class Settings:
        name = "orders"
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
            IndexModel(
                [("tenant_id", ASCENDING), ("order_number", ASCENDING)],
                name="tenant_id_1_order_number_1",  # the old runbook's index, made unique
                unique=True,
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("customer.email", ASCENDING)],
                name="tenant_customer_email",
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("updated_at", DESCENDING)], name="tenant_updated"
            ),
            # A signed-in customer's recent orders in the storefront portal.
            IndexModel(
                [("tenant_id", ASCENDING), ("customer.id", ASCENDING), ("created_at", DESCENDING)],
                name="tenant_customer_orders",
            ),
        ]
