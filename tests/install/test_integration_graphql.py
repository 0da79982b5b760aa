"""`shopifyIntegration`, `registerShopifyWebhooks`, `disconnectShopify` over /graphql."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from app.db import Database
from app.models import ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration.session import admin_client_for
from app.services.integration.webhook_subscriptions import WEBHOOK_TOPICS
from app.shopify.documents.webhooks import (
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTION_DELETE,
    WEBHOOK_SUBSCRIPTION_UPDATE,
)
from tests.factories import graphql, make_tenant, merchant_headers
from tests.install.helpers import install, sim_subscriptions
from tools.shopify_sim import SimulatorControl

INTEGRATION = """
query {
  shopifyIntegration {
    shop status scopes apiVersion installedAt uninstalledAt tokenExpiresAt lastError webhooksError
    webhooksReadLive
    webhooks { topic address shopifyId registeredInShopify addressMatchesAppUrl }
  }
}
"""
REGISTER = """
mutation {
  registerShopifyWebhooks {
    webhooks { topic address shopifyId registeredInShopify addressMatchesAppUrl }
    userErrors { field code message }
  }
}
"""
DISCONNECT = """
mutation {
  disconnectShopify {
    integration { status shop tokenExpiresAt }
    userErrors { field code message }
  }
}
"""
WANTED = {topic: f"http://testserver/api/webhooks/{topic}" for topic in WEBHOOK_TOPICS}


async def installed(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient
) -> tuple[str, str, dict[str, str]]:
    done = await install(client, sim_http)
    return done.tenant_id, done.shop, await merchant_headers(done.tenant_id)


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


async def test_integration_status_reads_webhooks_live_and_shows_no_token(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    _, shop, headers = await installed(client, sim_http)

    response = await client.post("/graphql", json={"query": INTEGRATION}, headers=headers)

    integration = data(response.json())["shopifyIntegration"]
    assert integration["shop"] == shop
    assert integration["status"] == "CONNECTED"
    assert integration["apiVersion"] == settings.shopify_api_version
    assert integration["installedAt"] and integration["tokenExpiresAt"]
    assert integration["uninstalledAt"] is None
    assert integration["webhooksReadLive"] is True
    assert {w["topic"]: w["address"] for w in integration["webhooks"]} == WANTED
    assert all(
        w["registeredInShopify"] and w["addressMatchesAppUrl"] for w in integration["webhooks"]
    )
    assert "shpat_" not in response.text and "shprt_" not in response.text
    assert "gAAAAA" not in response.text


async def test_a_subscription_gone_from_shopify_is_flagged(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, _, headers = await installed(client, sim_http)
    record = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert record is not None
    gone = next(w for w in record.webhooks if w.topic == "orders/updated")
    admin = await admin_client_for(tenant_id, settings, sim_http)
    await admin.execute(WEBHOOK_SUBSCRIPTION_DELETE, {"id": gone.shopify_id})

    body = await graphql(client, INTEGRATION, headers=headers)

    webhooks = data(body)["shopifyIntegration"]["webhooks"]
    flags = {w["topic"]: w["registeredInShopify"] for w in webhooks}
    assert flags == {topic: topic != "orders/updated" for topic in WEBHOOK_TOPICS}


async def test_status_falls_back_to_the_stored_list_when_shopify_fails(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    db: Database,
) -> None:
    _, shop, headers = await installed(client, sim_http)
    await sim_control.set_faults(shop, fail_next=1, error_status=400)

    body = await graphql(client, INTEGRATION, headers=headers)

    integration = data(body)["shopifyIntegration"]
    assert integration["webhooksReadLive"] is False
    assert {w["topic"]: w["address"] for w in integration["webhooks"]} == WANTED
    assert all(w["registeredInShopify"] is None for w in integration["webhooks"])


async def test_register_webhooks_repairs_old_addresses_and_duplicates(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    settings: Settings,
    db: Database,
) -> None:
    tenant_id, shop, headers = await installed(client, sim_http)
    record = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert record is not None
    admin = await admin_client_for(tenant_id, settings, sim_http)
    by_topic = {w.topic: w.shopify_id for w in record.webhooks}
    old = "https://old-host.example.com/api/webhooks/"
    await admin.execute(
        WEBHOOK_SUBSCRIPTION_UPDATE,
        {"id": by_topic["orders/create"], "callbackUrl": old + "orders/create"},
    )
    await admin.execute(WEBHOOK_SUBSCRIPTION_DELETE, {"id": by_topic["app/uninstalled"]})
    await admin.execute(
        WEBHOOK_SUBSCRIPTION_CREATE,
        {"topic": "ORDERS_UPDATED", "callbackUrl": old + "orders/updated"},
    )

    payload = data(await graphql(client, REGISTER, headers=headers))["registerShopifyWebhooks"]

    assert payload["userErrors"] == []
    assert {w["topic"]: w["address"] for w in payload["webhooks"]} == WANTED
    assert sorted(a for _, a in await sim_subscriptions(sim_control, shop)) == sorted(
        WANTED.values()
    )
    stored = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert stored is not None and {w.topic: w.address for w in stored.webhooks} == WANTED


async def test_disconnect_drops_tokens_and_subscriptions(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    db: Database,
) -> None:
    tenant_id, shop, headers = await installed(client, sim_http)

    payload = data(await graphql(client, DISCONNECT, headers=headers))["disconnectShopify"]

    assert payload["userErrors"] == []
    assert payload["integration"]["status"] == "DISCONNECTED"
    assert payload["integration"]["tokenExpiresAt"] is None
    record = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert record is not None and record.status == IntegrationStatus.DISCONNECTED
    assert record.access_token is None and record.refresh_token is None
    assert await sim_subscriptions(sim_control, shop) == []
    again = data(await graphql(client, REGISTER, headers=headers))["registerShopifyWebhooks"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_CONNECTED"]


async def test_a_tenant_that_never_installed_has_no_integration(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("never-installed")
    headers = await merchant_headers(tenant.id)
    assert data(await graphql(client, INTEGRATION, headers=headers))["shopifyIntegration"] is None
    payload = data(await graphql(client, DISCONNECT, headers=headers))["disconnectShopify"]
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_CONNECTED"]


async def test_integration_operations_need_a_merchant(
    client: httpx.AsyncClient, db: Database
) -> None:
    for operation in (INTEGRATION, REGISTER, DISCONNECT):
        body = await graphql(client, operation)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
