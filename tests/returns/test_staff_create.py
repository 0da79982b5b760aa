"""createReturnForOrder: staff create a return for the order's customer, approved at once; the
shop's own rules yield to a recorded policy exception, what cannot be returned never does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.clock import utcnow
from app.db import Database
from app.models import Return
from app.services.returns.ledger import reserved_units
from tests.factories import graphql, make_order, make_tenant, merchant_headers

CREATE = """mutation ($input: CreateReturnForOrderInput!) { createReturnForOrder(input: $input) {
  return { status customerEmail history { actor toStatus note } }
  userErrors { field code message } } }"""


def _input(order: Any, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "orderId": order.shopify_id,
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [{"lineItemId": order.line_items[0].id, "quantity": quantity, "reason": "OTHER"}],
        **extra,
    }


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], data: dict[str, Any]
) -> dict[str, Any]:
    body = await graphql(client, CREATE, {"input": data}, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createReturnForOrder"]
    return payload


async def test_staff_create_an_approved_return_for_the_orders_customer(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("staffshop")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001, email="Ada@Example.com", quantity=2)

    payload = await _create(client, headers, _input(order))

    assert payload["userErrors"] == []
    created = payload["return"]
    assert created["status"] == "APPROVED"
    assert created["customerEmail"] == "ada@example.com"
    actor = created["history"][0]["actor"]
    assert actor.startswith("api_key:rk_")  # the member of staff's credential
    assert [(h["actor"], h["toStatus"]) for h in created["history"]] == [
        (actor, "REQUESTED"),
        (actor, "APPROVED"),
    ]
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 1}


async def test_a_policy_exception_sets_the_window_aside_and_is_recorded(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("staffshop")
    headers = await merchant_headers(tenant.id)
    old = await make_order(tenant.id, 1001, created_at=utcnow() - timedelta(days=200))

    refused = await _create(client, headers, _input(old))
    assert refused["return"] is None
    assert [e["field"] for e in refused["userErrors"]] == [["orderId"], ["policyException"]]
    assert await Return.find({"tenant_id": tenant.id}).count() == 0

    allowed = await _create(client, headers, _input(old, policyException="Loyal customer"))
    assert allowed["userErrors"] == []
    assert allowed["return"]["history"][0]["note"] == (
        "Created by staff; policy exception: Loyal customer"
    )


async def test_what_cannot_be_returned_is_refused_whatever_the_exception(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("staffshop")
    headers = await merchant_headers(tenant.id)
    unshipped = await make_order(tenant.id, 1001, fulfilled=False)
    shipped = await make_order(tenant.id, 1002, quantity=2)

    for data in (
        _input(unshipped, policyException="Customer insists"),
        _input(shipped, quantity=3, policyException="Customer insists"),
    ):
        payload = await _create(client, headers, data)
        assert payload["return"] is None and payload["userErrors"], payload
    assert await Return.find({"tenant_id": tenant.id}).count() == 0
    assert await reserved_units(tenant.id, shipped.order_number) == {}


async def test_staff_create_needs_a_merchant_credential(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("staffshop")
    order = await make_order(tenant.id, 1001)
    body = await graphql(client, CREATE, {"input": _input(order)}, {"X-Tenant-Id": tenant.id})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await Return.find({"tenant_id": tenant.id}).count() == 0
