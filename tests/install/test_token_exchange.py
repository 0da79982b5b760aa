"""Shopify-managed installation: a shop's first session token is exchanged for an expiring
offline token, and the shop is installed within that request, once however many requests
arrive together. Against the simulator's token endpoint over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import InstallLease, ShopifyIntegration, SyncJob, Tenant
from app.models.integration import IntegrationStatus
from app.services.auth import make_session_token
from app.services.integration import token_exchange
from tests.factories import graphql
from tools.shopify_sim import SimulatorControl

TENANT = "{ tenant { tenantId shopDomain } }"


def _bearer(settings: Settings, shop: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_session_token(settings, shop)}"}


async def test_the_first_session_token_of_a_new_shop_installs_it(
    client: httpx.AsyncClient, settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    shop = (await sim_control.create_bare_shop(orders=3))["domain"]
    body = await graphql(client, TENANT, headers=_bearer(settings, shop))
    assert body.get("errors") is None, body
    tenant_id = body["data"]["tenant"]["tenantId"]
    assert body["data"]["tenant"]["shopDomain"] == shop

    integration = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert integration is not None and integration.status is IntegrationStatus.CONNECTED
    assert integration.expires_at is not None and integration.refresh_token  # expiring, stored
    assert integration.access_token and not integration.access_token.startswith("shpat_")
    assert await SyncJob.find({"tenant_id": tenant_id}).count() == 1  # the first sync
    state = await sim_control.shop_state(shop)
    assert state["installed"] and state["counters"]["token_exchanges"] == 1
    assert {s["topic"] for s in state["subscriptions"]} >= {"ORDERS_CREATE", "APP_UNINSTALLED"}
    assert await InstallLease.count() == 0  # the exchange's lease is gone

    again = await graphql(client, TENANT, headers=_bearer(settings, shop))
    assert again["data"]["tenant"]["tenantId"] == tenant_id
    assert (await sim_control.shop_state(shop))["counters"]["token_exchanges"] == 1


async def test_a_burst_of_first_requests_exchanges_once(
    client: httpx.AsyncClient, settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    shop = (await sim_control.create_bare_shop(orders=1))["domain"]
    bodies = await asyncio.gather(
        *(graphql(client, TENANT, headers=_bearer(settings, shop)) for _ in range(10))
    )
    assert all(body.get("errors") is None for body in bodies), bodies
    assert len({body["data"]["tenant"]["tenantId"] for body in bodies}) == 1
    assert (await sim_control.shop_state(shop))["counters"]["token_exchanges"] == 1
    assert await ShopifyIntegration.find({"shop_domain": shop}).count() == 1


async def test_a_session_token_shopify_refuses_installs_nothing(
    client: httpx.AsyncClient, settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    shop = (await sim_control.create_bare_shop(orders=1))["domain"]
    await sim_control.uninstall(shop)  # Shopify will not exchange tokens of an uninstalled app
    body = await graphql(client, TENANT, headers=_bearer(settings, shop))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "could not be installed" in body["errors"][0]["message"]
    assert await Tenant.find({"shop_domain": shop}).count() == 0
    assert await ShopifyIntegration.find({"shop_domain": shop}).count() == 0
    assert (await sim_control.shop_state(shop))["counters"]["token_exchange_rejected"] == 1


async def test_the_simulator_refuses_a_forged_or_foreign_session_token(
    sim_control: SimulatorControl, settings: Settings
) -> None:
    shop = (await sim_control.create_bare_shop(orders=1))["domain"]
    other = (await sim_control.create_bare_shop(orders=1))["domain"]
    forged = settings.model_copy(update={"shopify_api_secret": "not-the-app-secret-0123456789"})
    url = f"{sim_control.base_url}/{shop}/admin/oauth/access_token"
    for token in (make_session_token(forged, shop), make_session_token(settings, other)):
        response = await sim_control.http.post(
            url,
            json={
                "client_id": settings.shopify_api_key,
                "client_secret": settings.shopify_api_secret,
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_subject_token"


async def test_a_slow_install_leaves_the_first_request_its_whole_database_budget(
    settings: Settings, db: Database, sim_control: SimulatorControl
) -> None:
    """Installing waits on Shopify (the exchange, webhook registration) for longer than the
    request's database deadline; the request still answers, with its own budget after it."""
    short = settings.model_copy(update={"mongodb_request_timeout_ms": 1000})
    shop = (await sim_control.create_bare_shop(orders=1))["domain"]
    await sim_control.set_faults(shop, latency_ms=700)  # every Admin API call: 0.7 s
    app = create_app(short, configure_logs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        body = await graphql(http, TENANT, headers=_bearer(short, shop))
    assert body.get("errors") is None, body
    assert body["data"]["tenant"]["shopDomain"] == shop


async def test_a_lease_is_released_only_by_its_holder(db: Database) -> None:
    """An exchange that outlived its lease must not release the lease another one took since."""
    assert await token_exchange._take_lease("slow.myshopify.com", "first")
    assert not await token_exchange._take_lease("slow.myshopify.com", "second")
    await InstallLease.get_pymongo_collection().update_one(  # the first one's lease ran out
        {"_id": "slow.myshopify.com"}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    assert await token_exchange._take_lease("slow.myshopify.com", "second")
    await token_exchange._release_lease("slow.myshopify.com", "first")  # the slow one finishes
    lease = await InstallLease.get_pymongo_collection().find_one({"_id": "slow.myshopify.com"})
    assert lease is not None and lease["holder"] == "second"
