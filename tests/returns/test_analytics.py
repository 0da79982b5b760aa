"""returnsAnalytics matches a hand count over a small fixture."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.clock import utcnow
from app.db import Database
from tests.factories import graphql, make_tenant, merchant_headers
from tests.returns.builders import create, decide, line, return_input, shop_order

QUERY = """query($from: DateTime!, $to: DateTime!) { returnsAnalytics(from: $from, to: $to) {
  orders unitsSold returns unitsReturned unitReturnRate orderReturnRate
  byStatus { key count units } byReason { key count units }
  byResolution { key count units } byProduct { key label count units }
  refundTotal { amount currencyCode } storeCreditTotal { amount currencyCode } resolved averageResolutionSeconds } }"""


async def test_analytics_match_a_hand_count(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    other = await make_tenant("other")
    headers = await merchant_headers(tenant.id)
    now = utcnow()
    a, b = line(2, price="10.00", title="A"), line(1, price="30.00", title="B")
    c = line(4, price="5.00", title="C")
    o1 = await shop_order(tenant.id, 1, [a, b], created_at=now - timedelta(days=10))
    o2 = await shop_order(tenant.id, 2, [c], created_at=now - timedelta(days=5))
    old = await shop_order(
        tenant.id, 3, created_at=now - timedelta(days=40), delivered_at=now - timedelta(days=1)
    )
    theirs = await shop_order(other.id, 4, created_at=now - timedelta(days=3))

    async def returned(order: Any, items: list[tuple[str, int]], **kw: Any) -> str:
        payload = await create(client, order.tenant_id, return_input(order, items, **kw))
        assert payload["userErrors"] == [], payload
        return str(payload["return"]["id"])

    r1 = await returned(o1, [(a.id, 2)])
    r2 = await returned(o1, [(b.id, 1)], reason="SIZE_TOO_SMALL", resolution="STORE_CREDIT")
    await returned(o2, [(c.id, 1)])
    r4 = await returned(
        o2, [(c.id, 2)], reason="STYLE", resolution="EXCHANGE", exchange_variant_id="9"
    )
    await returned(old, [(old.line_items[0].id, 1)])
    await returned(theirs, [(theirs.line_items[0].id, 1)])
    await decide(client, headers, r1, "approveReturn", "markReturnReceived", "resolveReturn")
    await decide(client, headers, r2, "declineReturn")
    await decide(client, headers, r4, "approveReturn")

    window = {
        "from": (now - timedelta(days=30)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    body = await graphql(client, QUERY, window, headers)
    stats = body["data"]["returnsAnalytics"]
    assert stats["orders"] == 2
    assert stats["unitsSold"] == 7
    assert stats["returns"] == 3
    assert stats["unitsReturned"] == 5
    assert stats["unitReturnRate"] == "0.7143"
    assert stats["orderReturnRate"] == "1.5000"
    assert sorted((s["key"], s["count"], s["units"]) for s in stats["byStatus"]) == [
        ("approved", 1, 2),
        ("declined", 1, 1),
        ("requested", 1, 1),
        ("resolved", 1, 2),
    ]
    assert [(s["key"], s["count"], s["units"]) for s in stats["byReason"]] == [
        ("defective", 2, 3),
        ("style", 1, 2),
    ]
    assert [(s["key"], s["count"], s["units"]) for s in stats["byResolution"]] == [
        ("refund", 2, 3),
        ("exchange", 1, 2),
    ]
    assert [(s["label"], s["count"], s["units"]) for s in stats["byProduct"]] == [
        ("C", 2, 3),
        ("A", 1, 2),
    ]
    assert stats["refundTotal"] == [{"amount": "20.00", "currencyCode": "USD"}]
    assert stats["storeCreditTotal"] == [{"amount": "0.00", "currencyCode": "USD"}]
    assert stats["resolved"] == 1
    assert stats["averageResolutionSeconds"] is not None


async def test_empty_range_gives_zeros(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    body = await graphql(
        client, QUERY, {"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}, headers
    )
    stats = body["data"]["returnsAnalytics"]
    assert stats["orders"] == 0 and stats["unitReturnRate"] == "0.0000"
    assert stats["refundTotal"] == [] and stats["averageResolutionSeconds"] is None


async def test_the_average_resolution_time_skips_returns_without_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    ids = []
    for number in (1, 2):
        order = await shop_order(tenant.id, number, [line(1, price="5.00")])
        payload = await create(client, tenant.id, return_input(order))
        ids.append(str(payload["return"]["id"]))
        await decide(
            client, headers, ids[-1], "approveReturn", "markReturnReceived", "resolveReturn"
        )
    returns = db.db["returns"]
    now = utcnow()
    window = {
        "from": (now - timedelta(days=30)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    # One resolved return lacks its resolution time (a document from before the field).
    first = await returns.find_one({"tenant_id": tenant.id, "order_number": "1"})
    assert first is not None
    await returns.update_one(
        {"_id": first["_id"]},
        {
            "$set": {"created_at": first["resolved_at"] - timedelta(seconds=100)},
            "$unset": {"resolved_at": ""},
        },
    )
    second = await returns.find_one({"tenant_id": tenant.id, "order_number": "2"})
    assert second is not None
    await returns.update_one(
        {"_id": second["_id"]},
        {"$set": {"created_at": second["resolved_at"] - timedelta(seconds=60)}},
    )
    stats = (await graphql(client, QUERY, window, headers))["data"]["returnsAnalytics"]
    assert stats["resolved"] == 2
    assert stats["averageResolutionSeconds"] == "60.000"
    await returns.update_one({"_id": second["_id"]}, {"$unset": {"resolved_at": ""}})
    stats = (await graphql(client, QUERY, window, headers))["data"]["returnsAnalytics"]
    assert stats["averageResolutionSeconds"] is None
