"""orders/create and orders/updated: upsert the order and its customer, newer `updated_at` wins.

Events may arrive in any order and more than once; the newer-wins upsert makes that harmless
(an old payload never overwrites a newer order). Two guards keep erased data erased: an order
of a customer already redacted is stored redacted, and an order written while the shop or the
customer was being erased concurrently is cleaned up right after the write.
"""

from __future__ import annotations

from typing import Any

from app.models import Customer, Order, Tenant
from app.services.order_store import upsert_customers, upsert_orders
from app.services.redacted_customers import redact_order, redacted_customer_ids
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.handlers.compliance import redact_customer, scrub_events
from app.services.webhooks.order_mapping import OrderPayloadError, map_customer, map_order
from app.services.webhooks.redaction import pseudonym_email


async def _tenant_exists(tenant_id: str) -> bool:
    found = await Tenant.get_pymongo_collection().find_one({"_id": tenant_id}, {"_id": 1})
    return found is not None


async def _customer_redacted(tenant_id: str, customer_id: str | None) -> bool:
    if customer_id is None:
        return False
    return customer_id in await redacted_customer_ids(tenant_id, [customer_id])


async def apply_order(context: WebhookContext) -> str:
    tenant_id = context.tenant_id
    if not await _tenant_exists(tenant_id):
        return "ignored: unknown shop"
    try:
        order = map_order(tenant_id, context.payload)
    except OrderPayloadError as exc:
        raise HandlerError(str(exc)) from exc
    customer = map_customer(tenant_id, context.payload, order)
    customer_id = order.customer.id if order.customer else None
    redacted = await _customer_redacted(tenant_id, customer_id)
    if redacted:
        assert customer_id is not None
        secret = context.settings.shopify_api_secret
        redact_order(order, pseudonym_email(secret, tenant_id, customer_id), context.now)
        customer = None  # the redacted record stays as it is
    order_counts = await upsert_orders([order])
    if order_counts.failed:
        raise HandlerError("; ".join(order_counts.errors) or "order upsert failed")
    if customer is not None:
        customer_counts = await upsert_customers([customer])
        if customer_counts.failed:
            raise HandlerError("; ".join(customer_counts.errors) or "customer upsert failed")

    if not await _tenant_exists(tenant_id):  # shop/redact ran meanwhile
        await Order.get_pymongo_collection().delete_many(
            {"tenant_id": tenant_id, "shopify_id": order.shopify_id}
        )
        if customer_id is not None:
            await Customer.get_pymongo_collection().delete_many(
                {"tenant_id": tenant_id, "shopify_id": customer_id}
            )
        return "ignored: shop redacted"
    if redacted or await _customer_redacted(tenant_id, customer_id):
        if not redacted:  # customers/redact ran meanwhile: redact what we just wrote
            await redact_customer(
                secret=context.settings.shopify_api_secret,
                tenant_id=tenant_id,
                customer_id=customer_id,
                email=None,
                order_ids=[order.shopify_id],
                now=context.now,
            )
        await _scrub_own_payload(context)
        return "applied (customer redacted)"
    changed = "upserted" if order_counts.upserted else "unchanged (stored order is as new)"
    return f"applied: order {order.shopify_id} {changed}"


async def _scrub_own_payload(context: WebhookContext) -> None:
    raw: Any = context.payload.get("customer") or {}
    known = [str(raw.get(k)) for k in ("email", "phone") if isinstance(raw, dict) and raw.get(k)]
    await scrub_events(
        tenant_id=context.tenant_id,
        customer_id=None,
        email=None,
        order_ids=[],
        known=known,
        now=context.now,
        only_pk=context.event_pk,
    )
