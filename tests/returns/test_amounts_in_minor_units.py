"""Every amount leaves the API as a `MoneyV2`, exact in its currency's minor unit: yen have no
decimals, Kuwaiti dinars three, and amounts in different currencies are never added together.
Rounding every currency to cents (the old behaviour) turned 12.345 KWD into 12.35 and 1500 JPY
into "1500.00"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.clock import utcnow
from app.db import Database
from tests.factories import graphql, make_tenant, merchant_headers
from tests.returns.builders import create, decide, line, portal, return_input, shop_order

ORDER = """query($id: ID!) { order(id: $id) {
  currencyCode subtotalPrice { amount currencyCode } totalPrice { amount currencyCode }
  totalDiscounts { amount } lineItems { price { amount currencyCode } totalDiscount { amount } }
} }"""

LOOKUP = """query($n: String!, $e: String!) { lookupOrder(orderNumber: $n, customerEmail: $e) {
  currencyCode totalPrice { amount currencyCode } lineItems { price { amount currencyCode } }
} }"""

ANALYTICS = """query($from: DateTime!, $to: DateTime!) { returnsAnalytics(from: $from, to: $to) {
  refundTotal { amount currencyCode } storeCreditTotal { amount currencyCode } resolved } }"""

OUTCOME = """mutation($id: ID!) { resolveReturn(id: $id) { return { outcome { currencyCode
  itemsTotal { amount currencyCode } restockingFee { amount } refundAmount { amount }
  storeCreditAmount { amount } } items { unitPrice { amount currencyCode } } }
  userErrors { code } } }"""


def _last_month() -> dict[str, str]:
    now = utcnow()
    return {
        "from": (now - timedelta(days=30)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }


async def _order(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> Any:
    body = await graphql(client, ORDER, {"id": order_id}, headers)
    return body["data"]["order"]


async def _resolve(client: httpx.AsyncClient, headers: dict[str, str], return_id: str) -> Any:
    await decide(client, headers, return_id, "approveReturn", "markReturnReceived")
    body = await graphql(client, OUTCOME, {"id": return_id}, headers)
    assert body["data"]["resolveReturn"]["userErrors"] == [], body
    return body["data"]["resolveReturn"]["return"]


async def test_yen_and_dinar_orders_give_exact_amounts(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    yen = await shop_order(tenant.id, 1, [line(2, price="1500")], currency="JPY")
    dinars = await shop_order(tenant.id, 2, [line(1, price="12.345")], currency="KWD")

    assert await _order(client, headers, yen.shopify_id) == {
        "currencyCode": "JPY",
        "subtotalPrice": {"amount": "3000", "currencyCode": "JPY"},
        "totalPrice": {"amount": "3000", "currencyCode": "JPY"},
        "totalDiscounts": {"amount": "0"},
        "lineItems": [
            {"price": {"amount": "1500", "currencyCode": "JPY"}, "totalDiscount": {"amount": "0"}}
        ],
    }
    assert await _order(client, headers, dinars.shopify_id) == {
        "currencyCode": "KWD",
        "subtotalPrice": {"amount": "12.345", "currencyCode": "KWD"},
        "totalPrice": {"amount": "12.345", "currencyCode": "KWD"},
        "totalDiscounts": {"amount": "0.000"},
        "lineItems": [
            {
                "price": {"amount": "12.345", "currencyCode": "KWD"},
                "totalDiscount": {"amount": "0.000"},
            }
        ],
    }
    # The storefront sees the same amounts.
    body = await graphql(client, LOOKUP, {"n": "2", "e": "customer@example.com"}, portal(tenant.id))
    assert body["data"]["lookupOrder"] == {
        "currencyCode": "KWD",
        "totalPrice": {"amount": "12.345", "currencyCode": "KWD"},
        "lineItems": [{"price": {"amount": "12.345", "currencyCode": "KWD"}}],
    }


async def test_a_dinar_refund_keeps_its_fils(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    await graphql(
        client,
        'mutation { updateReturnPolicy(input: {restockingFeePercent: "15"}) { userErrors { code } } }',
        headers=headers,
    )
    order = await shop_order(tenant.id, 1, [line(1, price="12.345")], currency="KWD")
    payload = await create(client, tenant.id, return_input(order))
    resolved = await _resolve(client, headers, payload["return"]["id"])
    # 12.345 x 15% = 1.85175 -> 1.852 fee; 10.493 refunded (to cents: 1.85 and 10.50)
    assert resolved["outcome"] == {
        "currencyCode": "KWD",
        "itemsTotal": {"amount": "12.345", "currencyCode": "KWD"},
        "restockingFee": {"amount": "1.852"},
        "refundAmount": {"amount": "10.493"},
        "storeCreditAmount": {"amount": "0.000"},
    }
    assert resolved["items"] == [{"unitPrice": {"amount": "12.345", "currencyCode": "KWD"}}]


async def test_analytics_sum_each_currency_apart(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    orders = [
        await shop_order(tenant.id, 1, [line(1, price="20.00")], currency="USD"),
        await shop_order(tenant.id, 2, [line(1, price="1500")], currency="JPY"),
        await shop_order(tenant.id, 3, [line(1, price="700")], currency="JPY"),
    ]
    for order in orders:
        payload = await create(client, tenant.id, return_input(order))
        await _resolve(client, headers, payload["return"]["id"])
    body = await graphql(client, ANALYTICS, _last_month(), headers)
    stats = body["data"]["returnsAnalytics"]
    assert stats["resolved"] == 3
    assert stats["refundTotal"] == [
        {"amount": "2200", "currencyCode": "JPY"},
        {"amount": "20.00", "currencyCode": "USD"},
    ]
    assert stats["storeCreditTotal"] == [
        {"amount": "0", "currencyCode": "JPY"},
        {"amount": "0.00", "currencyCode": "USD"},
    ]


async def test_an_unknown_currency_reads_as_xxx(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1, [line(1, price="9.5")], currency="ZZZ")
    found = await _order(client, headers, order.shopify_id)
    assert found["currencyCode"] == "XXX"
    assert found["totalPrice"] == {"amount": "9.50", "currencyCode": "XXX"}


async def test_analytics_merge_a_currency_stored_in_either_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    for number, code in ((1, "USD"), (2, "usd")):
        order = await shop_order(tenant.id, number, [line(1, price="5.00")], currency=code)
        payload = await create(client, tenant.id, return_input(order))
        await _resolve(client, headers, payload["return"]["id"])
    body = await graphql(client, ANALYTICS, _last_month(), headers)
    assert body["data"]["returnsAnalytics"]["refundTotal"] == [
        {"amount": "10.00", "currencyCode": "USD"}
    ]
