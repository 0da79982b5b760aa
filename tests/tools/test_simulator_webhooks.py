"""Webhook deliveries: headers, HMAC (checked independently), retries, duplicates, reordering."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_SECRET, WebhookReceiver
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

SUBSCRIBE = """
mutation Sub($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id topic callbackUrl format }
    userErrors { field message }
  }
}
"""


def shopify_webhook_hmac_ok(body: bytes, header: str, secret: str) -> bool:
    """Shopify: base64 of HMAC-SHA256 over the raw body with the app secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), header)


async def subscribe(control: SimulatorControl, shop: InstalledShop, topic: str, url: str) -> str:
    payload = (await control.graphql(shop, SUBSCRIBE, {"topic": topic, "url": url})).json()["data"]
    assert payload["webhookSubscriptionCreate"]["userErrors"] == []
    return str(payload["webhookSubscriptionCreate"]["webhookSubscription"]["id"])


async def test_order_created_is_delivered_signed_with_all_headers(
    sim_control, webhook_receiver: WebhookReceiver
):
    shop = await sim_control.create_shop(orders=2)
    path = webhook_receiver.new_path(200)
    await subscribe(sim_control, shop, "ORDERS_CREATE", webhook_receiver.url(path))
    created = await sim_control.create_order(shop.domain, email="ada@example.com", fulfilled=True)
    (delivery,) = await webhook_receiver.wait_for(path, 1)
    headers = delivery.headers
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == shop.domain
    assert headers["x-shopify-api-version"] == "2026-10"
    assert headers["x-shopify-event-id"] == created["event"]["event_id"]
    assert headers["x-shopify-webhook-id"] and headers["x-shopify-triggered-at"]
    assert headers["content-type"] == "application/json"
    assert shopify_webhook_hmac_ok(delivery.body, headers["x-shopify-hmac-sha256"], SIM_API_SECRET)
    assert not shopify_webhook_hmac_ok(
        delivery.body + b" ", headers["x-shopify-hmac-sha256"], SIM_API_SECRET
    )
    order = orjson.loads(delivery.body)
    assert order["admin_graphql_api_id"] == created["order"]["id"]
    assert (
        isinstance(order["id"], int) and order["order_number"] == 1003 and order["name"] == "#1003"
    )
    assert order["email"] == "ada@example.com" and order["customer"]["email"] == "ada@example.com"
    assert order["financial_status"] and order["fulfillment_status"] == "fulfilled"
    line = order["line_items"][0]
    assert {"id", "variant_id", "product_id", "title", "sku", "price", "quantity"} <= line.keys()


async def test_failed_delivery_is_retried(sim_control, webhook_receiver: WebhookReceiver):
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(500, 302, 200)  # a redirect is a failure too
    await subscribe(sim_control, shop, "ORDERS_UPDATED", webhook_receiver.url(path))
    state = await sim_control.shop_state(shop.domain)
    assert state["subscriptions"][0]["topic"] == "ORDERS_UPDATED"
    orders = await sim_control.orders(shop.domain)
    await sim_control.update_order(shop.domain, orders["orders"][0]["id"], tags=["vip"])
    assert (await sim_control.settle(shop.domain))["settled"]
    received = webhook_receiver.at(path)
    assert [r.status for r in received] == [500, 302, 200]
    assert len({r.headers["x-shopify-event-id"] for r in received}) == 1
    assert len({r.headers["x-shopify-webhook-id"] for r in received}) == 1
    log = (await sim_control.deliveries(shop.domain))["deliveries"]
    assert [(d["attempt"], d["ok"]) for d in log] == [(0, False), (1, False), (2, True)]


async def test_exhausted_retries_remove_the_subscription(
    sim_control, webhook_receiver: WebhookReceiver
):
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(503)
    await subscribe(sim_control, shop, "ORDERS_CREATE", webhook_receiver.url(path))
    await sim_control.create_order(shop.domain)
    assert (await sim_control.settle(shop.domain, timeout=10))["settled"]
    assert len(webhook_receiver.at(path)) == 9  # first try + 8 retries
    assert (await sim_control.shop_state(shop.domain))["subscriptions"] == []


