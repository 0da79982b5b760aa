"""Asking Shopify, with the shop's stored token, whether what an unsigned header claims is true.

The HMAC proves a body came from Shopify once, not which shop it is about now or when it was
sent: `X-Shopify-Shop-Domain` and `X-Shopify-Triggered-At` are not signed. Where acting on them
would do harm, a handler asks Shopify first, with one cheap Admin API call:

- `app/uninstalled`: `shop { id }` with the stored token. Shopify revokes an app's tokens when
  it is uninstalled, so a token that still works means the shop has the app (a stale or
  replayed uninstall); a 401 that a refresh does not cure, or a refresh Shopify refuses, means
  the uninstall is real (marking it is undone by a reinstall).
- `shop/redact` for a shop still connected here: erasing cannot be undone, so only the proof
  counts (`stored_token_revoked`): Shopify refusing a stored access token that has not expired
  and then refusing its refresh. An expired token is not tried (a refresh token can lapse on
  its own), and a 401 a refresh cures is no revocation: the redaction is refused and a person
  looks.
- `app/scopes_update`: `currentAppInstallation { accessScopes }`: the scopes granted now, so a
  body replayed (or re-sent under another shop's header) can only store the truth.
- `returns/*`: `return(id:)`: the return as it is now, whatever the topic or body said.
- `orders/*` for an order this tenant does not hold yet: `order(id:)` with the tenant's token.
  Order ids are global, so only the shop the order belongs to knows it.

Shopify unreachable, throttling or answering 5xx: `ShopifyUnreachable`, a `HandlerError`, so the
event is retried with back-off and nothing is done blindly meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.models import ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration.integrations import parse_scopes
from app.services.integration.session import (
    IntegrationNotConnected,
    StoredTokenSource,
    TokenRefreshFailed,
)
from app.services.integration.token_cipher import TokenCipher, TokenDecryptionError
from app.services.webhooks.context import HandlerError, WebhookContext
from app.shopify.client import RetryPolicy, ShopifyAdminClient
from app.shopify.documents.returns import SHOPIFY_RETURN
from app.shopify.documents.shop import GRANTED_SCOPES, INSTALLATION_CHECK, ORDER_CHECK
from app.shopify.errors import (
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyOAuthError,
    ShopifyThrottledError,
    ShopifyUnavailableError,
)
from app.shopify.http import make_shopify_http

logger = logging.getLogger("app.webhooks")

# Few attempts inside one check: the event's own retry (with back-off) is the long wait, and the
# check must end well inside the event's lease.
CHECK_RETRY = RetryPolicy(
    max_attempts=2,
    max_throttle_attempts=5,
    max_backoff=2.0,
    max_retry_time=15.0,
    connect_timeout=3.0,
    read_timeout=10.0,
)
ORDER_GID_PREFIX = "gid://shopify/Order/"
# A token this close to its expiry may be refused for its age, which proves nothing.
UNEXPIRED_MARGIN = timedelta(minutes=1)


class ShopifyUnreachable(HandlerError):
    """Shopify could not be asked right now: retry the event later, act on nothing meanwhile."""


class CannotVerify(Exception):
    """Shopify cannot be asked with this shop's credentials (none stored, refused, access
    denied): the claim stays unproven and the event is not applied."""


class StoredTokenRefused(CannotVerify):
    """Shopify refused the stored token (a 401 a refresh did not cure, or the refresh refused)."""


class _NothingToRefreshWith(Exception):
    """A 401 for the stored token and no refresh token stored."""


@dataclass(frozen=True, slots=True)
class _StoredCredentials:
    shop_domain: str
    access_ciphertext: str
    has_refresh_token: bool
    expires_at: datetime | None


class _StoredTokenProbe:
    """The Admin client's token source for a check: the stored token as it is (the check is
    about this very token, so no refresh ahead of its expiry); after a 401, the stored source's
    refresh (single flight across processes, and stored)."""

    def __init__(
        self, context: WebhookContext, http: httpx.AsyncClient, token: str, refreshable: bool
    ) -> None:
        self._context = context
        self._http = http
        self._token = token
        self._refreshable = refreshable

    async def access_token(self) -> str:
        return self._token

    async def refresh(self, rejected_token: str) -> str:
        if not self._refreshable:
            raise _NothingToRefreshWith
        source = StoredTokenSource(self._context.tenant_id, self._context.settings, self._http)
        return await source.refresh(rejected_token)


async def _stored_credentials(tenant_id: str) -> _StoredCredentials:
    doc = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id},
        {"status": 1, "shop_domain": 1, "access_token": 1, "refresh_token": 1, "expires_at": 1},
    )
    if doc is None:
        raise IntegrationNotConnected(tenant_id)
    if doc.get("status") != IntegrationStatus.CONNECTED.value or not doc.get("access_token"):
        raise IntegrationNotConnected(tenant_id, str(doc.get("status")))
    return _StoredCredentials(
        shop_domain=str(doc["shop_domain"]),
        access_ciphertext=str(doc["access_token"]),
        has_refresh_token=bool(doc.get("refresh_token")),
        # The client is tz-aware (app.db), so a stored time comes back aware.
        expires_at=expires if isinstance(expires := doc.get("expires_at"), datetime) else None,
    )


@asynccontextmanager
async def _shopify_http(context: WebhookContext) -> AsyncIterator[httpx.AsyncClient]:
    if context.shopify_http is not None:
        yield context.shopify_http
        return
    async with make_shopify_http() as http:
        yield http


def _refused_refresh(exc: TokenRefreshFailed) -> bool:
    """Shopify's token endpoint refused the stored refresh token (revoked on uninstall).
    `invalid_client` is our own credentials being wrong, which says nothing about the shop."""
    cause = exc.__cause__
    return isinstance(cause, ShopifyOAuthError) and cause.error != "invalid_client"


async def _ask(
    context: WebhookContext,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    stored: _StoredCredentials | None = None,
) -> dict[str, Any]:
    """One Admin API call with the stored token (refreshed after a 401). Raises
    `IntegrationNotConnected` (no token stored), `StoredTokenRefused`, `ShopifyUnreachable`,
    `HandlerError` (we cannot use the token), `ShopifyAuthError` (403) or `ShopifyGraphQLError`
    (Shopify answered, with errors)."""
    if stored is None:
        stored = await _stored_credentials(context.tenant_id)
    try:
        token = TokenCipher(context.settings.encryption_keys).decrypt(stored.access_ciphertext)
    except TokenDecryptionError as exc:
        raise HandlerError(
            "the stored access token cannot be decrypted with ENCRYPTION_KEYS"
        ) from exc
    settings = context.settings
    async with _shopify_http(context) as http:
        client = ShopifyAdminClient(
            shop_domain=stored.shop_domain,
            api_version=settings.shopify_api_version,
            admin_base_template=settings.shopify_admin_base_url,
            token_source=_StoredTokenProbe(context, http, token, stored.has_refresh_token),
            http=http,
            retry=CHECK_RETRY,
        )
        try:
            return await client.execute(query, variables)
        except _NothingToRefreshWith as exc:
            raise StoredTokenRefused(
                "Shopify answered 401 and the token was not refreshed"
            ) from exc
        except TokenRefreshFailed as exc:
            if _refused_refresh(exc):
                raise StoredTokenRefused(f"Shopify refused the token refresh: {exc}") from exc
            raise HandlerError(f"the stored token could not be refreshed: {exc}") from exc
        except ShopifyAuthError as exc:
            if exc.status_code == 401:
                raise StoredTokenRefused("Shopify answered 401 to a refreshed token") from exc
            raise
        except (ShopifyUnavailableError, ShopifyThrottledError) as exc:
            raise ShopifyUnreachable(f"Shopify could not be asked: {exc}") from exc


async def stored_token_accepted(context: WebhookContext) -> bool:
    """Whether Shopify still accepts the shop's stored token, i.e. still has the app installed.

    One `shop { id }` call. True when Shopify answered as to an authenticated app (a 403 or a
    GraphQL error included); False when it refused the token. Raises `IntegrationNotConnected`
    when no token is stored and `ShopifyUnreachable` when Shopify could not be asked.
    """
    try:
        await _ask(context, INSTALLATION_CHECK)
    except StoredTokenRefused as exc:
        logger.info("installation check: %s", exc, extra={"tenant_id": context.tenant_id})
        return False
    except (ShopifyAuthError, ShopifyGraphQLError):
        return True  # authenticated, only not allowed or not answered in full
    return True


async def stored_token_revoked(context: WebhookContext) -> bool:
    """Whether Shopify revoked the shop's credentials: it refused the stored access token before
    its expiry, and then refused its refresh too (Shopify revokes both when the app is
    uninstalled). One `shop { id }` call, and a refresh only after a 401. A token that expired
    (or expires within a minute) proves nothing and is not tried; a 401 that a refresh cures (a
    token another worker just rotated, or one Shopify retired early) is not a revocation.
    Raises `IntegrationNotConnected` when no token is stored and `ShopifyUnreachable` when
    Shopify could not be asked."""
    stored = await _stored_credentials(context.tenant_id)
    if stored.expires_at is not None and stored.expires_at <= context.now + UNEXPIRED_MARGIN:
        return False
    try:
        await _ask(context, INSTALLATION_CHECK, stored=stored)
    except StoredTokenRefused as exc:
        logger.info("revocation check: %s", exc, extra={"tenant_id": context.tenant_id})
        return True
    except (ShopifyAuthError, ShopifyGraphQLError):
        return False
    return False


async def granted_scopes(context: WebhookContext) -> list[str]:
    """The scopes the shop grants the app now, as Shopify says (one call). Raises like `_ask`."""
    data = await _ask(context, GRANTED_SCOPES)
    installation = data.get("currentAppInstallation") or {}
    return parse_scopes(
        str(scope["handle"])
        for scope in installation.get("accessScopes") or []
        if isinstance(scope, dict) and scope.get("handle")
    )


async def _look_up(
    context: WebhookContext, query: str, gid: str, key: str
) -> dict[str, Any] | None:
    """The object `gid` as Shopify shows it (`data[key]`), or None if this shop has no such
    object. Raises `CannotVerify` when the shop's credentials cannot ask (no token stored, the
    token refused, access denied, e.g. an order older than `read_orders` lets us see),
    `ShopifyUnreachable` to retry later."""
    try:
        data = await _ask(context, query, {"id": gid})
    except IntegrationNotConnected as exc:
        raise CannotVerify(f"integration is {exc.status or 'missing'}") from exc
    except ShopifyAuthError as exc:  # 403: the token lacks the scope
        raise CannotVerify(f"Shopify denied the {key} lookup (HTTP {exc.status_code})") from exc
    except ShopifyGraphQLError as exc:
        if "ACCESS_DENIED" in exc.codes:
            raise CannotVerify(f"Shopify denied access to the {key}") from exc
        raise HandlerError(f"the {key} lookup failed: {exc}") from exc
    found = data.get(key)
    return found if isinstance(found, dict) and found.get("id") == gid else None


async def shopify_return_now(context: WebhookContext, return_gid: str) -> dict[str, Any] | None:
    """The return as Shopify shows it now (`SHOPIFY_RETURN`), or None if Shopify has no such
    return for this shop. Raises like `_look_up`."""
    return await _look_up(context, SHOPIFY_RETURN, return_gid, "return")


async def shop_has_order(context: WebhookContext, order_id: str) -> bool:
    """Whether the tenant's shop has the order `order_id` (one `order(id:)` call). Raises like
    `_look_up`."""
    gid = f"{ORDER_GID_PREFIX}{order_id}"
    return await _look_up(context, ORDER_CHECK, gid, "order") is not None
