"""Per-tenant Admin API clients and the stored, self-refreshing offline token behind them.

`admin_client_for(tenant_id, settings, http)` is what every caller of the Admin API uses. Its
token source (`StoredTokenSource`) decrypts the stored access token, refreshes it a few minutes
before `expires_at` (or after Shopify answered 401) and stores the new pair encrypted.

A refresh token can be used once: Shopify revokes the old pair when it issues a new one. So a
refresh happens once however many callers need it at the same time:
- in a process, callers of one tenant queue on one asyncio.Lock and re-read after it;
- across processes, the refresher first takes a lease (`token_refresh_lease_until`, an atomic
  `find_one_and_update` that also requires the token it saw to still be the stored one); the
  others poll the record until the token changes (or the lease lapses) and use the new one.

Once Shopify has issued the new pair the old one is dead, so the refresh and the store of its
result run as one task shielded from the caller's cancellation (a canceled sync run or a
disconnected client must not drop the only valid pair), outside any request's database deadline,
and the store is retried while the database is unreachable (`STORE_PATIENCE`): a database crash
right after Shopify answered must not lose the pair. The store only replaces the pair the
refresh started from, on a connected integration: an `app/uninstalled` or a re-install that
landed meanwhile wins. A refresh Shopify refuses because another process already used the same
refresh token (a refresh that outlived its lease) returns the token that process stored.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from app.clock import utcnow
from app.config import Settings
from app.models import ShopifyIntegration
from app.models.database_errors import is_database_unavailable
from app.models.integration import IntegrationStatus
from app.services.integration.token_cipher import TokenCipher, TokenDecryptionError
from app.shopify.client import ShopifyAdminClient
from app.shopify.errors import ShopifyAuthError, ShopifyOAuthError, ShopifyUnavailableError
from app.shopify.oauth_client import TokenGrant, refresh_access_token
from app.shopify.tokens import TokenSource

logger = logging.getLogger(__name__)

# Refresh this long before Shopify's `expires_at`, so a call never starts with a dying token.
REFRESH_MARGIN = timedelta(minutes=5)
# How long one process may hold the refresh lease (a refresh is one HTTP call).
REFRESH_LEASE = timedelta(seconds=30)
# The OAuth refresh call gives up after this long (at most a third of the lease), so the lease
# does not lapse while a refresh is still in flight.
REFRESH_HTTP_TIMEOUT = 10.0
# How a caller that lost the lease waits for the winner's new token.
LEASE_POLL_FIRST = 0.02
LEASE_POLL_MAX = 0.25
# How long a refreshed pair is offered to an unreachable database before it is given up (the
# old pair is already revoked: giving up means the merchant has to reinstall).
STORE_PATIENCE = timedelta(minutes=10)
STORE_RETRY_FIRST = 0.1
STORE_RETRY_MAX = 5.0


class IntegrationNotConnected(Exception):
    """The tenant has no connected Shopify integration (never installed, uninstalled, disconnected)."""

    def __init__(self, tenant_id: str, status: str | None = None) -> None:
        detail = "no Shopify integration" if status is None else f"Shopify integration is {status}"
        super().__init__(f"{tenant_id}: {detail}")
        self.tenant_id = tenant_id
        self.status = status


class TokenRefreshFailed(ShopifyAuthError):
    """The stored token could not be refreshed (refresh token refused, undecryptable, no lease)."""


@dataclass(frozen=True, slots=True)
class StoredToken:
    """The stored pair as read from `integrations_shopify` (ciphertext, as stored)."""

    ciphertext: str
    expires_at: datetime | None
    refresh_ciphertext: str | None
    lease_until: datetime | None


# One lock per tenant and event loop (an asyncio.Lock must not be shared between loops).
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


# Refresh tasks running shielded from their callers; a strong reference until each is done.
_REFRESH_TASKS: set[asyncio.Task[str]] = set()


def _refresh_task_done(task: asyncio.Task[str]) -> None:
    _REFRESH_TASKS.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Retrieved here so a refresh whose caller was canceled does not log "never retrieved".
        logger.info("token refresh finished with %r", task.exception())


def tenant_refresh_lock(tenant_id: str) -> asyncio.Lock:
    """The process-wide refresh lock of a tenant (for the running event loop)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(tenant_id)
    if lock is None:
        lock = locks[tenant_id] = asyncio.Lock()
    return lock


