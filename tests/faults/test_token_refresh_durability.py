"""A refresh token is single-use: once Shopify has issued the new pair, the old one is revoked.
A database that dies right then must not cost the merchant their install."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.db import connect
from app.services.integration import session as shopify_session
from app.services.integration.session import admin_client_for
from app.services.integration.token_cipher import TokenCipher
from app.shopify.oauth_client import refresh_access_token
from tests.faults.conftest import crash
from tools.chaos.environment import Stack

OUTAGE_SECONDS = 2.0


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """As deployed: no operation timeout in the URI, so the driver gives up on an unreachable
    server after the server selection timeout (0.5 s here), well inside the outage."""
    async with Stack(tmp_path, socket_timeout_ms=None) as running:
        database = await connect(running.settings)
        try:
            yield running
        finally:
            await database.close()


async def test_a_pair_shopify_issued_while_the_database_died_is_stored_when_it_returns(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = await stack.new_shop(orders=1)
    tenant_id = await stack.install_in_process(domain)
    await stack.control.expire_tokens(domain)  # Shopify says expired: the next call refreshes
    refresh = refresh_access_token
    restarted: list[asyncio.Task[None]] = []

    async def issued_then_database_dies(*args: Any, **kwargs: Any) -> Any:
        grant = await refresh(*args, **kwargs)  # Shopify has revoked the old pair now
        await stack.kill_database()

        async def come_back() -> None:
            await asyncio.sleep(OUTAGE_SECONDS)
            await stack.restart_database()

        restarted.append(asyncio.create_task(come_back()))
        return grant

    monkeypatch.setattr(shopify_session, "refresh_access_token", issued_then_database_dies)
    client = await admin_client_for(tenant_id, stack.settings, stack.http)
    data = await client.execute("query { shop { name } }")
    assert data["shop"]["name"]
    await asyncio.gather(*restarted)

    await crash(stack)  # what was stored is durable, too
    stored = await stack.raw["integrations_shopify"].find_one({"tenant_id": tenant_id})
    assert stored is not None
    token = TokenCipher(stack.settings.encryption_keys).decrypt(stored["access_token"])
    state = await stack.control.shop_state(domain)
    assert state["counters"].get("token_refreshes") == 1
    monkeypatch.undo()
    # The stored pair is the one Shopify honours: a new client works without another refresh.
    source = shopify_session.StoredTokenSource(tenant_id, stack.settings, stack.http)
    assert await source.access_token() == token
    fresh = await admin_client_for(tenant_id, stack.settings, stack.http)
    assert (await fresh.execute("query { shop { name } }"))["shop"]["name"]
    state = await stack.control.shop_state(domain)
    assert state["counters"].get("token_refreshes") == 1
