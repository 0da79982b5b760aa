"""Builders for test data, written through the real models into the real database."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from beanie import Document

from app.clock import utcnow
from app.models import Order, Return, Tenant
from app.models.order import LineItem, OrderCustomer
from app.models.portal_attempts import PORTAL_ATTEMPTS_COLLECTION
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnItem, ReturnReason, ReturnStatus
from app.services.auth import issue_api_key
from app.services.tenants import ensure_tenant

_ids = itertools.count(5_813_364_687_033)


async def make_tenant(shop_name: str) -> Tenant:
    return await ensure_tenant(f"{shop_name}.myshopify.com")


async def merchant_headers(tenant_id: str) -> dict[str, str]:
    issued = await issue_api_key(tenant_id, name="test")
    return {"Authorization": f"Bearer {issued.key}"}


async def make_order(
    tenant_id: str,
    number: int,
    *,
    email: str = "customer@example.com",
    created_at: datetime | None = None,
    quantity: int = 2,
    price: str = "25.00",
    tags: list[str] | None = None,
    fulfilled: bool = True,
    **extra: Any,
) -> Order:
    shopify_id = str(next(_ids))
    created = created_at or utcnow() - timedelta(days=5)
    order = Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=f"gid://shopify/Order/{shopify_id}",
        order_number=str(number),
        name=f"#{number}",
        email=email,
        customer=OrderCustomer(id=str(next(_ids)), email=email, first_name="Ada", last_name="L"),
        line_items=[
            LineItem(
                id=str(next(_ids)),
                title="T-shirt",
                sku="TS-1",
                variant_id=str(next(_ids)),
                quantity=quantity,
                fulfilled_quantity=quantity if fulfilled else 0,
                price=Decimal(price),
            )
        ],
        financial_status="paid",
        fulfillment_status="fulfilled" if fulfilled else None,
        tags=tags or [],
        subtotal_price=Decimal(price) * quantity,
        total_price=Decimal(price) * quantity,
        created_at=created,
        updated_at=created,
        delivered_at=created + timedelta(days=2) if fulfilled else None,
        **extra,
    )
    await order.insert()
    return order


async def make_return(
    order: Order,
    *,
    status: ReturnStatus = ReturnStatus.REQUESTED,
    created_at: datetime | None = None,
    quantity: int = 1,
) -> Return:
    line = order.line_items[0]
    record = Return(
        tenant_id=order.tenant_id,
        order_id=order.shopify_id,
        order_number=order.order_number,
        customer_email=order.email or "",
        status=status,
        items=[
            ReturnItem(
                line_item_id=line.id,
                title=line.title,
                quantity=quantity,
                reason=ReturnReason.DEFECTIVE,
                unit_price=line.price,
            )
        ],
        return_method=ReturnMethod.CUSTOMER_SHIPS,
        resolution_type=ResolutionType.REFUND,
        created_at=created_at or utcnow(),
        order_created_at=order.created_at,
        currency=order.currency,
    )
    await record.insert()
    return record


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    return body


class CounterDeltas:
    """Prometheus sample values now, to compare with later: metrics are process-wide and
    cumulative, so a test asserts on how much a sample moved."""

    def __init__(self, *keys: tuple[str, dict[str, str]]) -> None:
        self._keys = keys
        self._before = [self._value(name, labels) for name, labels in keys]

    @staticmethod
    def _value(name: str, labels: dict[str, str]) -> float:
        from app.observability.metrics import REGISTRY

        return REGISTRY.get_sample_value(name, labels) or 0.0

    def deltas(self) -> list[float]:
        return [
            self._value(name, labels) - before
            for (name, labels), before in zip(self._keys, self._before, strict=True)
        ]


async def forget_portal_attempts(db: Any) -> None:
    """Clear every client's portal failures (for tests whose subject is not the limiter)."""
    await db[PORTAL_ATTEMPTS_COLLECTION].delete_many({})


def index_keys(plan: Any) -> list[Any]:
    """Every `keyPattern` of an explain output (wherever the planner nests its stages)."""
    if isinstance(plan, dict):
        found = [plan["keyPattern"]] if "keyPattern" in plan else []
        return found + [key for value in plan.values() for key in index_keys(value)]
    if isinstance(plan, list):
        return [key for value in plan for key in index_keys(value)]
    return []


async def lapse_lease(
    document: type[Document], document_id: Any, *fields: str, held_for: float
) -> None:
    """End a lease now, as if its holder had died and its time had run out, after checking that
    the claim leased it for `held_for` seconds (each field ends about that far from now).

    Lease tests hold their leases for long enough that a slow machine never lets one run out
    by accident (a 0.3 s lease failed on busy CI runs), and end them on purpose with this."""
    collection = document.get_pymongo_collection()
    stored = await collection.find_one({"_id": document_id})
    assert stored is not None, f"no {document.__name__} {document_id}"
    now = utcnow()
    for name in fields:
        remaining = (stored[name] - now).total_seconds()
        assert held_for / 2 < remaining <= held_for, f"{name} ends in {remaining:.1f}s"
    past = now - timedelta(seconds=1)
    await collection.update_one({"_id": document_id}, {"$set": dict.fromkeys(fields, past)})