def grant_fields(grant: TokenGrant, cipher: TokenCipher) -> dict[str, Any]:
    """The `$set` of a token grant: both tokens encrypted, both expiries."""
    return {
        "access_token": cipher.encrypt(grant.access_token),
        "refresh_token": cipher.encrypt(grant.refresh_token) if grant.refresh_token else None,
        "expires_at": grant.expires_at,
        "refresh_token_expires_at": grant.refresh_token_expires_at,
    }


class StoredTokenSource:
    """The Admin client's `TokenSource`, backed by `integrations_shopify` (see module doc)."""

    def __init__(
        self,
        tenant_id: str,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        lock: asyncio.Lock | None = None,
        owner: str | None = None,
        margin: timedelta = REFRESH_MARGIN,
        lease: timedelta = REFRESH_LEASE,
    ) -> None:
        self.tenant_id = tenant_id
        self._settings = settings
        self._http = http
        self._cipher = TokenCipher(settings.encryption_keys)
        self._lock = lock
        self.owner = owner or f"refresh-{secrets.token_hex(6)}"
        self._margin = margin
        self._lease = lease
        self._http_timeout = min(REFRESH_HTTP_TIMEOUT, lease.total_seconds() / 3)
        self.refreshes = 0  # refreshes this source performed itself (for tests and logs)

    # TokenSource ---------------------------------------------------------------------------
    async def access_token(self) -> str:
        """The stored token, refreshed first when it expires within the margin."""
        stored, _ = await self._load()
        if not self._expiring(stored):
            return self._decrypt(stored.ciphertext)
        return await self._refresh_single_flight(rejected=None)

    async def refresh(self, rejected_token: str) -> str:
        """A token other than `rejected_token`: the one another caller stored, or a new one."""
        return await self._refresh_single_flight(rejected=rejected_token)

    # Internals -----------------------------------------------------------------------------
    def _lock_for_tenant(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = tenant_refresh_lock(self.tenant_id)
        return self._lock

    def _expiring(self, stored: StoredToken) -> bool:
        return stored.expires_at is not None and stored.expires_at - self._margin <= utcnow()

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return self._cipher.decrypt(ciphertext)
        except TokenDecryptionError as exc:
            raise TokenRefreshFailed(
                "the stored access token cannot be decrypted with ENCRYPTION_KEYS"
            ) from exc

    def _usable(self, stored: StoredToken, rejected: str | None) -> str | None:
        """The stored token if it satisfies this caller, else None (a refresh is needed)."""
        if self._expiring(stored):
            return None
        current = self._decrypt(stored.ciphertext)
        return None if current == rejected else current

    async def _load(self) -> tuple[StoredToken, str]:
        doc = await ShopifyIntegration.get_pymongo_collection().find_one(
            {"tenant_id": self.tenant_id},
            {
                "status": 1,
                "shop_domain": 1,
                "access_token": 1,
                "refresh_token": 1,
                "expires_at": 1,
                "token_refresh_lease_until": 1,
            },
        )
        if doc is None:
            raise IntegrationNotConnected(self.tenant_id)
        if doc.get("status") != IntegrationStatus.CONNECTED.value or not doc.get("access_token"):
            raise IntegrationNotConnected(self.tenant_id, str(doc.get("status")))
        stored = StoredToken(
            ciphertext=str(doc["access_token"]),
            expires_at=doc.get("expires_at"),
            refresh_ciphertext=doc.get("refresh_token"),
            lease_until=doc.get("token_refresh_lease_until"),
        )
        return stored, str(doc["shop_domain"])

    async def _refresh_single_flight(self, rejected: str | None) -> str:
        async with self._lock_for_tenant():
            deadline = time.monotonic() + 2 * self._lease.total_seconds()
            delay = LEASE_POLL_FIRST
            while True:
                stored, shop = await self._load()
                token = self._usable(stored, rejected)
                if token is not None:
                    return token  # another caller (or process) already refreshed
                if await self._take_lease(stored):
                    return await self._refresh_under_lease(stored, shop)
                if time.monotonic() > deadline:
                    raise TokenRefreshFailed(
                        "timed out waiting for another process to refresh the token",
                        shop=shop,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LEASE_POLL_MAX)

    async def _take_lease(self, stored: StoredToken) -> bool:
        now = utcnow()
        won = await ShopifyIntegration.get_pymongo_collection().find_one_and_update(
            {
                "tenant_id": self.tenant_id,
                "status": IntegrationStatus.CONNECTED.value,
                "access_token": stored.ciphertext,
                "$or": [
                    {"token_refresh_lease_until": None},
                    {"token_refresh_lease_until": {"$lte": now}},
                ],
            },
            {
                "$set": {
                    "token_refresh_lease_until": now + self._lease,
                    "token_refresh_lease_owner": self.owner,
                }
            },
            projection={"_id": 1},
            return_document=ReturnDocument.AFTER,
        )
        return won is not None

    async def _release_lease(self, error: str | None) -> None:
        update: dict[str, Any] = {
            "token_refresh_lease_until": None,
            "token_refresh_lease_owner": None,
        }
        if error is not None:
            update["last_error"] = error
            update["updated_at"] = utcnow()
        await ShopifyIntegration.get_pymongo_collection().update_one(
            {"tenant_id": self.tenant_id, "token_refresh_lease_owner": self.owner},
            {"$set": update},
        )

    async def _refresh_under_lease(self, stored: StoredToken, shop: str) -> str:
        """Refresh and store as one task the caller's cancellation cannot interrupt."""
        # A fresh context: the task must not inherit the calling request's database deadline.
        task = asyncio.create_task(
            self._refresh_and_store(stored, shop),
            name=f"token-refresh:{self.tenant_id}",
            context=contextvars.Context(),
        )
        _REFRESH_TASKS.add(task)
        task.add_done_callback(_refresh_task_done)
        return await asyncio.shield(task)

    async def _request_grant(self, stored: StoredToken, shop: str) -> TokenGrant:
        if not stored.refresh_ciphertext:
            raise TokenRefreshFailed(
                "no refresh token stored (a non-expiring token?): reinstall the app", shop=shop
            )
        refresh_token = self._decrypt(stored.refresh_ciphertext)
        settings = self._settings
        try:
            async with asyncio.timeout(self._http_timeout):
                return await refresh_access_token(
                    self._http,
                    settings.shopify_admin_base_url,
                    shop,
                    settings.shopify_api_key,
                    settings.shopify_api_secret,
                    refresh_token,
                )
        except TimeoutError as exc:
            raise ShopifyUnavailableError(
                f"token refresh timed out after {self._http_timeout:.0f}s", shop=shop
            ) from exc

    async def _stored_since(self, stored: StoredToken) -> str | None:
        """The stored access token if it is no longer the one `stored` saw, else None."""
        current, _ = await self._load()
        if current.ciphertext == stored.ciphertext:
            return None
        return self._decrypt(current.ciphertext)

    async def _store_grant(self, stored: StoredToken, grant: TokenGrant, shop: str) -> bool:
        """Store the new pair over the one the refresh started from; `False` when the
        integration changed meanwhile. Not conditional on the lease (Shopify has already revoked
        the old pair, so this one is the only valid one whatever happened to the lease), but only
        over the pair it replaces on a connected integration: an uninstall or re-install since
        wins. Retried while the database is unreachable, for up to `STORE_PATIENCE`."""
        deadline = time.monotonic() + STORE_PATIENCE.total_seconds()
        delay = STORE_RETRY_FIRST
        while True:
            now = utcnow()
            try:
                result = await ShopifyIntegration.get_pymongo_collection().update_one(
                    {
                        "tenant_id": self.tenant_id,
                        "status": IntegrationStatus.CONNECTED.value,
                        "access_token": stored.ciphertext,
                    },
                    {
                        "$set": {
                            **grant_fields(grant, self._cipher),
                            "token_refreshed_at": now,
                            "token_refresh_lease_until": None,
                            "token_refresh_lease_owner": None,
                            "last_error": None,
                            "updated_at": now,
                        }
                    },
                )
                return bool(result.matched_count)
            except PyMongoError as exc:
                if not is_database_unavailable(exc):
                    raise  # a refusal (validation, authorization): retrying cannot help
                if time.monotonic() + delay > deadline:
                    logger.error(
                        "a refreshed Shopify token could not be stored: the database stayed "
                        "unreachable; the merchant must reinstall the app",
                        extra={"tenant_id": self.tenant_id, "shop": shop},
                    )
                    raise
                logger.warning(
                    "storing a refreshed Shopify token failed (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                    extra={"tenant_id": self.tenant_id, "shop": shop},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX)

    async def _refresh_and_store(self, stored: StoredToken, shop: str) -> str:
        try:
            grant = await self._request_grant(stored, shop)
        except ShopifyOAuthError as exc:
            # Another process may have refreshed with the same refresh token after our lease
            # lapsed: then the pair it stored is the valid one.
            try:
                replaced = await self._stored_since(stored)
            except BaseException:
                await self._release_lease(None)
                raise
            if replaced is not None:
                await self._release_lease(None)
                return replaced
            await self._release_lease(f"token refresh refused: {exc.error or exc.status_code}")
            raise TokenRefreshFailed(
                f"Shopify refused the token refresh ({exc.error or exc.status_code}); "
                "the merchant must reinstall the app",
                shop=shop,
                status_code=exc.status_code,
            ) from exc
        except TokenRefreshFailed as exc:
            await self._release_lease(str(exc))
            raise
        except BaseException:
            await self._release_lease(None)
            raise
        if not await self._store_grant(stored, grant, shop):
            await self._release_lease(None)
            logger.warning(
                "shopify token refreshed but the integration changed meanwhile; not stored",
                extra={"tenant_id": self.tenant_id, "shop": shop},
            )
            # Uninstalled or disconnected: IntegrationNotConnected. Re-installed (or another
            # process stored a newer pair): that token.
            current, _ = await self._load()
            return self._decrypt(current.ciphertext)
        self.refreshes += 1
        logger.info("shopify token refreshed", extra={"tenant_id": self.tenant_id, "shop": shop})
        return grant.access_token


async def connected_integration(tenant_id: str) -> ShopifyIntegration:
    """The tenant's integration if it is connected, else `IntegrationNotConnected`."""
    integration = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    if integration is None:
        raise IntegrationNotConnected(tenant_id)
    if integration.status != IntegrationStatus.CONNECTED or not integration.access_token:
        raise IntegrationNotConnected(tenant_id, integration.status.value)
    return integration


class TokenReadOnce:
    """A token source that reads the stored token once, for a client used a few seconds (the
    returns mirror's few Admin calls for one return) rather than before every call. A token
    Shopify refuses (401: refreshed or revoked meanwhile) goes through the stored source's
    refresh, which reads the stored pair again (and finds the integration disconnected, if it
    was)."""

    def __init__(self, source: TokenSource) -> None:
        self._source = source
        self._token: str | None = None

    async def access_token(self) -> str:
        if self._token is None:
            self._token = await self._source.access_token()
        return self._token

    async def refresh(self, rejected_token: str) -> str:
        self._token = await self._source.refresh(rejected_token)
        return self._token


async def admin_client_for(
    tenant_id: str, settings: Settings, http: httpx.AsyncClient, *, read_token_once: bool = False
) -> ShopifyAdminClient:
    """An Admin GraphQL client for the tenant's shop, with a stored self-refreshing token
    (`read_token_once`: read once for the client's life, `TokenReadOnce`).

    Raises `IntegrationNotConnected` when the tenant has no connected integration. Cheap to
    call; keep one client for a whole job so its cost-bucket estimate carries across calls.
    """
    integration = await connected_integration(tenant_id)
    stored = StoredTokenSource(tenant_id, settings, http)
    return ShopifyAdminClient(
        shop_domain=integration.shop_domain,
        api_version=settings.shopify_api_version,
        admin_base_template=settings.shopify_admin_base_url,
        token_source=TokenReadOnce(stored) if read_token_once else stored,
        http=http,
    )
