"""Mandatory compliance topics: customers/redact, customers/data_request, shop/redact."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from app.models import (
    ApiKey,
    AuditLog,
    Customer,
    CustomerDataExport,
    EmailNotification,
    OAuthState,
    Order,
    PortalAttempts,
    Return,
    ReturnLedger,
    ReturnPhoto,
    ShopifyIntegration,
    SyncJob,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.models.integration import IntegrationStatus
from app.services.integration.integrations import mark_uninstalled
from app.services.integration.session import IntegrationNotConnected
from app.services.notifications.redaction import redact_deliveries
from app.services.operations.alerts import SHOP_REDACT_REFUSED_ALERT, SHOP_REDACT_REFUSED_FIELD
from app.services.shopify_values import numeric_id
from app.services.webhooks.context import WebhookContext
from app.services.webhooks.redaction import pseudonym_email, scrub_payload
from app.services.webhooks.shopify_checks import stored_token_revoked
from app.services.webhooks.topics import ORDER_TOPICS

logger = logging.getLogger("app.webhooks")


def _customer_identity(payload: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(customer id, lower-cased email, phone) of a compliance payload."""
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        return None, None, None
    customer_id = numeric_id(customer.get("id"))
    email = str(customer["email"]).strip().lower() if customer.get("email") else None
    phone = str(customer["phone"]).strip() if customer.get("phone") else None
    return customer_id, email, phone


