"""orders/create and orders/updated: upsert the order and its customer, newer `updated_at` wins.

Events may arrive in any order and more than once; the newer-wins upsert makes that harmless
(an old payload never overwrites a newer order). Two guards keep erased data erased: an order
of a customer already redacted is stored redacted, and an order written while the shop or the
customer was being erased concurrently is cleaned up right after the write.

Which tenant an order goes to comes from `X-Shopify-Shop-Domain`, which Shopify does not sign:
a captured order body re-sent with another shop's header must not land in that shop's tenant.
Shopify's order ids are global, so before an order this tenant does not hold yet is stored:
- an order id another tenant holds is refused (it belongs to that tenant's shop);
- otherwise the shop is asked (`order(id:)` with its stored token, one cheap call): an order
  Shopify does not know in this shop is refused; when Shopify cannot be asked now the event is
  retried later; when it cannot be asked at all (no token, token refused, access denied) the
  event is ignored (a resync after a reinstall brings the order back if it is real).
An order the tenant already holds was put there by Shopify (a sync or a verified event): a body
of it can only be this order's own data, which the newer-wins upsert settles.
An event that is not applied keeps only the order's ids: its body may be another shop's
customer's data, which that shop's customers/redact would not find under this tenant.
"""

from __future__ import annotations

import logging
from typing import Any

from app.models import Customer, Order, Tenant, WebhookEvent
from app.services.orders.redacted_customers import redact_order, redacted_customer_ids
from app.services.orders.store import upsert_customers, upsert_orders
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.handlers.compliance import redact_customer, scrub_events
from app.services.webhooks.order_mapping import OrderPayloadError, map_customer, map_order
from app.services.webhooks.redaction import pseudonym_email
from app.services.webhooks.shopify_checks import CannotVerify, shop_has_order

logger = logging.getLogger("app.webhooks")

# The unique (tenant_id, shopify_id) index: bounded by `tenant_id != ours`, it is read with
# seeks from one tenant to the next, so finding another holder costs about two keys per tenant.
ORDER_KEY_INDEX = "tenant_shopify_id_unique"


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
        await _keep_only_ids(context)
        return "ignored: unknown shop"
    try:
        order = map_order(tenant_id, context.payload)
    except OrderPayloadError as exc:
        raise HandlerError(str(exc)) from exc
    refusal = await _unproven_origin(context, order.shopify_id)
    if refusal is not None:
        logger.warning(
            "order event not applied: %s",
            refusal,
            extra={"tenant_id": tenant_id, "event_id": context.event.get("event_id")},
        )
        await _keep_only_ids(context)
        return refusal
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


async def _unproven_origin(context: WebhookContext, order_id: str) -> str | None:
    """Why this order may not be stored for this tenant, or None when it may (see module doc)."""
    tenant_id = context.tenant_id
    orders = Order.get_pymongo_collection()
    if await orders.find_one({"tenant_id": tenant_id, "shopify_id": order_id}, {"_id": 1}):
        return None
    held_elsewhere = await orders.find_one(
        {"tenant_id": {"$ne": tenant_id}, "shopify_id": order_id},
        {"_id": 1},
        hint=ORDER_KEY_INDEX,
    )
    if held_elsewhere is not None:
        # Another shop's order: never say which tenant holds it (results are shown to merchants).
        return f"refused: order {order_id} belongs to another shop"
    try:
        known = await shop_has_order(context, order_id)
    except CannotVerify as exc:
        return f"ignored: order {order_id} could not be verified with Shopify ({exc})"
    if not known:
        return f"refused: Shopify does not know order {order_id} in this shop"
    return None


async def _keep_only_ids(context: WebhookContext) -> None:
    """Drop the body of an event that will not be applied, all but the order's ids."""
    kept = {
        key: context.payload[key]
        for key in ("id", "admin_graphql_api_id")
        if key in context.payload
    }
    await WebhookEvent.get_pymongo_collection().update_one(
        {"_id": context.event_pk},
        {"$set": {"payload": kept, "customer_id": None, "redacted_at": context.now}},
    )


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
