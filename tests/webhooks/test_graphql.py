"""GraphQL: webhookEvents, webhookStats, replayWebhookEvent, customer data exports."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.db import Database
from app.graphql.core.node import global_id
from app.models import WebhookEvent
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import graphql, merchant_headers
from tests.webhooks.helpers import ConnectedShop, order_payload, store_event

EVENTS = """
query($first: Int, $after: String, $filter: WebhookEventFilterInput) {
  webhookEvents(first: $first, after: $after, filter: $filter) {
    nodes { id topic eventId webhookId processed dead attempts error receivedAt triggeredAt processedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""
STATS = """
query($window: Int!) {
  webhookStats(windowMinutes: $window) {
    received processed pending failed dead successRate p50LagSeconds p95LagSeconds
  }
}
"""
REPLAY = """
mutation($id: ID!) {
  replayWebhookEvent(id: $id) { webhookEvent { id dead attempts processed } userErrors { field code message } }
}
"""
EXPORTS = """
{ customerDataExports(first: 5) { nodes { id dataRequestId customerId data } } }
"""


async def _setup(settings: Settings, shop: ConnectedShop) -> None:
    await store_event("orders/create", shop.order(number=1001))
    unusable = shop.order(number=1)
    unusable["updated_at"] = "last Tuesday"  # fails: no valid updated_at
    await store_event("orders/updated", unusable)
    await store_event("orders/create", shop.order(number=1002))
    await store_event("orders/create", order_payload(), shop="other.myshopify.com")
    policy = ProcessingPolicy(max_attempts=1, retry_base_seconds=0)
    await WebhookProcessor(settings, "w", policy=policy).run_until_idle()


async def test_events_are_listed_newest_first_without_payloads_and_filtered(
    settings: Settings, shop: ConnectedShop, client: httpx.AsyncClient
) -> None:
    await _setup(settings, shop)
    headers = await merchant_headers("tenant-rms34")
    first = await graphql(client, EVENTS, {"first": 2}, headers)
    page = first["data"]["webhookEvents"]
    assert [n["topic"] for n in page["nodes"]] == ["orders/create", "orders/updated"]
    assert page["pageInfo"]["hasNextPage"]
    assert "payload" not in str(first)
    second = await graphql(
        client, EVENTS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, headers
    )
    assert [n["topic"] for n in second["data"]["webhookEvents"]["nodes"]] == ["orders/create"]
    assert not second["data"]["webhookEvents"]["pageInfo"]["hasNextPage"]
    dead = await graphql(client, EVENTS, {"filter": {"dead": True}}, headers)
    [node] = dead["data"]["webhookEvents"]["nodes"]
    assert node["dead"] and node["attempts"] == 1 and "updated_at" in node["error"]


async def test_events_need_a_merchant(
    settings: Settings, db: Database, client: httpx.AsyncClient
) -> None:
    body = await graphql(client, EVENTS, {"first": 2})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_stats_count_outcomes_and_lag(
    settings: Settings, shop: ConnectedShop, client: httpx.AsyncClient
) -> None:
    await _setup(settings, shop)
    body = await graphql(client, STATS, {"window": 60}, await merchant_headers("tenant-rms34"))
    stats = body["data"]["webhookStats"]
    assert (stats["received"], stats["processed"], stats["dead"], stats["failed"]) == (3, 2, 1, 0)
    assert abs(stats["successRate"] - 2 / 3) < 1e-9
    assert stats["p50LagSeconds"] >= 0 and stats["p95LagSeconds"] >= stats["p50LagSeconds"]
    bad = await graphql(client, STATS, {"window": 0}, await merchant_headers("tenant-rms34"))
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_replay_resets_a_dead_event_and_refuses_others(
    settings: Settings, shop: ConnectedShop, client: httpx.AsyncClient
) -> None:
    await _setup(settings, shop)
    headers = await merchant_headers("tenant-rms34")
    dead = await WebhookEvent.find_one({"tenant_id": "tenant-rms34", "dead": True})
    done = await WebhookEvent.find_one({"tenant_id": "tenant-rms34", "processed": True})
    foreign = await WebhookEvent.find_one({"tenant_id": "tenant-other"})
    assert dead and done and foreign
    body = await graphql(client, REPLAY, {"id": str(dead.id)}, headers)
    payload = body["data"]["replayWebhookEvent"]
    assert payload["userErrors"] == []
    assert payload["webhookEvent"] == {
        "id": global_id("WebhookEvent", dead.id),
        "dead": False,
        "attempts": 0,
        "processed": False,
    }
    for event_id, code in (
        (str(dead.id), "ALREADY_PENDING"),
        (str(done.id), "ALREADY_PROCESSED"),
        (str(foreign.id), "NOT_FOUND"),
        ("nope", "NOT_FOUND"),
    ):
        body = await graphql(client, REPLAY, {"id": event_id}, headers)
        assert body["data"]["replayWebhookEvent"]["userErrors"][0]["code"] == code


async def test_data_exports_are_readable_by_the_merchant(
    settings: Settings, shop: ConnectedShop, client: httpx.AsyncClient
) -> None:
    payload = shop.order(customer_id=42, email="ada@example.com")
    await store_event("orders/create", payload)
    await store_event(
        "customers/data_request",
        {
            "shop_id": 1,
            "customer": {"id": 42, "email": "ada@example.com"},
            "orders_requested": [payload["id"]],
            "data_request": {"id": 77},
        },
    )
    await WebhookProcessor(settings, "w").run_until_idle()
    body = await graphql(client, EXPORTS, None, await merchant_headers("tenant-rms34"))
    [export] = body["data"]["customerDataExports"]["nodes"]
    assert export["dataRequestId"] == "77" and export["customerId"] == "42"
    [order] = export["data"]["orders"]
    assert order["total_price"] == "50.00" and order["email"] == "ada@example.com"
