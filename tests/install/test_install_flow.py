"""`/api/auth/shopify/install` and `/callback`, driven for real through the simulator."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import OAuthState, Order, ShopifyIntegration, SyncJob, Tenant
from app.models.integration import IntegrationStatus
from app.models.sync_job import SyncStatus
from app.services.integration.install import app_home_url
from app.services.integration.integrations import mark_uninstalled
from app.services.integration.token_cipher import TokenCipher
from app.services.integration.webhook_subscriptions import WEBHOOK_TOPICS, topic_enum
from tests.conftest import make_settings
from tests.factories import make_order
from tests.install.helpers import (
    authorize,
    callback,
    install,
    new_shop,
    query_of,
    sim_subscriptions,
    snapshot,
    start_install,
)
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import SimulatorControl, SimulatorServer

# Every topic the app registers per shop, as Shopify's enum names it.
TOPICS = tuple(sorted(topic_enum(topic) for topic in WEBHOOK_TOPICS))


async def test_install_redirects_to_authorize_with_a_stored_state(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    shop = new_shop()
    response = await start_install(client, shop.upper())

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{settings.admin_base_url(shop)}/admin/oauth/authorize?")
    params = query_of(location)
    assert params["client_id"] == SIM_API_KEY
    assert params["scope"] == ",".join(settings.shopify_scopes)
    assert params["redirect_uri"] == "http://testserver/api/auth/shopify/callback"
    assert len(params["state"]) >= 32
    stored = await OAuthState.find_one({"state": params["state"]})
    assert stored is not None and stored.shop == shop
    assert timedelta(minutes=9) < stored.expires_at - utcnow() <= timedelta(minutes=10)


async def test_each_install_gets_its_own_state(client: httpx.AsyncClient, db: Database) -> None:
    shop = new_shop()
    first = query_of((await start_install(client, shop)).headers["location"])["state"]
    second = query_of((await start_install(client, shop)).headers["location"])["state"]
    assert first != second
    assert await OAuthState.find({"shop": shop}).count() == 2


async def test_install_and_callback_connect_the_shop(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    settings: Settings,
    db: Database,
) -> None:
    done = await install(client, sim_http)

    assert done.response.headers["location"] == f"https://{done.shop}/admin/apps/{SIM_API_KEY}"
    tenant = await Tenant.get(done.tenant_id)
    assert tenant is not None and tenant.shop_domain == done.shop
    integration = await ShopifyIntegration.find_one({"tenant_id": done.tenant_id})
    assert integration is not None
    assert integration.status == IntegrationStatus.CONNECTED
    assert integration.shop_domain == done.shop
    assert set(settings.shopify_scopes) <= set(integration.scopes)
    assert integration.api_version == settings.shopify_api_version
    assert integration.installed_at is not None and integration.uninstalled_at is None
    assert integration.expires_at is not None
    assert timedelta(minutes=55) < integration.expires_at - utcnow() <= timedelta(hours=1)
    assert integration.refresh_token_expires_at is not None
    cipher = TokenCipher(settings.encryption_keys)
    assert integration.access_token and integration.refresh_token
    assert cipher.decrypt(integration.access_token).startswith("shpat_")
    assert cipher.decrypt(integration.refresh_token).startswith("shprt_")
    assert not integration.access_token.startswith("shpat_")
    # The state was single-use.
    assert await OAuthState.find_one({"state": done.callback_params["state"]}) is None
    # Webhooks registered at this APP_URL, recorded on the integration.
    expected = [
        (topic, f"http://testserver/api/webhooks/{topic.lower().replace('_', '/', 1)}")
        for topic in TOPICS
    ]
    assert await sim_subscriptions(sim_control, done.shop) == expected
    assert sorted((w.topic, w.address) for w in integration.webhooks) == sorted(
        (t.lower().replace("_", "/", 1), a) for t, a in expected
    )
    assert all(w.shopify_id for w in integration.webhooks)
    assert integration.webhooks_error is None
    # The first sync is queued.
    jobs = await SyncJob.find({"tenant_id": done.tenant_id}).to_list()
    assert [(j.type.value, j.days, j.status.value, j.active) for j in jobs] == [
        ("full", 60, "queued", True)
    ]


async def test_a_replayed_callback_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, db: Database
) -> None:
    done = await install(client, sim_http)
    before = await snapshot(db)

    again = await callback(client, done.callback_params)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_state"
    assert await snapshot(db) == before


async def test_reinstall_after_uninstall_reconnects_and_keeps_history(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    db: Database,
) -> None:
    first = await install(client, sim_http)
    order = await make_order(first.tenant_id, 1001)
    before = await ShopifyIntegration.find_one({"tenant_id": first.tenant_id})
    assert before is not None
    await sim_control.uninstall(first.shop)
    assert (await mark_uninstalled(first.tenant_id)).changed
    uninstalled = await ShopifyIntegration.find_one({"tenant_id": first.tenant_id})
    assert uninstalled is not None and uninstalled.status == IntegrationStatus.UNINSTALLED
    assert uninstalled.access_token is None and uninstalled.uninstalled_at is not None

    second = await install(client, sim_http, first.shop)

    after = await ShopifyIntegration.find_one({"tenant_id": first.tenant_id})
    assert after is not None and after.id == before.id
    assert after.status == IntegrationStatus.CONNECTED
    assert after.uninstalled_at is None
    assert after.installed_at is not None and before.installed_at is not None
    assert after.installed_at >= before.installed_at
    assert after.created_at == before.created_at
    assert after.access_token and after.access_token != before.access_token
    assert len(after.webhooks) == len(WEBHOOK_TOPICS)
    assert await Order.find_one({"_id": order.id}) is not None
    assert await Tenant.find({"shop_domain": first.shop}).count() == 1
    # The uninstall canceled the first sync; the re-install queued a fresh one.
    jobs = await SyncJob.find({"tenant_id": second.tenant_id}).sort("created_at").to_list()
    assert [job.status for job in jobs] == [SyncStatus.CANCELED, SyncStatus.QUEUED]
    assert len(await sim_subscriptions(sim_control, first.shop)) == len(WEBHOOK_TOPICS)


async def test_a_late_uninstall_event_does_not_undo_a_reinstall(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, db: Database
) -> None:
    done = await install(client, sim_http)
    stale = utcnow() - timedelta(hours=1)
    assert not (await mark_uninstalled(done.tenant_id, at=stale)).changed
    integration = await ShopifyIntegration.find_one({"tenant_id": done.tenant_id})
    assert integration is not None and integration.status == IntegrationStatus.CONNECTED


async def test_webhook_registration_failure_does_not_lose_the_install(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    db: Database,
) -> None:
    shop = new_shop()
    await sim_control.create_bare_shop(shop, orders=0)
    await sim_control.set_faults(shop, fail_next=1, error_status=400)
    started = await start_install(client, shop)
    params = await authorize(sim_http, started.headers["location"])

    response = await callback(client, params)

    assert response.status_code == 302
    integration = await ShopifyIntegration.find_one({"tenant_id": "tenant-" + shop.split(".")[0]})
    assert integration is not None and integration.status == IntegrationStatus.CONNECTED
    assert integration.webhooks_error and "could not list" in integration.webhooks_error
    assert await SyncJob.find({"tenant_id": integration.tenant_id}).count() == 1
    assert await sim_subscriptions(sim_control, shop) == []


def test_after_install_the_merchant_lands_on_the_configured_home(settings: Settings) -> None:
    shop = "rms34.myshopify.com"
    assert app_home_url(settings, shop) == f"https://{shop}/admin/apps/{settings.shopify_api_key}"
    home = settings.model_copy(update={"shopify_app_home_url": "https://app.example.com/home"})
    assert app_home_url(home, shop, "aG9zdA") == (
        "https://app.example.com/home?shop=rms34.myshopify.com&host=aG9zdA"
    )
    development = settings.model_copy(update={"environment": "development"})
    assert app_home_url(development, shop) == "http://testserver/graphql"


async def test_a_slow_shopify_does_not_spend_the_callbacks_database_budget(
    mongo_uri: str,
    simulator: SimulatorServer,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
) -> None:
    # Webhook registration (four Admin calls of 400 ms) takes longer than the whole database
    # budget of a request: the callback's later database steps still get theirs.
    settings = make_settings(
        mongo_uri,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
        mongodb_request_timeout_ms=300,
    )
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            shop = new_shop()
            await sim_control.create_bare_shop(shop, orders=0)
            await sim_control.set_faults(shop, latency_ms=400)
            started = await start_install(client, shop)
            params = await authorize(sim_http, started.headers["location"])
            response = await callback(client, params)
        try:
            assert response.status_code == 302, response.text
            integration = await ShopifyIntegration.find_one(
                {"tenant_id": "tenant-" + shop.split(".")[0]}
            )
            assert integration is not None and integration.status == IntegrationStatus.CONNECTED
            assert len(integration.webhooks) == len(TOPICS)
            assert await SyncJob.find({"tenant_id": integration.tenant_id}).count() == 1
        finally:
            resources = app.state.resources
            await resources.database.client.drop_database(settings.mongodb_db)
