"""createReturn: every rule enforced on the server, nothing written on refusal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from app.clock import utcnow
from app.db import Database
from app.models import Return
from app.models.return_ledger import LEDGER_COLLECTION
from tests.factories import graphql, make_tenant, merchant_headers
from tests.returns.builders import create, line, return_input, shop_order


async def counts(db: Database) -> tuple[int, int]:
    returns = await db.db["returns"].count_documents({})
    ledger = await db.db[LEDGER_COLLECTION].find_one({}) or {}
    return returns, sum((ledger.get("reserved") or {}).values())


def codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_creates_a_requested_return_like_the_runbook(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(quantity=2, price="19.99")])
    data = return_input(order, email="  Customer@Example.COM")
    data["items"][0]["note"] = "Seam split"
    payload = await create(client, tenant.id, data)
    assert payload["userErrors"] == []
    created = payload["return"]
    assert created["status"] == "REQUESTED"
    assert created["orderId"] == order.shopify_id
    assert created["items"] == [
        {
            "lineItemId": order.line_items[0].id,
            "quantity": 1,
            "reason": "DEFECTIVE",
            "note": "Seam split",
            "unitPrice": {"amount": "19.99", "currencyCode": "USD"},
            "condition": None,
            "restock": None,
        }
    ]
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None
    assert stored.customer_email == "customer@example.com"
    assert stored.order_created_at == order.created_at
    assert [t.to_status for t in stored.history] == ["requested"]
    assert stored.history[0].actor == "customer"


async def test_accepts_the_order_gid_and_line_item_gid(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001)
    data = return_input(order)
    data["orderId"] = f"gid://shopify/Order/{order.shopify_id}"
    data["items"][0]["lineItemId"] = f"gid://shopify/LineItem/{order.line_items[0].id}"
    payload = await create(client, tenant.id, data)
    assert payload["userErrors"] == []


async def test_partial_returns_across_requests_then_overflow(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(quantity=3)])
    line_id = order.line_items[0].id
    assert (await create(client, tenant.id, return_input(order, [(line_id, 2)])))["return"]
    refused = await create(client, tenant.id, return_input(order, [(line_id, 2)]))
    assert refused["return"] is None
    assert codes(refused) == [(["items", "0", "quantity"], "QUANTITY_EXCEEDS_RETURNABLE")]
    assert await counts(db) == (1, 2)
    assert (await create(client, tenant.id, return_input(order, [(line_id, 1)])))["return"]
    assert await counts(db) == (2, 3)


async def test_refusals_write_nothing(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    other_tenant = await make_tenant("other")
    now = utcnow()
    order = await shop_order(tenant.id, 1001, [line(quantity=2), line(tags=["final-sale"])])
    other_order = await shop_order(tenant.id, 1002)
    theirs = await shop_order(other_tenant.id, 1003)
    old = await shop_order(
        tenant.id, 1004, created_at=now - timedelta(days=60), delivered_at=now - timedelta(days=31)
    )
    first, final_sale = order.line_items[0].id, order.line_items[1].id
    cases: list[tuple[dict[str, Any], list[tuple[list[str] | None, str]]]] = [
        (
            return_input(order, [(first, 3)]),
            [(["items", "0", "quantity"], "QUANTITY_EXCEEDS_RETURNABLE")],
        ),
        (return_input(order, [(first, 0)]), [(["items", "0", "quantity"], "INVALID_QUANTITY")]),
        (
            return_input(order, [(other_order.line_items[0].id, 1)]),
            [(["items", "0", "lineItemId"], "LINE_ITEM_NOT_FOUND")],
        ),
        (
            return_input(order, [(first, 1), (first, 1)]),
            [(["items", "1", "lineItemId"], "DUPLICATE_LINE_ITEM")],
        ),
        (
            return_input(order, [(final_sale, 1)]),
            [(["items", "0", "lineItemId"], "ITEM_NOT_RETURNABLE")],
        ),
        (return_input(order, []), [(["items"], "BLANK")]),
        (return_input(order, email="eve@example.com"), [(["orderId"], "ORDER_NOT_FOUND")]),
        (return_input(theirs), [(["orderId"], "ORDER_NOT_FOUND")]),
        (return_input(old), [(["orderId"], "ORDER_NOT_ELIGIBLE")]),
        (return_input(order, method="DROP_OFF"), [(["returnMethod"], "METHOD_NOT_ALLOWED")]),
        (
            return_input(order, resolution="EXCHANGE"),
            [(["exchangeVariantId"], "EXCHANGE_VARIANT_REQUIRED")],
        ),
        (
            return_input(order, exchange_variant_id="123"),
            [(["exchangeVariantId"], "EXCHANGE_VARIANT_NOT_ALLOWED")],
        ),
    ]
    for data, expected in cases:
        payload = await create(client, tenant.id, data)
        assert payload["return"] is None
        assert codes(payload) == expected, data
    assert await counts(db) == (0, 0)
    assert await db.db[LEDGER_COLLECTION].count_documents({}) == 0


async def test_wrong_email_and_wrong_order_id_are_indistinguishable(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001)
    wrong_email = await create(client, tenant.id, return_input(order, email="eve@example.com"))
    data = return_input(order)
    data["orderId"] = "999"
    wrong_id = await create(client, tenant.id, data)
    assert wrong_email == wrong_id


async def test_invalid_reason_is_rejected_by_the_schema(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001)
    data = return_input(order, reason="BORED")
    from tests.returns.builders import CREATE_RETURN, portal

    body = await graphql(client, CREATE_RETURN, {"input": data}, portal(tenant.id))
    assert body["errors"]
    assert await counts(db) == (0, 0)


async def test_policy_limits_methods_resolutions_and_auto_approves(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    changed = await graphql(
        client,
        """mutation { updateReturnPolicy(input: {allowedResolutions: [STORE_CREDIT, EXCHANGE],
            allowedMethods: [DROP_OFF], autoApprove: {enabled: true, reasons: [DEFECTIVE]}})
            { userErrors { code } } }""",
        headers=headers,
    )
    assert changed["data"]["updateReturnPolicy"]["userErrors"] == []
    order = await shop_order(tenant.id, 1001, [line(quantity=5)])
    line_id = order.line_items[0].id
    refused = await create(client, tenant.id, return_input(order, [(line_id, 1)]))
    assert codes(refused) == [
        (["returnMethod"], "METHOD_NOT_ALLOWED"),
        (["resolutionType"], "RESOLUTION_NOT_ALLOWED"),
    ]
    auto = await create(
        client,
        tenant.id,
        return_input(order, [(line_id, 1)], method="DROP_OFF", resolution="STORE_CREDIT"),
    )
    assert auto["return"]["status"] == "APPROVED"
    manual = await create(
        client,
        tenant.id,
        return_input(
            order,
            [(line_id, 1)],
            method="DROP_OFF",
            resolution="EXCHANGE",
            exchange_variant_id="gid://shopify/ProductVariant/42",
            reason="STYLE",
        ),
    )
    assert manual["return"]["status"] == "REQUESTED"
    assert manual["return"]["exchangeVariantId"] == "42"


async def test_twenty_concurrent_requests_for_the_last_unit_one_succeeds(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(quantity=2)])
    line_id = order.line_items[0].id
    assert (await create(client, tenant.id, return_input(order, [(line_id, 1)])))["return"]
    results = await asyncio.gather(
        *(create(client, tenant.id, return_input(order, [(line_id, 1)])) for _ in range(20))
    )
    winners = [r for r in results if r["return"] is not None]
    losers = [r for r in results if r["return"] is None]
    assert len(winners) == 1
    assert all(
        codes(r) == [(["items", "0", "quantity"], "QUANTITY_EXCEEDS_RETURNABLE")] for r in losers
    )
    assert await counts(db) == (2, 2)


async def test_concurrent_first_requests_on_a_fresh_order_share_the_units(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(quantity=3)])
    line_id = order.line_items[0].id
    results = await asyncio.gather(
        *(create(client, tenant.id, return_input(order, [(line_id, 1)])) for _ in range(10))
    )
    assert sum(1 for r in results if r["return"] is not None) == 3
    assert await counts(db) == (3, 3)
