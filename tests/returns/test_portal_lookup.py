"""lookupOrder: finding one's order, eligibility per line, no enumeration, rate limiting."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.clock import utcnow
from tests.factories import graphql, make_tenant
from tests.returns.builders import LOOKUP, create, line, portal, return_input, shop_order


async def lookup(
    client: httpx.AsyncClient, tenant_id: str, number: str, email: str
) -> dict[str, Any]:
    return await graphql(client, LOOKUP, {"n": number, "e": email}, portal(tenant_id))


async def test_finds_order_by_number_with_or_without_hash_and_any_email_case(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, email="ada@example.com")
    for number, email in (("1001", "ada@example.com"), ("#1001", "  ADA@Example.com ")):
        body = await lookup(client, tenant.id, number, email)
        found = body["data"]["lookupOrder"]
        assert found["id"] == order.shopify_id
        assert found["eligible"] is True
        assert found["lineItems"][0]["returnableQuantity"] == 2


async def test_wrong_number_and_wrong_email_give_identical_answers(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("shop")
    await shop_order(tenant.id, 1001, email="ada@example.com")
    wrong_number = await lookup(client, tenant.id, "1002", "ada@example.com")
    wrong_email = await lookup(client, tenant.id, "1001", "eve@example.com")
    assert wrong_number == wrong_email
    assert wrong_number["data"] == {"lookupOrder": None}
    assert "errors" not in wrong_number


async def test_another_tenants_order_is_not_found(client: httpx.AsyncClient, db: object) -> None:
    mine = await make_tenant("shop")
    theirs = await make_tenant("other")
    await shop_order(theirs.id, 1001, email="ada@example.com")
    body = await lookup(client, mine.id, "1001", "ada@example.com")
    assert body["data"] == {"lookupOrder": None}
    assert "errors" not in body


async def test_portal_needs_tenant_header(client: httpx.AsyncClient, db: object) -> None:
    body = await graphql(client, LOOKUP, {"n": "1", "e": "a@b.c"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_repeated_failures_are_rate_limited_per_client(app: FastAPI, db: object) -> None:
    tenant = await make_tenant("shop")
    await shop_order(tenant.id, 1001, email="ada@example.com")

    def client_from(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with client_from("10.0.0.1") as attacker, client_from("10.0.0.2") as other:
        for number in range(2000, 2010):
            body = await lookup(attacker, tenant.id, str(number), "ada@example.com")
            assert body["data"] == {"lookupOrder": None}
            assert "errors" not in body
        limited = await lookup(attacker, tenant.id, "1001", "ada@example.com")
        assert limited["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert limited["data"] == {"lookupOrder": None}
        # Another client is not affected.
        ok = await lookup(other, tenant.id, "1001", "ada@example.com")
        assert ok["data"]["lookupOrder"]["orderNumber"] == "1001"


async def test_window_last_day_in_first_day_out(client: httpx.AsyncClient, db: object) -> None:
    tenant = await make_tenant("shop")  # default policy: 30 days from delivery
    now = utcnow()
    await shop_order(
        tenant.id, 1, created_at=now - timedelta(days=40), delivered_at=now - timedelta(days=30)
    )
    await shop_order(
        tenant.id, 2, created_at=now - timedelta(days=40), delivered_at=now - timedelta(days=31)
    )
    last_day = (await lookup(client, tenant.id, "1", "customer@example.com"))["data"]
    first_out = (await lookup(client, tenant.id, "2", "customer@example.com"))["data"]
    assert last_day["lookupOrder"]["eligible"] is True
    assert first_out["lookupOrder"]["eligible"] is False
    assert first_out["lookupOrder"]["ineligibleReason"] == "OUTSIDE_WINDOW"
    assert first_out["lookupOrder"]["lineItems"][0]["ineligibleReason"] == "OUTSIDE_WINDOW"


async def test_line_reasons_final_sale_tag_type_and_unfulfilled(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("shop")
    headers = await _merchant(tenant.id)
    await graphql(
        client,
        """mutation { updateReturnPolicy(input: {nonReturnableTags: ["gift-card"],
           nonReturnableProductTypes: ["Underwear"]}) { userErrors { code } } }""",
        headers=headers,
    )
    lines = [
        line(tags=["Final-Sale"]),
        line(tags=["gift-card"]),
        line(product_type="underwear"),
        line(quantity=3, fulfilled=0),
        line(quantity=3, fulfilled=1),
    ]
    await shop_order(tenant.id, 1001, lines)
    found = (await lookup(client, tenant.id, "1001", "customer@example.com"))["data"]
    items = found["lookupOrder"]["lineItems"]
    assert [i["ineligibleReason"] for i in items] == [
        "FINAL_SALE",
        "NON_RETURNABLE_TAG",
        "NON_RETURNABLE_PRODUCT_TYPE",
        "NOT_FULFILLED",
        None,
    ]
    assert [i["returnableQuantity"] for i in items] == [2, 2, 2, 0, 1]
    assert found["lookupOrder"]["eligible"] is True


async def test_returnable_quantity_counts_only_active_returns(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(quantity=3)])
    line_id = order.line_items[0].id
    first = await create(client, tenant.id, return_input(order, [(line_id, 1)]))
    await create(client, tenant.id, return_input(order, [(line_id, 1)]))
    headers = await _merchant(tenant.id)
    declined = await graphql(
        client,
        "mutation($id: ID!) { declineReturn(id: $id) { userErrors { code } } }",
        {"id": first["return"]["id"]},
        headers,
    )
    assert declined["data"]["declineReturn"]["userErrors"] == []
    found = (await lookup(client, tenant.id, "1001", "customer@example.com"))["data"]
    assert found["lookupOrder"]["lineItems"][0]["returnableQuantity"] == 2


async def _merchant(tenant_id: str) -> dict[str, str]:
    from tests.factories import merchant_headers

    return await merchant_headers(tenant_id)


async def test_concurrent_guesses_cannot_outrun_the_rate_limit(app: FastAPI, db: object) -> None:
    tenant = await make_tenant("shop")
    await shop_order(tenant.id, 1001, email="ada@example.com")
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker:
        bodies = await asyncio.gather(
            *(lookup(attacker, tenant.id, str(3000 + n), "ada@example.com") for n in range(60))
        )
    limited = [b for b in bodies if b.get("errors")]
    assert len(limited) == 50  # exactly the limit of 10 wrong guesses got through
    assert all(b["errors"][0]["extensions"]["code"] == "RATE_LIMITED" for b in limited)
