"""Captured deliveries re-sent with headers of the sender's choosing: the topic, the shop and the
time are not signed, so what a delivery does is decided by its body and by Shopify."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Customer, Order, ShopifyIntegration, Tenant, WebhookEvent
from app.models.integration import IntegrationStatus
from app.services.integration.integrations import disconnect_integration
from app.services.webhooks.handlers.app_uninstalled import STALE_UNINSTALL
from app.services.webhooks.ingest import RejectedWebhook, build_event_document
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from app.services.webhooks.topics import ORDER_TOPICS, RETURN_TOPICS, WEBHOOK_TOPICS
from tests.simulator_fixtures import WebhookReceiver
from tests.webhooks.capture import Capturer
from tests.webhooks.helpers import (
    ConnectedShop,
    connect_shop,
    install_app,
    order_payload,
    shop_payload,
    store_event,
)
from tools.shopify_sim import SimulatorControl

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0)
SHOP = "rms34.myshopify.com"
TENANT = "tenant-rms34"
OTHER = "other.myshopify.com"


async def _process(settings: Settings) -> int:
    return await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()


@pytest.fixture
def capturer(
    sim_control: SimulatorControl, webhook_receiver: WebhookReceiver, settings: Settings
) -> Capturer:
    return Capturer(sim_control, webhook_receiver, settings)


async def _results(tenant_id: str) -> list[str | None]:
    events = await WebhookEvent.find({"tenant_id": tenant_id}).sort("received_at").to_list()
    assert all(event.processed for event in events), events
    return [event.result for event in events]


# Forged topics --------------------------------------------------------------------------------
def _genuine_bodies() -> dict[str, dict[str, Any]]:
    """One body of each kind, shaped as Shopify sends it."""
    customer = {"id": 7_300_000_000_009, "email": "ada@example.com", "phone": None}
    return {
        "orders/create": order_payload(),
        "app/uninstalled": shop_payload(SHOP),
        "customers/data_request": {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_requested": [1],
            "customer": customer,
            "data_request": {"id": 9001},
        },
        "customers/redact": {
            "shop_id": 1,
            "shop_domain": SHOP,
            "customer": customer,
            "orders_to_redact": [1],
        },
        "shop/redact": {"shop_id": 1, "shop_domain": SHOP},
        "app/scopes_update": {
            "id": 1,
            "previous": ["read_orders"],
            "current": ["read_customers", "read_orders"],
            "updated_at": "2026-01-01T10:00:00+00:00",
            "shop_id": 1,
        },
        "returns/request": {
            "id": 5,
            "admin_graphql_api_id": "gid://shopify/Return/5",
            "status": "requested",
            "order": {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"},
        },
        "refunds/create": {
            "id": 9,
            "admin_graphql_api_id": "gid://shopify/Refund/9",
            "order_id": 1,
            "transactions": [],
            "return": {"id": 5, "admin_graphql_api_id": "gid://shopify/Return/5"},
        },
    }


def _document(route: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"x-shopify-topic": route, "x-shopify-shop-domain": SHOP}
    return build_event_document(route, headers, orjson.dumps(body))


def test_each_topic_accepts_its_own_body_and_refuses_every_other_topics() -> None:
    for kind, body in _genuine_bodies().items():
        for route in sorted(WEBHOOK_TOPICS):
            same = route == kind or any(
                route in family and kind in family for family in (ORDER_TOPICS, RETURN_TOPICS)
            )
            if same:
                assert _document(route, body)["topic"] == route
                continue
            with pytest.raises(RejectedWebhook) as refused:
                _document(route, body)
            assert refused.value.code == "payload_topic_mismatch", (kind, route)


def test_a_refund_must_name_a_refund_and_link_a_return_or_nothing() -> None:
    body = _genuine_bodies()["refunds/create"]
    assert _document("refunds/create", {**body, "return": None})["topic"] == "refunds/create"
    for changed in (
        {"admin_graphql_api_id": "gid://shopify/Refund/10"},  # not the refund `id`
        {"return": {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}},
        {"return": "gid://shopify/Return/5"},
    ):
        with pytest.raises(RejectedWebhook):
            _document("refunds/create", {**body, **changed})


def test_a_shop_redact_body_carrying_a_customer_is_refused() -> None:
    body = {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 1}}
    with pytest.raises(RejectedWebhook):
        _document("shop/redact", body)


async def test_a_captured_data_request_resent_as_shop_redact_erases_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    shop: ConnectedShop,
    sim_control: SimulatorControl,
    capturer: Capturer,
) -> None:
    await store_event("orders/create", shop.order(number=1001))
    await _process(settings)
    await sim_control.compliance(
        SHOP, "customers/data_request", compliance_url=capturer.compliance_url(SHOP)
    )
    captured = await capturer.next(SHOP, "customers/data_request")

    for topic in ("shop/redact", "customers/redact"):
        response = await captured.send(client, topic=topic)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "payload_topic_mismatch"
    assert await WebhookEvent.find({"topic": {"$ne": "orders/create"}}).count() == 0

    assert (await captured.send(client)).status_code == 200  # as Shopify meant it
    await _process(settings)
    assert await Tenant.get(TENANT) is not None
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None and integration.status == IntegrationStatus.CONNECTED
    assert await Order.find({"tenant_id": TENANT, "redacted_at": {"$ne": None}}).count() == 0
    assert await Order.find({"tenant_id": TENANT}).count() == 1
    assert await Customer.find({"tenant_id": TENANT, "redacted_at": {"$ne": None}}).count() == 0


# Replayed uninstalls --------------------------------------------------------------------------
async def test_a_captured_uninstall_replayed_after_a_reinstall_changes_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    shop: ConnectedShop,
    sim_control: SimulatorControl,
    capturer: Capturer,
) -> None:
    await capturer.subscribe(SHOP, "app/uninstalled")
    await sim_control.uninstall(SHOP)
    captured = await capturer.next(SHOP, "app/uninstalled")
    assert (await captured.send(client)).status_code == 200
    await _process(settings)
    uninstalled = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert uninstalled is not None and uninstalled.status == IntegrationStatus.UNINSTALLED

    await install_app(sim_control, settings, SHOP)
    before = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert before is not None and before.status == IntegrationStatus.CONNECTED
    response = await captured.send(client)  # fresh event id, triggered "now"
    assert response.status_code == 200
    await _process(settings)
    after = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert after is not None and after.status == IntegrationStatus.CONNECTED
    assert after.access_token == before.access_token
    assert (await _results(TENANT))[-1] == STALE_UNINSTALL


# Orders under another shop's header -----------------------------------------------------------
async def test_a_captured_order_resent_with_another_shops_header_is_not_stored_there(
    client: httpx.AsyncClient,
    settings: Settings,
    shop: ConnectedShop,
    sim_control: SimulatorControl,
    capturer: Capturer,
) -> None:
    other = await connect_shop(sim_control, settings, OTHER, orders=3)
    await capturer.subscribe(SHOP, "orders/create")
    created = await sim_control.create_order(SHOP, email="victim.buyer@example.com")
    order_id = str(created["order"]["id"]).rsplit("/", 1)[-1]
    captured = await capturer.next(SHOP, "orders/create")

    # Not stored anywhere yet: the other shop's Shopify does not know the order.
    assert (await captured.send(client, shop=OTHER)).status_code == 200
    await _process(settings)
    assert await Order.find({"tenant_id": other.tenant_id}).count() == 0
    assert (await _results(other.tenant_id))[-1] == (
        f"refused: Shopify does not know order {order_id} in this shop"
    )

    # Stored for its own shop, then re-sent again: another tenant holds that order id.
    assert (await captured.send(client)).status_code == 200
    await _process(settings)
    assert await Order.find({"tenant_id": TENANT, "shopify_id": order_id}).count() == 1
    assert (await captured.send(client, shop=OTHER)).status_code == 200
    await _process(settings)
    assert await Order.find({"tenant_id": other.tenant_id}).count() == 0
    assert await Customer.find({"tenant_id": other.tenant_id}).count() == 0
    assert (await _results(other.tenant_id))[-1] == (
        f"refused: order {order_id} belongs to another shop"
    )
    # The other shop's events keep nothing of the victim's customer, only the order's ids.
    for event in await WebhookEvent.find({"tenant_id": other.tenant_id}).to_list():
        assert set(event.payload) == {"id", "admin_graphql_api_id"}, event.payload
        assert event.customer_id is None


async def test_an_unknown_order_waits_while_shopify_cannot_be_asked(
    settings: Settings, shop: ConnectedShop, db: Database
) -> None:
    payload = shop.order(number=1001)
    await store_event("orders/create", payload)
    unreachable = settings.model_copy(
        update={"shopify_admin_base_url": "http://127.0.0.1:9/{shop}"}
    )
    policy = ProcessingPolicy(max_attempts=3, retry_base_seconds=60)
    assert await WebhookProcessor(unreachable, "down", policy=policy).process_one()
    [event] = await WebhookEvent.find({}).to_list()
    assert not event.processed and event.error is not None
    assert await Order.find({"tenant_id": TENANT}).count() == 0

    await WebhookEvent.get_pymongo_collection().update_many(
        {}, {"$set": {"next_attempt_at": utcnow()}}
    )
    await _process(settings)
    assert await Order.find({"tenant_id": TENANT, "shopify_id": str(payload["id"])}).count() == 1


async def test_an_order_of_a_shop_without_a_connected_integration_is_not_stored(
    settings: Settings, shop: ConnectedShop
) -> None:
    await disconnect_integration(TENANT)
    payload = shop.order(number=1001)
    await store_event("orders/create", payload)
    await _process(settings)
    assert await Order.find({"tenant_id": TENANT}).count() == 0
    [result] = await _results(TENANT)
    assert result is not None and result.startswith("ignored: order")
    assert "could not be verified" in result