async def test_duplicates_on_request(sim_control, webhook_receiver: WebhookReceiver):
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(200)
    await subscribe(sim_control, shop, "ORDERS_CREATE", webhook_receiver.url(path))
    await sim_control.create_order(shop.domain, deliver={"duplicates": 3, "concurrent": True})
    await sim_control.settle(shop.domain)
    received = webhook_receiver.at(path)
    assert len(received) == 3
    assert len({r.headers["x-shopify-event-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1


async def test_held_event_arrives_after_the_next_one(
    sim_control, webhook_receiver: WebhookReceiver
):
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(200)
    await subscribe(sim_control, shop, "ORDERS_UPDATED", webhook_receiver.url(path))
    order_id = (await sim_control.orders(shop.domain))["orders"][0]["id"]
    await sim_control.set_webhook_faults(shop.domain, hold_next=1)
    older = await sim_control.update_order(shop.domain, order_id, tags=["first"])
    newer = await sim_control.update_order(shop.domain, order_id, tags=["second"])
    assert (await sim_control.settle(shop.domain))["settled"]
    received = webhook_receiver.at(path)
    assert [r.headers["x-shopify-event-id"] for r in received] == [
        newer["event"]["event_id"],
        older["event"]["event_id"],
    ]
    bodies = [orjson.loads(r.body) for r in received]
    assert bodies[0]["updated_at"] > bodies[1]["updated_at"]


async def test_uninstall_sends_app_uninstalled_and_revokes_access(
    sim_control, webhook_receiver: WebhookReceiver
):
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(200)
    await subscribe(sim_control, shop, "APP_UNINSTALLED", webhook_receiver.url(path))
    await sim_control.uninstall(shop.domain)
    (delivery,) = await webhook_receiver.wait_for(path, 1)
    assert delivery.headers["x-shopify-topic"] == "app/uninstalled"
    assert orjson.loads(delivery.body)["myshopify_domain"] == shop.domain
    assert (await sim_control.graphql(shop, "{ shop { name } }")).status_code == 401
    assert (await sim_control.shop_state(shop.domain))["subscriptions"] == []


async def test_compliance_requests_go_to_the_compliance_url(
    sim_control, webhook_receiver: WebhookReceiver
):
    shop = await sim_control.create_shop(orders=3)
    prefix = webhook_receiver.new_path(200)
    for topic in ("customers/data_request", "customers/redact", "shop/redact"):
        webhook_receiver.scripts[f"{prefix}/{topic}"] = [200]
    url = webhook_receiver.url(prefix) + "/{topic}"
    sent = await sim_control.compliance(shop.domain, "customers/redact", compliance_url=url)
    await sim_control.compliance(shop.domain, "shop/redact")
    await sim_control.settle(shop.domain)
    (redact,) = webhook_receiver.at(f"{prefix}/customers/redact")
    payload = orjson.loads(redact.body)
    assert payload["shop_domain"] == shop.domain and payload == sent["payload"]
    assert {"id", "email", "phone"} <= payload["customer"].keys() and isinstance(
        payload["orders_to_redact"], list
    )
    assert shopify_webhook_hmac_ok(
        redact.body, redact.headers["x-shopify-hmac-sha256"], SIM_API_SECRET
    )
    (shop_redact,) = webhook_receiver.at(f"{prefix}/shop/redact")
    assert orjson.loads(shop_redact.body) == {
        "shop_id": payload["shop_id"],
        "shop_domain": shop.domain,
    }


async def test_subscription_crud(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=0)
    sub_id = await subscribe(
        sim_control, shop, "ORDERS_CREATE", "https://app.example/api/webhooks/orders/create"
    )
    taken = (
        await sim_control.graphql(
            shop,
            SUBSCRIBE,
            {"topic": "ORDERS_CREATE", "url": "https://app.example/api/webhooks/orders/create"},
        )
    ).json()
    assert taken["data"]["webhookSubscriptionCreate"]["userErrors"][0]["field"] == [
        "webhookSubscription",
        "callbackUrl",
    ]
    update = """mutation($id: ID!) { webhookSubscriptionUpdate(id: $id, webhookSubscription: {callbackUrl: "https://new.example/h"}) {
      webhookSubscription { callbackUrl } userErrors { message } } }"""
    updated = (await sim_control.graphql(shop, update, {"id": sub_id})).json()["data"][
        "webhookSubscriptionUpdate"
    ]
    assert updated["webhookSubscription"]["callbackUrl"] == "https://new.example/h"
    listing = """{ webhookSubscriptions(first: 10, topics: [ORDERS_CREATE]) {
      edges { node { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } } } } }"""
    edges = (await sim_control.graphql(shop, listing)).json()["data"]["webhookSubscriptions"][
        "edges"
    ]
    assert edges[0]["node"]["endpoint"] == {
        "__typename": "WebhookHttpEndpoint",
        "callbackUrl": "https://new.example/h",
    }
    delete = "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }"
    deleted = (await sim_control.graphql(shop, delete, {"id": sub_id})).json()["data"][
        "webhookSubscriptionDelete"
    ]
    assert deleted == {"deletedWebhookSubscriptionId": sub_id, "userErrors": []}
