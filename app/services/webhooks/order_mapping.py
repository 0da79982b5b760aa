"""Shopify's REST webhook order payload -> our `Order` and `Customer` documents.

Ids become numeric strings, `order_number` a string, emails lower case, money `Decimal`,
tags a list, timestamps tz-aware UTC (millisecond precision, as MongoDB stores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.models import Customer, Order
from app.models.order import LineItem, OrderCustomer
from app.services.shopify_values import (
    address,
    money,
    numeric_id,
    parse_time,
    split_tags,
    text,
)

# Fulfillment states that did not (or no longer) ship anything.
_VOID_FULFILLMENT_STATES = frozenset({"cancelled", "error", "failure"})


class OrderPayloadError(ValueError):
    """The payload lacks what an order needs (id, timestamps)."""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _email(value: Any) -> str | None:
    cleaned = text(value)
    return cleaned.lower() if cleaned else None


def _fulfilled_quantities(payload: Mapping[str, Any]) -> dict[str, int] | None:
    """Quantities shipped per line item id, from `fulfillments[].line_items`; None when the
    payload carries no `fulfillments` list (then `fulfillable_quantity` is the fallback)."""
    fulfillments = payload.get("fulfillments")
    if not isinstance(fulfillments, list):
        return None
    shipped: dict[str, int] = {}
    for fulfillment in fulfillments:
        if not isinstance(fulfillment, Mapping):
            continue
        if str(fulfillment.get("status") or "").lower() in _VOID_FULFILLMENT_STATES:
            continue
        for item in fulfillment.get("line_items") or []:
            if isinstance(item, Mapping) and (line_id := numeric_id(item.get("id"))):
                shipped[line_id] = shipped.get(line_id, 0) + _int(item.get("quantity"))
    return shipped


def _line_item(item: Mapping[str, Any], shipped: dict[str, int] | None) -> LineItem | None:
    line_id = numeric_id(item.get("id"))
    if line_id is None:
        return None
    quantity = _int(item.get("quantity"))
    if shipped is not None:
        fulfilled = shipped.get(line_id, 0)
    elif item.get("fulfillable_quantity") is not None:
        fulfilled = quantity - _int(item.get("fulfillable_quantity"))
    else:
        fulfilled = quantity if item.get("fulfillment_status") == "fulfilled" else 0
    return LineItem(
        id=line_id,
        title=str(item.get("title") or item.get("name") or ""),
        variant_id=numeric_id(item.get("variant_id")),
        variant_title=text(item.get("variant_title")),
        product_id=numeric_id(item.get("product_id")),
        product_type=text(item.get("product_type")),
        sku=text(item.get("sku")),
        quantity=quantity,
        fulfilled_quantity=max(0, min(quantity, fulfilled)),
        price=money(item.get("price")),
        total_discount=money(item.get("total_discount")),
    )


def _fulfillment_times(payload: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(latest shipment, latest delivery) among the fulfillments that shipped."""
    shipped: list[datetime] = []
    delivered: list[datetime] = []
    for fulfillment in payload.get("fulfillments") or []:
        if not isinstance(fulfillment, Mapping):
            continue
        if str(fulfillment.get("status") or "").lower() in _VOID_FULFILLMENT_STATES:
            continue
        if created := parse_time(fulfillment.get("created_at")):
            shipped.append(created)
        if str(fulfillment.get("shipment_status") or "").lower() == "delivered":
            at = parse_time(fulfillment.get("delivered_at")) or parse_time(
                fulfillment.get("updated_at")
            )
            if at is not None:
                delivered.append(at)
    return (max(shipped) if shipped else None, max(delivered) if delivered else None)


def _order_number(payload: Mapping[str, Any]) -> str:
    number = payload.get("order_number")
    if number is not None and str(number).strip():
        return str(number).strip()
    name = str(payload.get("name") or "").strip().lstrip("#").strip()
    if name:
        return name
    raise OrderPayloadError("order payload has neither order_number nor name")


def order_customer(payload: Mapping[str, Any]) -> OrderCustomer | None:
    raw = payload.get("customer")
    if not isinstance(raw, Mapping):
        return None
    return OrderCustomer(
        id=numeric_id(raw.get("id")),
        email=_email(raw.get("email")),
        first_name=text(raw.get("first_name")),
        last_name=text(raw.get("last_name")),
        phone=text(raw.get("phone")),
    )


def map_order(tenant_id: str, payload: Mapping[str, Any]) -> Order:
    """The `Order` this payload describes (`source="webhook"`)."""
    shopify_id = numeric_id(payload.get("id"))
    if shopify_id is None:
        raise OrderPayloadError("order payload has no id")
    updated_at = parse_time(payload.get("updated_at"))
    created_at = parse_time(payload.get("created_at")) or updated_at
    if updated_at is None or created_at is None:
        raise OrderPayloadError(f"order {shopify_id} has no valid updated_at")
    number = _order_number(payload)
    shipped = _fulfilled_quantities(payload)
    lines = [
        line
        for item in payload.get("line_items") or []
        if isinstance(item, Mapping) and (line := _line_item(item, shipped)) is not None
    ]
    fulfilled_at, delivered_at = _fulfillment_times(payload)
    email = _email(payload.get("email")) or _email(payload.get("contact_email"))
    customer = order_customer(payload)
    if customer is not None and customer.email is None:
        customer.email = email
    return Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=text(payload.get("admin_graphql_api_id"))
        or f"gid://shopify/Order/{shopify_id}",
        order_number=number,
        name=text(payload.get("name")) or f"#{number}",
        email=email or (customer.email if customer else None),
        customer=customer,
        line_items=lines,
        financial_status=text(payload.get("financial_status")),
        fulfillment_status=text(payload.get("fulfillment_status")),
        tags=split_tags(payload.get("tags")),
        currency=text(payload.get("currency")) or "USD",
        subtotal_price=money(payload.get("subtotal_price")),
        total_price=money(payload.get("total_price")),
        total_discounts=money(payload.get("total_discounts")),
        shipping_address=address(payload.get("shipping_address"), "first_name", "last_name"),
        fulfilled_at=fulfilled_at,
        delivered_at=delivered_at,
        cancelled_at=parse_time(payload.get("cancelled_at")),
        created_at=created_at,
        updated_at=updated_at,
        source="webhook",
    )


def map_customer(tenant_id: str, payload: Mapping[str, Any], order: Order) -> Customer | None:
    """The order's customer as a `Customer` document; None for guest checkouts."""
    raw = payload.get("customer")
    if not isinstance(raw, Mapping) or order.customer is None or order.customer.id is None:
        return None
    updated_at = parse_time(raw.get("updated_at")) or order.updated_at
    orders_count = raw.get("orders_count")
    return Customer(
        tenant_id=tenant_id,
        shopify_id=order.customer.id,
        admin_graphql_api_id=text(raw.get("admin_graphql_api_id"))
        or f"gid://shopify/Customer/{order.customer.id}",
        email=order.customer.email,
        first_name=order.customer.first_name,
        last_name=order.customer.last_name,
        phone=order.customer.phone,
        orders_count=_int(orders_count) if orders_count is not None else None,
        created_at=parse_time(raw.get("created_at")) or order.created_at,
        updated_at=updated_at,
    )
