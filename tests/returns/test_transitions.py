"""The merchant workflow: every legal and illegal transition, history, concurrent decisions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.db import Database
from app.models import Order
from app.models.return_request import ReturnStatus
from tests.factories import graphql, make_tenant, merchant_headers
from tests.returns.builders import create, line, return_input, shop_order

PAYLOAD = """{ return { id status declineReason history { actor fromStatus toStatus note }
  items { lineItemId condition restock } outcome { refundAmount { amount } } }
  userErrors { field code message } }"""
MUTATIONS = {
    "approve": f'mutation($id: ID!) {{ approveReturn(id: $id, note: "ok") {PAYLOAD} }}',
    "decline": f'mutation($id: ID!) {{ declineReturn(id: $id, reason: "worn") {PAYLOAD} }}',
    "receive": f"mutation($id: ID!) {{ markReturnReceived(id: $id) {PAYLOAD} }}",
    "resolve": f"mutation($id: ID!) {{ resolveReturn(id: $id) {PAYLOAD} }}",
    "cancel": f'mutation($id: ID!) {{ cancelReturn(id: $id, note: "changed mind") {PAYLOAD} }}',
}
FIELDS = {
    "approve": "approveReturn",
    "decline": "declineReturn",
    "receive": "markReturnReceived",
    "resolve": "resolveReturn",
    "cancel": "cancelReturn",
}
LEGAL = {
    ("requested", "approve"): "APPROVED",
    ("requested", "decline"): "DECLINED",
    ("requested", "cancel"): "CANCELED",
    ("approved", "receive"): "RECEIVED",
    ("approved", "cancel"): "CANCELED",
    ("received", "resolve"): "RESOLVED",
}
# How to reach each status from REQUESTED.
PATHS = {
    "requested": [],
    "approved": ["approve"],
    "declined": ["decline"],
    "canceled": ["cancel"],
    "received": ["approve", "receive"],
    "resolved": ["approve", "receive", "resolve"],
}


async def act(
    client: httpx.AsyncClient, headers: dict[str, str], action: str, return_id: str
) -> dict[str, Any]:
    body = await graphql(client, MUTATIONS[action], {"id": return_id}, headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][FIELDS[action]]
    return result


async def requested_return(client: httpx.AsyncClient, order: Order) -> str:
    payload = await create(client, order.tenant_id, return_input(order))
    return str(payload["return"]["id"])


@pytest.mark.parametrize("status", list(PATHS))
@pytest.mark.parametrize("action", list(MUTATIONS))
async def test_transition_table(
    client: httpx.AsyncClient, db: Database, status: str, action: str
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1001)
    return_id = await requested_return(client, order)
    for step in PATHS[status]:
        assert (await act(client, headers, step, return_id))["userErrors"] == []
    result = await act(client, headers, action, return_id)
    expected = LEGAL.get((status, action))
    if expected is None:
        assert result["return"] is None
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
            (["id"], "INVALID_TRANSITION")
        ]
        stored = await db.db["returns"].find_one({"tenant_id": tenant.id})
        assert stored is not None and stored["status"] == status
        return
    assert result["userErrors"] == []
    assert result["return"]["status"] == expected
    last = result["return"]["history"][-1]
    assert last["fromStatus"] == status.upper()
    assert last["toStatus"] == expected
    assert last["actor"].startswith("api_key:rk_")


async def test_unknown_or_foreign_return_is_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    other = await make_tenant("other")
    order = await shop_order(other.id, 1001)
    theirs = await requested_return(client, order)
    headers = await merchant_headers(tenant.id)
    for return_id in (theirs, "nope", "65f000000000000000000000"):
        result = await act(client, headers, "approve", return_id)
        assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"]
    stored = await db.db["returns"].find_one({})
    assert stored is not None and stored["status"] == ReturnStatus.REQUESTED.value


async def test_concurrent_approve_and_decline_exactly_one_wins(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1001)
    ids = [await requested_return(client, order)]
    for _ in range(5):
        results = await asyncio.gather(
            act(client, headers, "approve", ids[-1]),
            act(client, headers, "decline", ids[-1]),
            act(client, headers, "approve", ids[-1]),
            act(client, headers, "decline", ids[-1]),
        )
        winners = [r for r in results if r["return"] is not None]
        assert len(winners) == 1
        assert all(
            r["userErrors"][0]["code"] == "INVALID_TRANSITION" for r in results if not r["return"]
        )
        stored = await db.db["returns"].find_one({"_id": __import__("bson").ObjectId(ids[-1])})
        assert stored is not None and len(stored["history"]) == 2
        if stored["status"] == "approved":
            await act(client, headers, "cancel", ids[-1])
        ids.append(await requested_return(client, order))


async def test_decline_and_cancel_give_units_back(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1001, [line(quantity=1)])
    first = await requested_return(client, order)
    blocked = await create(client, tenant.id, return_input(order))
    assert blocked["return"] is None
    await act(client, headers, "decline", first)
    second = await requested_return(client, order)
    await act(client, headers, "approve", second)
    await act(client, headers, "cancel", second)
    assert (await create(client, tenant.id, return_input(order)))["return"] is not None


async def test_receive_records_condition_and_restock(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1001, [line(quantity=2), line(quantity=1)])
    a, b = order.line_items[0].id, order.line_items[1].id
    payload = await create(client, tenant.id, return_input(order, [(a, 2), (b, 1)]))
    return_id = payload["return"]["id"]
    await act(client, headers, "approve", return_id)
    mutation = f"""mutation($id: ID!, $items: [ReturnItemReceiptInput!]) {{
      markReturnReceived(id: $id, items: $items) {PAYLOAD} }}"""
    bad = await graphql(
        client,
        mutation,
        {"id": return_id, "items": [{"lineItemId": "999", "condition": "NEW"}]},
        headers,
    )
    errors = bad["data"]["markReturnReceived"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["items", "0", "lineItemId"], "LINE_ITEM_NOT_FOUND")
    ]
    good = await graphql(
        client,
        mutation,
        {
            "id": return_id,
            "items": [
                {"lineItemId": a, "condition": "OPENED"},
                {"lineItemId": b, "condition": "DAMAGED", "restock": False},
            ],
        },
        headers,
    )
    received = good["data"]["markReturnReceived"]["return"]
    assert received["status"] == "RECEIVED"
    assert received["items"] == [
        {"lineItemId": a, "condition": "OPENED", "restock": True},
        {"lineItemId": b, "condition": "DAMAGED", "restock": False},
    ]
