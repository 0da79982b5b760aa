"""Test data and GraphQL documents for the returns tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from app.clock import utcnow
from app.models import Order
from app.models.order import LineItem, OrderCustomer
from tests.factories import graphql

_ids = itertools.count(7_100_000_000_001)

RETURN_FIELDS = """
  id orderId orderNumber status returnMethod resolutionType exchangeVariantId
  items { lineItemId quantity reason note unitPrice condition restock }
"""

CREATE_RETURN = f"""
mutation Create($input: CreateReturnInput!) {{
  createReturn(input: $input) {{
    return {{ {RETURN_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

LOOKUP = """
query Lookup($n: String!, $e: String!) {
  lookupOrder(orderNumber: $n, customerEmail: $e) {
    id orderNumber name eligible ineligibleReason returnWindowEndsAt
    lineItems { id quantity fulfilledQuantity returnableQuantity eligible ineligibleReason }
  }
}
"""


def line(
    quantity: int = 2,
    *,
    fulfilled: int | None = None,
    price: str = "25.00",
    discount: str = "0",
    tags: list[str] | None = None,
    product_type: str | None = None,
    title: str = "T-shirt",
) -> LineItem:
    return LineItem(
        id=str(next(_ids)),
        title=title,
        sku="SKU-" + title,
        variant_id=str(next(_ids)),
        product_id=str(next(_ids)),
        product_type=product_type,
        product_tags=tags or [],
        quantity=quantity,
        fulfilled_quantity=quantity if fulfilled is None else fulfilled,
        price=Decimal(price),
        total_discount=Decimal(discount),
    )


async def shop_order(
    tenant_id: str,
    number: int,
    lines: list[LineItem] | None = None,
    *,
    email: str = "customer@example.com",
    created_at: datetime | None = None,
    delivered_at: datetime | None = None,
    tags: list[str] | None = None,
) -> Order:
    shopify_id = str(next(_ids))
    created = created_at or utcnow() - timedelta(days=5)
    items = lines if lines is not None else [line()]
    total = sum((item.price * item.quantity for item in items), Decimal(0))
    order = Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=f"gid://shopify/Order/{shopify_id}",
        order_number=str(number),
        name=f"#{number}",
        email=email,
        customer=OrderCustomer(id=str(next(_ids)), email=email, first_name="Ada"),
        line_items=items,
        financial_status="paid",
        fulfillment_status="fulfilled",
        tags=tags or [],
        subtotal_price=total,
        total_price=total,
        created_at=created,
        updated_at=created,
        delivered_at=delivered_at if delivered_at is not None else created + timedelta(days=1),
    )
    await order.insert()
    return order


def portal(tenant_id: str) -> dict[str, str]:
    return {"X-Tenant-Id": tenant_id}


def return_input(
    order: Order,
    items: list[tuple[str, int]] | None = None,
    *,
    email: str | None = None,
    reason: str = "DEFECTIVE",
    method: str = "CUSTOMER_SHIPS",
    resolution: str = "REFUND",
    exchange_variant_id: str | None = None,
) -> dict[str, Any]:
    chosen = items if items is not None else [(order.line_items[0].id, 1)]
    data: dict[str, Any] = {
        "orderId": order.shopify_id,
        "customerEmail": email if email is not None else (order.email or ""),
        "returnMethod": method,
        "resolutionType": resolution,
        "items": [{"lineItemId": lid, "quantity": q, "reason": reason} for lid, q in chosen],
    }
    if exchange_variant_id is not None:
        data["exchangeVariantId"] = exchange_variant_id
    return data


async def create(client: httpx.AsyncClient, tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    body = await graphql(client, CREATE_RETURN, {"input": data}, portal(tenant_id))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createReturn"]
    return payload
