"""Our app served by uvicorn on a free port (so the simulator can deliver over real HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from app.clock import utcnow
from app.config import Settings
from app.main import create_app
from app.models import ShopifyIntegration, Tenant
from app.models.bson import to_bson
from app.models.tenant import tenant_id_for_shop
from app.services.integration.token_cipher import TokenCipher
from tools.shopify_sim import InstalledShop, SimulatorControl, ThreadedASGIServer

SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""


@asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[ThreadedASGIServer]:
    """The real app (lifespan, background runner if enabled) in a uvicorn thread.

    Its Beanie models are bound to its own loop: tests check the database with a raw client.
    """
    server = ThreadedASGIServer(create_app(settings, configure_logs=False))
    await server.astart()
    try:
        yield server
    finally:
        await server.astop()


@asynccontextmanager
async def raw_database(settings: Settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    try:
        yield client.get_database(settings.mongodb_db)
    finally:
        await client.drop_database(settings.mongodb_db)
        await client.close()


async def add_tenant(database: Any, shop: str) -> str:
    """What the install flow does first (`ensure_tenant`), written raw."""
    tenant_id = tenant_id_for_shop(shop)
    document = to_bson(Tenant.new(tenant_id, shop, shop.split(".")[0]))
    document.pop("_id", None)
    await database["tenants"].update_one(
        {"_id": tenant_id}, {"$setOnInsert": document}, upsert=True
    )
    return tenant_id


async def connect_tenant(database: Any, settings: Settings, shop: InstalledShop) -> str:
    """What the install does (tenant, then the integration with the grant's tokens encrypted),
    written raw: the app's handlers ask Shopify with these tokens."""
    tenant_id = await add_tenant(database, shop.domain)
    cipher = TokenCipher(settings.encryption_keys)
    integration = ShopifyIntegration(
        tenant_id=tenant_id,
        shop_domain=shop.domain,
        access_token=cipher.encrypt(shop.access_token),
        refresh_token=cipher.encrypt(shop.refresh_token),
        expires_at=utcnow() + timedelta(seconds=shop.expires_in),
        scopes=shop.scope.split(","),
        installed_at=utcnow(),
    )
    document = to_bson(integration)
    document.pop("_id", None)
    await database["integrations_shopify"].insert_one(document)
    return tenant_id


async def subscribe(
    control: SimulatorControl, shop: InstalledShop, base_url: str, *topics: str
) -> None:
    for topic in topics:
        path = topic.lower().replace("_", "/", 1)
        response = await control.graphql(
            shop,
            SUBSCRIBE,
            {
                "topic": topic,
                "sub": {"callbackUrl": f"{base_url}/api/webhooks/{path}", "format": "JSON"},
            },
        )
        body = response.json()
        assert not body["data"]["webhookSubscriptionCreate"]["userErrors"], body


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll until `check()` returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