def _order_ids(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [number for value in values if (number := numeric_id(value)) is not None]


def _orders_filter(
    tenant_id: str, customer_id: str | None, email: str | None, order_ids: Iterable[str]
) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if customer_id:
        clauses.append({"customer.id": customer_id})
    if email:
        clauses.extend([{"email": email}, {"customer.email": email}])
    ids = list(order_ids)
    if ids:
        clauses.append({"shopify_id": {"$in": ids}})
    return {"tenant_id": tenant_id, "$or": clauses} if clauses else None


def _as_payload_ids(order_ids: Iterable[str]) -> list[Any]:
    """Order ids as REST payloads carry them (numbers), and as strings for safety."""
    values: list[Any] = []
    for order_id in order_ids:
        values.append(order_id)
        if order_id.isdigit():
            values.append(int(order_id))
    return values


@dataclass(slots=True)
class RedactionCounts:
    customers: int = 0
    orders: int = 0
    returns: int = 0
    events: int = 0
    exports: int = 0
    deliveries: int = 0  # merchants' webhook messages about their returns
    emails: int = 0  # emails about their returns, deleted
    photos: int = 0  # photos they sent with their returns, deleted

    def summary(self) -> str:
        return (
            f"redacted customers={self.customers} orders={self.orders} returns={self.returns} "
            f"events={self.events} exports_deleted={self.exports} deliveries={self.deliveries} "
            f"emails_deleted={self.emails} photos_deleted={self.photos}"
        )


async def redact_customer(
    *,
    secret: str,
    tenant_id: str,
    customer_id: str | None,
    email: str | None,
    phone: str | None = None,
    order_ids: Iterable[str] = (),
    now: datetime,
) -> RedactionCounts:
    """Erase one customer's email, names, phone and addresses everywhere we hold them.

    Return records stay (with a pseudonymous email). The customer record is marked
    `redacted_at` first, so an order event applied concurrently sees the mark afterwards and
    scrubs what it wrote. Idempotent: running it again changes nothing more.
    """
    counts = RedactionCounts()
    pseudonym = pseudonym_email(secret, tenant_id, customer_id or email or "unknown")
    redacted_fields = {
        "email": pseudonym,
        "first_name": None,
        "last_name": None,
        "phone": None,
        "redacted_at": now,
        "updated_at": now,
    }
    customers = Customer.get_pymongo_collection()
    names: set[str] = set()
    matching: list[dict[str, Any]] = []
    if customer_id:
        matching.append({"shopify_id": customer_id})
    if email:
        matching.append({"email": email})
    if matching:
        async for doc in customers.find(
            {"tenant_id": tenant_id, "$or": matching}, {"first_name": 1, "last_name": 1}
        ):
            names.add(" ".join(str(doc.get(k) or "") for k in ("first_name", "last_name")))
        result = await customers.update_many(
            {"tenant_id": tenant_id, "$or": matching}, {"$set": redacted_fields}
        )
        counts.customers = result.modified_count
    if customer_id:
        # A tombstone when we never held the customer: later order events see the mark.
        await customers.update_one(
            {"tenant_id": tenant_id, "shopify_id": customer_id},
            {
                "$setOnInsert": {
                    "tenant_id": tenant_id,
                    "shopify_id": customer_id,
                    "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                    "orders_count": None,
                    "created_at": now,
                    "synced_at": now,
                    **redacted_fields,
                }
            },
            upsert=True,
        )

    orders = Order.get_pymongo_collection()
    order_filter = _orders_filter(tenant_id, customer_id, email, order_ids)
    matched_ids: list[str] = list(order_ids)
    if order_filter is not None:
        found = [
            doc
            async for doc in orders.find(
                order_filter, {"shopify_id": 1, "customer": 1, "shipping_address": 1}
            )
        ]
        for doc in found:
            customer = doc.get("customer") or {}
            names.add(" ".join(str(customer.get(k) or "") for k in ("first_name", "last_name")))
            address = doc.get("shipping_address") or {}
            if address.get("name"):
                names.add(str(address["name"]))
        pks = [doc["_id"] for doc in found]
        matched_ids.extend(str(doc["shopify_id"]) for doc in found)
        if pks:
            result = await orders.update_many(
                {"tenant_id": tenant_id, "_id": {"$in": pks}},
                # `redacted_at` in the same write: a later payload never takes the data back
                {"$set": {"email": pseudonym, "shipping_address": None, "redacted_at": now}},
            )
            counts.orders = result.matched_count
            await orders.update_many(
                {"tenant_id": tenant_id, "_id": {"$in": pks}, "customer": {"$type": "object"}},
                {
                    "$set": {
                        "customer.email": pseudonym,
                        "customer.first_name": None,
                        "customer.last_name": None,
                        "customer.phone": None,
                    }
                },
            )

    return_clauses: list[dict[str, Any]] = []
    if email:
        return_clauses.append({"customer_email": email})
    if matched_ids:
        return_clauses.append({"order_id": {"$in": sorted(set(matched_ids))}})
    if return_clauses:
        # Their webhook messages too (found before the email below is replaced).
        redacted_returns = [
            str(doc["_id"])
            async for doc in Return.get_pymongo_collection().find(
                {"tenant_id": tenant_id, "$or": return_clauses}, {"_id": 1}
            )
        ]
        counts.deliveries = await redact_deliveries(tenant_id, redacted_returns, now)
        # Emails to them: what they said and where they were sent go (the record stays).
        erased = await EmailNotification.get_pymongo_collection().delete_many(
            {"tenant_id": tenant_id, "return_id": {"$in": redacted_returns}}
        )
        counts.emails = erased.deleted_count
        # Their photos: pictures of their things in their home (the items keep no ids of them).
        photos = await ReturnPhoto.get_pymongo_collection().delete_many(
            {
                "tenant_id": tenant_id,
                "return_id": {"$in": [ObjectId(r) for r in redacted_returns]},
            }
        )
        counts.photos = photos.deleted_count
        result = await Return.get_pymongo_collection().update_many(
            {"tenant_id": tenant_id, "$or": return_clauses},
            # free-text notes may carry anything the customer or staff wrote about them
            {
                "$set": {
                    "customer_email": pseudonym,
                    "items.$[].note": None,
                    "items.$[].photo_ids": [],
                    "history.$[].note": None,
                }
            },
        )
        counts.returns = result.matched_count

    counts.events = await scrub_events(
        tenant_id=tenant_id,
        customer_id=customer_id,
        email=email,
        order_ids=sorted(set(matched_ids)),
        known=[value for value in (email, phone, *names) if value and value.strip()],
        now=now,
    )

    export_clauses: list[dict[str, Any]] = []
    if customer_id:
        export_clauses.append({"customer_id": customer_id})
    if email:
        export_clauses.append({"customer_email": email})
    if export_clauses:
        deleted = await CustomerDataExport.get_pymongo_collection().delete_many(
            {"tenant_id": tenant_id, "$or": export_clauses}
        )
        counts.exports = deleted.deleted_count
    return counts


async def scrub_events(
    *,
    tenant_id: str,
    customer_id: str | None,
    email: str | None,
    order_ids: list[str],
    known: list[str],
    now: datetime,
    only_pk: Any = None,
) -> int:
    """Scrub the stored payloads of this customer's webhook events (orders and compliance)."""
    clauses: list[dict[str, Any]] = []
    if customer_id:
        clauses.append({"customer_id": customer_id})
    if email:
        clauses.extend(
            [
                {"payload.email": email},
                {"payload.contact_email": email},
                {"payload.customer.email": email},
            ]
        )
    if order_ids:
        clauses.append(
            {
                "topic": {"$in": sorted(ORDER_TOPICS)},
                "payload.id": {"$in": _as_payload_ids(order_ids)},
            }
        )
    if not clauses and only_pk is None:
        return 0
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if only_pk is not None:
        query["_id"] = only_pk
    else:
        query["$or"] = clauses
    events = WebhookEvent.get_pymongo_collection()
    identifiers = [*known, *(value for value in (email,) if value)]
    scrubbed = 0
    async for doc in events.find(query, {"payload": 1}):
        cleaned = scrub_payload(doc.get("payload") or {}, identifiers)
        await events.update_one(
            {"_id": doc["_id"]}, {"$set": {"payload": cleaned, "redacted_at": now}}
        )
        scrubbed += 1
    return scrubbed


async def customers_redact(context: WebhookContext) -> str:
    customer_id, email, phone = _customer_identity(context.payload)
    if customer_id is None and email is None:
        return "ignored: payload names no customer"
    counts = await redact_customer(
        secret=context.settings.shopify_api_secret,
        tenant_id=context.tenant_id,
        customer_id=customer_id,
        email=email,
        phone=phone,
        order_ids=_order_ids(context.payload.get("orders_to_redact")),
        now=context.now,
    )
    return counts.summary()


def _snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document for an export: our internal `_id` as a plain `id` string."""
    copy = dict(doc)
    pk = copy.pop("_id", None)
    if pk is not None and "id" not in copy:
        copy["id"] = str(pk)
    return copy


async def customers_data_request(context: WebhookContext) -> str:
    tenant_id = context.tenant_id
    if await Tenant.get_pymongo_collection().find_one({"_id": tenant_id}, {"_id": 1}) is None:
        return "ignored: unknown shop"
    customer_id, email, _phone = _customer_identity(context.payload)
    requested = _order_ids(context.payload.get("orders_requested"))
    customer_doc = None
    if customer_id:
        customer_doc = await Customer.get_pymongo_collection().find_one(
            {"tenant_id": tenant_id, "shopify_id": customer_id}
        )
    if customer_doc is None and email:
        customer_doc = await Customer.get_pymongo_collection().find_one(
            {"tenant_id": tenant_id, "email": email}
        )
    order_filter = _orders_filter(tenant_id, customer_id, email, requested)
    orders = (
        []
        if order_filter is None
        else [_snapshot(doc) async for doc in Order.get_pymongo_collection().find(order_filter)]
    )
    return_clauses: list[dict[str, Any]] = []
    if email:
        return_clauses.append({"customer_email": email})
    if orders:
        return_clauses.append({"order_id": {"$in": [o["shopify_id"] for o in orders]}})
    returns = (
        [
            _snapshot(doc)
            async for doc in Return.get_pymongo_collection().find(
                {"tenant_id": tenant_id, "$or": return_clauses}
            )
        ]
        if return_clauses
        else []
    )
    request = context.payload.get("data_request")
    data_request_id = (
        str(request["id"]) if isinstance(request, dict) and request.get("id") is not None else None
    )
    request_key = data_request_id or f"event:{context.event['event_id']}"
    export = {
        "tenant_id": tenant_id,
        "shop_domain": context.shop_domain,
        "request_key": request_key,
        "data_request_id": data_request_id,
        "event_id": context.event.get("event_id"),
        "customer_id": customer_id,
        "customer_email": email,
        "orders_requested": requested,
        "customer": _snapshot(customer_doc) if customer_doc else None,
        "orders": orders,
        "returns": returns,
        "created_at": context.now,
    }
    await CustomerDataExport.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id, "request_key": request_key}, {"$set": export}, upsert=True
    )
    return f"exported orders={len(orders)} returns={len(returns)} request={request_key}"


SHOP_REDACT_REFUSED = (
    "refused: the integration is connected (Shopify sends shop/redact 48 hours after an "
    "uninstall); nothing was erased"
)


async def _record_an_uninstall_that_never_arrived(context: WebhookContext) -> None:
    """A shop still connected here may have uninstalled the app without our hearing of it (its
    `app/uninstalled` went dead while Shopify was unreachable): if Shopify now refuses the
    stored access token before its expiry and then its refresh (revoked, the proof of an
    uninstall), the uninstall is recorded, and the redaction proceeds. Anything less (an expired
    token, a 401 a refresh cures) leaves the shop connected and the redaction refused: erasing
    cannot be undone. Shopify
    unreachable: the event is retried later (`ShopifyUnreachable`)."""
    current = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"tenant_id": context.tenant_id}, {"status": 1, "access_token": 1}
    )
    if (
        current is None
        or current.get("status") != IntegrationStatus.CONNECTED.value
        or not current.get("access_token")
    ):
        return
    try:
        if await stored_token_revoked(context):
            await mark_uninstalled(context.tenant_id, token=str(current["access_token"]))
    except IntegrationNotConnected:
        return  # changed meanwhile: the write below decides


async def shop_redact(context: WebhookContext) -> str:
    """Delete everything we hold for the shop, the tenant document included; keep only this
    event (it names the shop and nothing personal) as the record that we complied.

    Never while the integration is connected: Shopify sends shop/redact 48 hours after an
    uninstall, so one arriving for a connected shop is a replayed delivery (the topic header is
    not signed) or our state is wrong. Either way a person must look: the event is kept with a
    `refused` result, and the integration is marked, which raises the `shop_redact_refused`
    alert (`services.operations.alerts`).
    """
    tenant_id = context.tenant_id
    integrations = ShopifyIntegration.get_pymongo_collection()
    await _record_an_uninstall_that_never_arrived(context)
    # The integration goes first, and only when not connected: the condition is in the write,
    # so a reinstall racing this keeps its integration (and the shop its data).
    removed = await integrations.delete_many(
        {"tenant_id": tenant_id, "status": {"$ne": IntegrationStatus.CONNECTED.value}}
    )
    if (
        removed.deleted_count == 0
        and await integrations.find_one({"tenant_id": tenant_id}, {"_id": 1}) is not None
    ):
        await integrations.update_one(
            {"tenant_id": tenant_id}, {"$set": {SHOP_REDACT_REFUSED_FIELD: context.now}}
        )
        logger.error(
            "shop/redact refused: the shop's integration is connected",
            extra={
                "tenant_id": tenant_id,
                "shop": context.shop_domain,
                "event_id": context.event.get("event_id"),
                "alert": SHOP_REDACT_REFUSED_ALERT,
            },
        )
        return SHOP_REDACT_REFUSED
    # The tenant goes first: an order event applied concurrently checks it afterwards.
    deleted = {
        "tenants": (
            await Tenant.get_pymongo_collection().delete_many({"_id": tenant_id})
        ).deleted_count,
        integrations.name: removed.deleted_count,
    }
    for model in (
        Order,
        Customer,
        Return,
        ReturnLedger,
        SyncJob,
        ApiKey,
        CustomerDataExport,
        AuditLog,
        PortalAttempts,
        WebhookEndpoint,
        WebhookDelivery,
        EmailNotification,
        ReturnPhoto,
    ):
        collection = model.get_pymongo_collection()
        result = await collection.delete_many({"tenant_id": tenant_id})
        deleted[collection.name] = result.deleted_count
    events = await WebhookEvent.get_pymongo_collection().delete_many(
        {"shop_domain": context.shop_domain, "_id": {"$ne": context.event_pk}}
    )
    deleted["webhook_events"] = events.deleted_count
    await OAuthState.get_pymongo_collection().delete_many({"shop": context.shop_domain})
    return "deleted " + " ".join(f"{name}={count}" for name, count in sorted(deleted.items()))
