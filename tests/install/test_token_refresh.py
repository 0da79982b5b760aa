"""Stored expiring offline tokens: refreshed before expiry or after a 401, once for everyone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration import session as shopify_session
from app.services.integration.integrations import (
    connect_integration,
    disconnect_integration,
    mark_uninstalled,
)
from app.services.integration.session import (
    IntegrationNotConnected,
    StoredTokenSource,
    TokenReadOnce,
    TokenRefreshFailed,
    admin_client_for,
    grant_fields,
)
from app.services.integration.token_cipher import TokenCipher
from app.shopify.errors import ShopifyError
from app.shopify.oauth_client import TokenGrant, refresh_access_token
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


# Refresh safety: cancellation, uninstall/re-install meanwhile, a lapsed lease ------------------


async def _wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_a_refresh_whose_caller_is_canceled_still_stores_the_new_pair(
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    before = await stored(tenant_id)
    await set_expiry(tenant_id, timedelta(seconds=-1))
    issued = asyncio.Event()

    async def issued_then_slow(*args: Any, **kwargs: Any) -> TokenGrant:
        grant = await refresh_access_token(*args, **kwargs)
        issued.set()  # Shopify has revoked the old pair now
        await asyncio.sleep(0.2)
        return grant

    monkeypatch.setattr(shopify_session, "refresh_access_token", issued_then_slow)
    caller = asyncio.create_task(StoredTokenSource(tenant_id, settings, sim_http).access_token())
    await issued.wait()
    caller.cancel()  # a sync heartbeat or a client disconnect
    with pytest.raises(asyncio.CancelledError):
        await caller

    async def replaced() -> bool:
        return (await stored(tenant_id)).access_token != before.access_token

    await _wait_until(replaced)
    after = await stored(tenant_id)
    assert after.token_refresh_lease_owner is None
    client = await admin_client_for(tenant_id, settings, sim_http)
    assert (await client.execute(SHOP_NAME))["shop"]["name"]
    assert await sim_counter(sim_control, shop, "token_refreshes") == 1


async def test_a_refresh_does_not_put_tokens_back_after_an_uninstall(
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(seconds=-1))

    async def uninstalled_meanwhile(*args: Any, **kwargs: Any) -> TokenGrant:
        grant = await refresh_access_token(*args, **kwargs)
        assert (await mark_uninstalled(tenant_id)).changed  # app/uninstalled lands meanwhile
        return grant

    monkeypatch.setattr(shopify_session, "refresh_access_token", uninstalled_meanwhile)
    with pytest.raises(IntegrationNotConnected):
        await StoredTokenSource(tenant_id, settings, sim_http).access_token()

    after = await stored(tenant_id)
    assert after.status == IntegrationStatus.UNINSTALLED
    assert after.access_token is None and after.refresh_token is None


async def test_a_refresh_does_not_overwrite_a_reinstalls_tokens(
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(seconds=-1))
    reinstall = TokenGrant(
        access_token="shpat_reinstalled",
        scope="read_orders",
        expires_at=utcnow() + timedelta(hours=1),
        refresh_token="shprt_reinstalled",
        refresh_token_expires_at=None,
    )

    async def reinstalled_meanwhile(*args: Any, **kwargs: Any) -> TokenGrant:
        grant = await refresh_access_token(*args, **kwargs)
        await connect_integration(tenant_id, shop, reinstall, settings)
        return grant

    monkeypatch.setattr(shopify_session, "refresh_access_token", reinstalled_meanwhile)
    token = await StoredTokenSource(tenant_id, settings, sim_http).access_token()

    assert token == "shpat_reinstalled"
    after = await stored(tenant_id)
    cipher = TokenCipher(settings.encryption_keys)
    assert after.access_token is not None and after.refresh_token is not None
    assert cipher.decrypt(after.access_token) == "shpat_reinstalled"
    assert cipher.decrypt(after.refresh_token) == "shprt_reinstalled"


async def test_a_refresh_that_lost_the_race_to_another_process_uses_its_token(
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    await set_expiry(tenant_id, timedelta(seconds=-1))
    other: list[TokenGrant] = []

    async def another_process_first(*args: Any, **kwargs: Any) -> TokenGrant:
        # Another process (our lease had lapsed) refreshes with the same refresh token and
        # stores its pair; ours then reaches Shopify with the used refresh token.
        grant = await refresh_access_token(*args, **kwargs)
        other.append(grant)
        await ShopifyIntegration.get_pymongo_collection().update_one(
            {"tenant_id": tenant_id},
            {"$set": grant_fields(grant, TokenCipher(settings.encryption_keys))},
        )
        return await refresh_access_token(*args, **kwargs)

    monkeypatch.setattr(shopify_session, "refresh_access_token", another_process_first)
    token = await StoredTokenSource(tenant_id, settings, sim_http).access_token()

    assert token == other[0].access_token
    assert await sim_counter(sim_control, shop, "token_refresh_rejected") == 1
    after = await stored(tenant_id)
    assert after.token_refresh_lease_owner is None and after.last_error is None


async def test_a_token_read_once_is_read_once_and_replaced_by_a_refresh() -> None:
    """The returns mirror's client reads the stored token once for its few calls; a token
    Shopify refuses goes through the stored source's refresh, and the fresh one is used next."""

    class Counting:
        def __init__(self) -> None:
            self.reads = 0
            self.refreshed: list[str] = []

        async def access_token(self) -> str:
            self.reads += 1
            return f"token-{self.reads}"

        async def refresh(self, rejected_token: str) -> str:
            self.refreshed.append(rejected_token)
            return "token-refreshed"

    stored = Counting()
    once = TokenReadOnce(stored)
    assert [await once.access_token() for _ in range(3)] == ["token-1"] * 3
    assert stored.reads == 1
    assert await once.refresh("token-1") == "token-refreshed"
    assert await once.access_token() == "token-refreshed"
    assert (stored.reads, stored.refreshed) == (1, ["token-1"])
