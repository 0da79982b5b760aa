"""Admin GraphQL order/customer nodes (paged sync and bulk JSONL) -> `Order`/`Customer`.

The webhook path (`app/services/webhooks/order_mapping.py`, REST payloads) stores the same
document for the same order (only `synced_at` and `source` differ; REST line items carry no
product tags). The shared conventions:

- ids are Shopify's numeric ids as strings (`legacyResourceId` or the GID tail);
  `admin_graphql_api_id` keeps the GID; empty strings are stored as None;
- `order_number` is `name` without `#` ("#1001" -> "1001"); emails are lower-cased, the order's
  email falls back to its customer's and the other way round;
- `financial_status` is the display status lower-cased (`paid`, `partially_refunded`), which is
  what REST sends; `fulfillment_status` uses REST's values, which webhooks store: `fulfilled`,
  `partial`, `restocked`, or None while nothing shipped (UNFULFILLED, ON_HOLD, SCHEDULED, ...);
- line `price` is the original unit price, `total_discount` the discounts allocated to the line,
  `fulfilled_quantity` is `quantity - unfulfilledQuantity`;
- `fulfilled_at` is the creation time of the latest fulfillment that shipped (not cancelled,
  error or failure); `delivered_at` the latest delivery among those;
- money is `Decimal`; timestamps are tz-aware UTC, truncated to milliseconds as MongoDB keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.models import Customer, Order
from app.models.order import LineItem, OrderCustomer
from app.services.shopify_values import (
    address,
    gid,
    money,
    numeric_id,
    parse_time,
    split_tags,
    text,
)

JSON = dict[str, Any]

# Admin GraphQL's OrderDisplayFulfillmentStatus -> REST `fulfillment_status` (what webhooks store).
_FULFILLMENT = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
    # REST values passed through unchanged, so a stored value maps to itself.
    "PARTIAL": "partial",
}
_VOID_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})


class MappingError(ValueError):
    """A node lacks what every order must have (id, name, timestamps)."""


# Scalars -----------------------------------------------------------------------------------
def lower_email(value: Any) -> str | None:
    if not value:
        return None
    cleaned = str(value).strip().lower()
    return cleaned or None


def order_number_from_name(name: str) -> str:
    return name.strip().lstrip("#").strip()


def financial_status(value: Any) -> str | None:
    return str(value).lower() if value else None


def fulfillment_status(value: Any) -> str | None:
    """GraphQL display status (or a REST value) -> the stored, REST-style value."""
    return _FULFILLMENT.get(str(value or "").strip().upper())


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _required_time(node: JSON, key: str) -> datetime:
    moment = parse_time(node.get(key))
    if moment is None:
        raise MappingError(f"{key} missing on {node.get('id')}")
    return moment


# Admin GraphQL ------------------------------------------------------------------------------
def _connection_nodes(value: Any) -> list[JSON]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("nodes"), list):
        return [item for item in value["nodes"] if isinstance(item, dict)]
    if isinstance(value.get("edges"), list):
        return [
            edge["node"] for edge in value["edges"] if isinstance(edge, dict) and edge.get("node")
        ]
    return []


def line_item_from_node(node: JSON) -> LineItem:
    variant = node.get("variant") or {}
    product = node.get("product") or variant.get("product") or {}
    quantity = int(node.get("quantity") or 0)
    unfulfilled = node.get("unfulfilledQuantity")
    fulfilled = quantity - int(unfulfilled) if unfulfilled is not None else 0
    return LineItem(
        id=numeric_id(node.get("id")) or "",
        title=str(node.get("title") or node.get("name") or ""),
        variant_id=numeric_id(variant.get("id")),
        variant_title=text(node.get("variantTitle")) or text(variant.get("title")),
        product_id=numeric_id(product.get("id")),
        product_type=text(product.get("productType")),
        product_tags=split_tags(product.get("tags")),
        sku=text(node.get("sku")) or text(variant.get("sku")),
        quantity=quantity,
        fulfilled_quantity=max(0, min(quantity, fulfilled)),
        price=money(node.get("originalUnitPriceSet")),
        total_discount=money(node.get("totalDiscountSet")),
    )


def order_from_node(
    tenant_id: str, node: JSON, line_items: list[JSON] | None = None, *, source: str = "sync"
) -> Order:
    """An Admin GraphQL `Order` node -> `Order`. `line_items` overrides the node's own
    connection (bulk JSONL children, or a connection completed by extra pages)."""
    name = str(node.get("name") or "")
    if not name or not node.get("id"):
        raise MappingError(f"order without id or name: {node.get('id')!r}")
    customer = node.get("customer")
    lines = line_items if line_items is not None else _connection_nodes(node.get("lineItems"))
    shipped = [
        f
        for f in node.get("fulfillments") or []
        if isinstance(f, dict) and str(f.get("status") or "").upper() not in _VOID_FULFILLMENTS
    ]
    customer_email = lower_email(customer.get("email")) if isinstance(customer, dict) else None
    email = lower_email(node.get("email")) or customer_email
    shopify_id = text(node.get("legacyResourceId")) or numeric_id(node["id"])
    if shopify_id is None:
        raise MappingError(f"order without an id: {node.get('id')!r}")
    return Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=gid("Order", node["id"]),
        order_number=order_number_from_name(name),
        name=name,
        email=email,
        customer=(
            OrderCustomer(
                id=numeric_id(customer.get("id")),
                email=customer_email or email,
                first_name=text(customer.get("firstName")),
                last_name=text(customer.get("lastName")),
                phone=text(customer.get("phone")),
            )
            if isinstance(customer, dict)
            else None
        ),
        line_items=[line_item_from_node(line) for line in lines],
        financial_status=financial_status(node.get("displayFinancialStatus")),
        fulfillment_status=fulfillment_status(node.get("displayFulfillmentStatus")),
        tags=split_tags(node.get("tags")),
        currency=text(node.get("currencyCode")) or "USD",
        subtotal_price=money(node.get("subtotalPriceSet")),
        total_price=money(node.get("totalPriceSet")),
        total_discounts=money(node.get("totalDiscountsSet")),
        shipping_address=address(node.get("shippingAddress"), "firstName", "lastName"),
        fulfilled_at=_latest(parse_time(f.get("createdAt")) for f in shipped),
        delivered_at=_latest(parse_time(f.get("deliveredAt")) for f in shipped),
        cancelled_at=parse_time(node.get("cancelledAt")),
        created_at=_required_time(node, "createdAt"),
        updated_at=_required_time(node, "updatedAt"),
        source=source,
    )


def customer_from_node(tenant_id: str, node: JSON) -> Customer | None:
    """An Admin GraphQL `Customer` node -> `Customer` (None without id or `updatedAt`)."""
    if not node.get("id") or not node.get("updatedAt"):
        return None
    updated = _required_time(node, "updatedAt")
    orders_count = node.get("numberOfOrders")
    shopify_id = text(node.get("legacyResourceId")) or numeric_id(node["id"])
    if shopify_id is None:
        return None
    return Customer(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=gid("Customer", node["id"]),
        email=lower_email(node.get("email")),
        first_name=text(node.get("firstName")),
        last_name=text(node.get("lastName")),
        phone=text(node.get("phone")),
        orders_count=int(orders_count) if orders_count is not None else None,
        created_at=parse_time(node.get("createdAt")) or updated,
        updated_at=updated,
    )


def customers_of_orders(tenant_id: str, nodes: Iterable[JSON]) -> list[Customer]:
    """The distinct customers embedded in order nodes (newest `updatedAt` per customer)."""
    chosen: dict[str, Customer] = {}
    for node in nodes:
        embedded = node.get("customer")
        if not isinstance(embedded, dict):
            continue
        customer = customer_from_node(tenant_id, embedded)
        if customer is None:
            continue
        if customer.email is None:  # as the webhook path does: the order's email is theirs
            customer.email = lower_email(node.get("email"))
        held = chosen.get(customer.shopify_id)
        if held is None or held.updated_at < customer.updated_at:
            chosen[customer.shopify_id] = customer
    return list(chosen.values())
