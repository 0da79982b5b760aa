"""Reading a tenant's orders and customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models import Customer, Order
from app.services.pagination import Page, PageRequest
from app.services.shopify_values import numeric_id


@dataclass(frozen=True, slots=True)
class OrderFilter:
    order_number: str | None = None
    customer_email: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def normalize_order_number(raw: str) -> str:
    """`#1001`, ` 1001 ` -> `1001`."""
    return raw.strip().lstrip("#").strip()


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def _created_range(after: datetime | None, before: datetime | None) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if after is not None:
        bounds["$gte"] = after
    if before is not None:
        bounds["$lt"] = before
    return {"created_at": bounds} if bounds else {}


def _combine(base: dict[str, Any], cursor: dict[str, Any]) -> dict[str, Any]:
    if not cursor:
        return base
    if "created_at" in base:  # both constrain created_at: keep them apart
        return {"$and": [base, cursor]}
    return {**base, **cursor}


async def list_orders(
    tenant_id: str, page: PageRequest, filter: OrderFilter | None = None
) -> Page[Order]:
    """A page of the tenant's orders, newest first."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if filter is not None:
        if filter.order_number:
            query["order_number"] = normalize_order_number(filter.order_number)
        if filter.customer_email:
            query["customer.email"] = normalize_email(filter.customer_email)
        if filter.financial_status:
            query["financial_status"] = filter.financial_status
        if filter.fulfillment_status:
            query["fulfillment_status"] = filter.fulfillment_status
        query.update(_created_range(filter.created_after, filter.created_before))
    query = _combine(query, page.filter())
    orders = await Order.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(orders, lambda o: (o.created_at, o.id))


async def get_order(tenant_id: str, order_id: str) -> Order | None:
    """By Shopify id (`5813364687033` or its GID) within the tenant."""
    shopify_id = numeric_id(order_id)
    if not shopify_id:
        return None
    return await Order.find_one({"tenant_id": tenant_id, "shopify_id": shopify_id})


async def orders_by_shopify_ids(tenant_id: str, shopify_ids: list[str]) -> list[Order | None]:
    """In key order, `None` where missing: one query for the whole batch."""
    found = await Order.find(
        {"tenant_id": tenant_id, "shopify_id": {"$in": list(set(shopify_ids))}}
    ).to_list()
    by_id = {order.shopify_id: order for order in found}
    return [by_id.get(key) for key in shopify_ids]


async def get_customer(tenant_id: str, customer_id: str) -> Customer | None:
    """By Shopify id (`7` or its GID) within the tenant."""
    shopify_id = numeric_id(customer_id)
    if not shopify_id:
        return None
    return await Customer.find_one({"tenant_id": tenant_id, "shopify_id": shopify_id})


async def list_customers(
    tenant_id: str, page: PageRequest, email: str | None = None
) -> Page[Customer]:
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if email:
        query["email"] = normalize_email(email)
    query = _combine(query, page.filter())
    customers = await Customer.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(customers, lambda c: (c.created_at, c.id))
