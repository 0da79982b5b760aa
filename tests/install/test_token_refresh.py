"""Stored expiring offline tokens: refreshed before expiry or after a 401, once for everyone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import ShopifyIntegration
from app.services.integrations import disconnect_integration
from app.services.shopify_session import (
    IntegrationNotConnected,
    StoredTokenSource,
    TokenRefreshFailed,
    admin_client_for,
)
from app.services.token_cipher import TokenCipher
from app.shopify.errors import ShopifyError
from tests.install.helpers import connect_sim_shop, sim_counter
from tools.shopify_sim import SimulatorControl

SHOP_NAME = "query ShopName { shop { name } }"


async def stored(tenant_id: str) -> ShopifyIntegration:
    integration = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert integration is not None
    return integration


async def set_expiry(tenant_id: str, expires_in: timedelta) -> None:
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id}, {"$set": {"expires_at": utcnow() + expires_in}}
    )


async def test_expired_token_is_refreshed_once_for_20_concurrent_callers(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    before = await stored(tenant_id)
    await sim_control.expire_tokens(shop)  # Shopify says expired; our record does not know yet

    async def call() -> str:
        client = await admin_client_for(tenant_id, settings, sim_http)
        data = await client.execute(SHOP_NAME)
        return str(data["shop"]["name"])

    names = await asyncio.gather(*(call() for _ in range(20)))

    assert len(set(names)) == 1
    assert await sim_counter(sim_control, shop, "token_refreshes") == 1
    after = await stored(tenant_id)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert after.token_refresh_lease_until is None and after.token_refreshed_at is not None


async def test_token_is_refreshed_ahead_of_expiry_once_for_20_callers(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(minutes=2))  # inside the 5-minute margin

    clients = [await admin_client_for(tenant_id, settings, sim_http) for _ in range(20)]
    await asyncio.gather(*(client.execute(SHOP_NAME) for client in clients))

    assert await sim_counter(sim_control, shop, "token_refreshes") == 1
    assert sum(client.stats.refreshes for client in clients) == 0  # no 401 was needed
    after = await stored(tenant_id)
    assert after.expires_at is not None
    assert after.expires_at - utcnow() > timedelta(minutes=55)


async def test_two_processes_refresh_only_once_between_them(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(seconds=-1))
    # Separate locks: nothing in-process coordinates them, only the lease in MongoDB.
    process_a = StoredTokenSource(tenant_id, settings, sim_http, lock=asyncio.Lock())
    process_b = StoredTokenSource(tenant_id, settings, sim_http, lock=asyncio.Lock())

    tokens = await asyncio.gather(
        *(source.access_token() for source in (process_a, process_b) * 10)
    )

    assert len(set(tokens)) == 1
    assert await sim_counter(sim_control, shop, "token_refreshes") == 1
    assert process_a.refreshes + process_b.refreshes == 1


async def test_two_processes_answering_a_401_refresh_only_once(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    process_a = StoredTokenSource(tenant_id, settings, sim_http, lock=asyncio.Lock())
    process_b = StoredTokenSource(tenant_id, settings, sim_http, lock=asyncio.Lock())
    rejected = await process_a.access_token()

    new_a, new_b = await asyncio.gather(process_a.refresh(rejected), process_b.refresh(rejected))

    assert new_a == new_b != rejected
    assert await sim_counter(sim_control, shop, "token_refreshes") == 1


async def test_a_crashed_refreshers_lease_is_taken_over_after_it_lapses(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id},
        {
            "$set": {
                "expires_at": utcnow() - timedelta(seconds=1),
                "token_refresh_lease_until": utcnow() + timedelta(milliseconds=300),
                "token_refresh_lease_owner": "crashed-worker",
            }
        },
    )
    source = StoredTokenSource(tenant_id, settings, sim_http)

    token = await source.access_token()

    assert token.startswith("shpat_")
    assert await sim_counter(sim_control, shop, "token_refreshes") == 1
    assert (await stored(tenant_id)).token_refresh_lease_owner is None


async def test_a_refused_refresh_is_reported_and_releases_the_lease(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await sim_control.uninstall(shop)  # Shopify revokes both tokens
    await set_expiry(tenant_id, timedelta(seconds=-1))
    source = StoredTokenSource(tenant_id, settings, sim_http)

    with pytest.raises(TokenRefreshFailed):
        await source.access_token()

    integration = await stored(tenant_id)
    assert integration.token_refresh_lease_until is None
    assert integration.last_error and "refused" in integration.last_error
    assert issubclass(TokenRefreshFailed, ShopifyError)  # callers catching ShopifyError see it


async def test_refreshed_tokens_are_stored_encrypted(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(seconds=-1))
    token = await StoredTokenSource(tenant_id, settings, sim_http).access_token()
    raw = await db.db["integrations_shopify"].find_one({"tenant_id": tenant_id})
    assert raw is not None
    assert token not in str(raw)
    assert TokenCipher(settings.encryption_keys).decrypt(raw["access_token"]) == token


async def test_no_client_without_a_connected_integration(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    with pytest.raises(IntegrationNotConnected):
        await admin_client_for("tenant-nobody", settings, sim_http)
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    await disconnect_integration(tenant_id)
    with pytest.raises(IntegrationNotConnected) as raised:
        await admin_client_for(tenant_id, settings, sim_http)
    assert raised.value.status == "disconnected"
