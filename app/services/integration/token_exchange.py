"""Shopify-managed installation: the first session token of a shop we do not know (or whose
app was uninstalled) is exchanged for an expiring offline token, and the shop is installed in
that same request (tenant, integration, webhooks, first sync).

Exactly once per shop however many requests arrive together: the first takes the shop's lease
in `install_leases` (which expires on its own if its holder dies, and only its holder releases)
and exchanges; the others wait for the integration it connects. The exchange and the writes after it
run as one task in a fresh context: a caller that disconnects or runs out of its request's
database deadline cannot leave a token Shopify issued unstored.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from datetime import timedelta

import httpx
import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

from app.clock import utcnow
from app.config import Settings
from app.models import InstallLease, ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration.install import start_installed_shop
from app.services.integration.integrations import missing_scopes, parse_scopes
from app.shopify.errors import ShopifyOAuthError, ShopifyUnavailableError
from app.shopify.oauth_client import exchange_session_token

logger = logging.getLogger(__name__)

EXCHANGE_LEASE = timedelta(seconds=60)
# How long a request waits for another's exchange of the same shop before giving up.
WAIT_FOR_OTHER_SECONDS = 30.0

# Exchanges running shielded from their callers; a strong reference until each is done.
_EXCHANGES: set[asyncio.Task[str]] = set()


class TokenExchangeRefused(Exception):
    """Shopify refused the exchange, or the token it granted lacks required scopes."""


async def connected_tenant(shop: str) -> str | None:
    doc = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"shop_domain": shop, "status": IntegrationStatus.CONNECTED.value}, {"tenant_id": 1}
    )
    return str(doc["tenant_id"]) if doc else None


async def _take_lease(shop: str, holder: str) -> bool:
    now = utcnow()
    leases = InstallLease.get_pymongo_collection()
    # A lease whose holder died: taken back (MongoDB's TTL monitor may not have run yet).
    await leases.delete_one({"_id": shop, "expires_at": {"$lte": now}})
    try:
        await leases.insert_one({"_id": shop, "holder": holder, "expires_at": now + EXCHANGE_LEASE})
    except DuplicateKeyError:
        return False
    return True


async def _release_lease(shop: str, holder: str) -> None:
    """Only our own lease: one that expired under us may be another request's by now."""
    try:
        await InstallLease.get_pymongo_collection().delete_one({"_id": shop, "holder": holder})
    except PyMongoError:
        logger.warning("install lease of %s not released (it expires on its own)", shop)


async def install_by_token_exchange(
    settings: Settings, http: httpx.AsyncClient, shop: str, session_token: str
) -> str:
    """The tenant of `shop`, installed through token exchange if it was not connected.
    `TokenExchangeRefused` when Shopify will not grant a usable token."""
    task = asyncio.create_task(
        _exchange_once(settings, http, shop, session_token),
        name=f"token-exchange:{shop}",
        context=contextvars.Context(),  # not the request's database deadline
    )
    _EXCHANGES.add(task)
    task.add_done_callback(_EXCHANGES.discard)
    return await asyncio.shield(task)


async def _exchange_once(
    settings: Settings, http: httpx.AsyncClient, shop: str, session_token: str
) -> str:
    budget = settings.mongodb_request_timeout_seconds
    holder = uuid.uuid4().hex
    give_up_at = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while True:
        with pymongo.timeout(budget):
            tenant_id = await connected_tenant(shop)
            if tenant_id is not None:
                return tenant_id  # another request (or process) installed it meanwhile
            if await _take_lease(shop, holder):
                break
        if time.monotonic() > give_up_at:
            raise TokenExchangeRefused("the shop is being installed: retry in a moment")
        await asyncio.sleep(0.1)
    try:
        with pymongo.timeout(budget):
            tenant_id = await connected_tenant(shop)  # finished just before we took the lease
        if tenant_id is not None:
            return tenant_id
        return await _exchange_and_install(settings, http, shop, session_token)
    finally:
        with pymongo.timeout(budget):
            await _release_lease(shop, holder)


async def _exchange_and_install(
    settings: Settings, http: httpx.AsyncClient, shop: str, session_token: str
) -> str:
    try:
        grant = await exchange_session_token(
            http,
            settings.shopify_admin_base_url,
            shop,
            settings.shopify_api_key,
            settings.shopify_api_secret,
            session_token,
        )
    except ShopifyOAuthError as exc:
        logger.warning("token exchange refused for %s: %s", shop, exc.error or exc.status_code)
        raise TokenExchangeRefused("Shopify refused the session token exchange") from exc
    except ShopifyUnavailableError as exc:
        logger.warning("token exchange for %s failed: %s", shop, type(exc).__name__)
        raise TokenExchangeRefused("Shopify could not be reached to install the app") from exc
    missing = missing_scopes(settings.shopify_scopes, parse_scopes(grant.scope))
    if missing:
        raise TokenExchangeRefused("the app was not granted: " + ", ".join(missing))
    started = await start_installed_shop(settings, http, shop, grant)
    logger.info("shop installed by token exchange", extra={"shop": shop})
    return started.tenant_id
