"""Customers erased by `customers/redact` stay erased, whichever path writes their orders next."""

from __future__ import annotations

from datetime import datetime

from app.models import Customer, Order
from app.services.webhooks.redaction import pseudonym_email


async def redacted_customer_ids(tenant_id: str, customer_ids: list[str]) -> set[str]:
    """Which of these customers were redacted (one query)."""
    if not customer_ids:
        return set()
    return {
        doc["shopify_id"]
        async for doc in Customer.get_pymongo_collection().find(
            {
                "tenant_id": tenant_id,
                "shopify_id": {"$in": customer_ids},
                "redacted_at": {"$ne": None},
            },
            {"shopify_id": 1},
        )
    }


def redact_order(order: Order, pseudonym: str, now: datetime) -> None:
    """Erase the customer's personal data from an order about to be stored, and mark it, so a
    later payload never takes the data back."""
    order.email = pseudonym
    order.redacted_at = now
    order.shipping_address = None
    if order.customer is not None:
        order.customer.email = pseudonym
        order.customer.first_name = order.customer.last_name = order.customer.phone = None


async def keep_redacted_customers_erased(
    tenant_id: str, orders: list[Order], customers: list[Customer], secret: str, now: datetime
) -> list[Customer]:
    """Redact in place the orders of already-redacted customers; the customers still to write."""
    ids = sorted({o.customer.id for o in orders if o.customer and o.customer.id})
    redacted = await redacted_customer_ids(tenant_id, ids)
    if not redacted:
        return customers
    for order in orders:
        customer_id = order.customer.id if order.customer else None
        if customer_id in redacted:
            assert customer_id is not None
            redact_order(order, pseudonym_email(secret, tenant_id, customer_id), now)
    return [customer for customer in customers if customer.shopify_id not in redacted]
