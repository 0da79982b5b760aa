"""The Shopify install (OAuth authorization-code grant): state nonces, the callback, first sync.

Every check of the callback (parameters, shop domain, HMAC, state) runs before anything is
written; the state is consumed atomically (find_one_and_delete bound to shop and expiry), so a
second callback with the same state is refused. Then the code is exchanged and the granted
scopes are compared with SHOPIFY_SCOPES. Only after all of that are the tenant, the
integration, the webhooks and the first sync job written.

Granted scopes missing one of SHOPIFY_SCOPES: the install is refused (403, nothing written),
because a sync without e.g. `read_orders` would only fail later and less clearly; `write_x`
counts as `read_x`, as Shopify implies it and may list only the write scope.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

import httpx
import pymongo

from app.clock import utcnow
from app.config import Settings
from app.models import OAuthState, SyncJob
from app.models.sync_job import SyncType
from app.models.tenant import tenant_id_for_shop
from app.services.integration.integrations import connect_integration, missing_scopes, parse_scopes
from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain
from app.services.integration.webhook_subscriptions import (
    WebhookReport,
    ensure_webhook_subscriptions,
    record_webhook_failure,
)
from app.services.sync.jobs import queue_sync
from app.services.tenants import ensure_tenant
from app.shopify.errors import ShopifyOAuthError, ShopifyUnavailableError
from app.shopify.hmac import verify_oauth_query
from app.shopify.oauth_client import TokenGrant, exchange_code

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# A signed install link or callback is used within seconds of Shopify signing it; an older one
# is a replay (a leaked URL). Shopify's clock and ours may differ by a little either way.
SIGNED_REQUEST_MAX_AGE = timedelta(minutes=5)
SIGNED_REQUEST_MAX_AHEAD = timedelta(minutes=1)
_EPOCH_SECONDS = re.compile(r"[0-9]{1,11}")  # ASCII digits only, before year 5000
INITIAL_SYNC_DAYS = 60  # `read_orders` covers the last 60 days
# The merchant's browser waits on the callback: registration gets this long, then the install
# completes anyway with the error recorded (repair with `registerShopifyWebhooks`).
INSTALL_WEBHOOK_TIMEOUT_SECONDS = 20.0


class InstallErrorCode(StrEnum):
    """Why an install step was refused (the HTTP edge picks the status for each)."""

    DUPLICATE_PARAMETER = "duplicate_parameter"
    INVALID_SHOP = "invalid_shop"
    MISSING_HMAC = "missing_hmac"
    INVALID_HMAC = "invalid_hmac"
    MISSING_PARAMETER = "missing_parameter"
    INVALID_STATE = "invalid_state"
    CODE_EXCHANGE_REFUSED = "code_exchange_refused"
    SHOPIFY_UNAVAILABLE = "shopify_unavailable"
    MISSING_SCOPES = "missing_scopes"
    STALE_REQUEST = "stale_request"


class InstallError(Exception):
    """A refused install step: `code` says why, `message` tells the merchant."""

    def __init__(self, code: InstallErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class InstallResult:
    tenant_id: str
    shop: str
    redirect_url: str  # where the browser goes next
    webhooks: WebhookReport | None
    sync_job_id: str | None  # None when a sync job was already active


Query = Iterable[tuple[str, str]]


def _single_valued(pairs: Query) -> dict[str, str]:
    """Query parameters as a dict; a repeated name is refused (which value would be signed?)."""
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise InstallError(
                InstallErrorCode.DUPLICATE_PARAMETER, f"parameter `{key}` given twice"
            )
        params[key] = value
    return params


def _shop(params: dict[str, str]) -> str:
    try:
        return normalize_shop_domain(params.get("shop"))
    except InvalidShopDomain as exc:
        raise InstallError(InstallErrorCode.INVALID_SHOP, str(exc)) from exc


def _check_hmac(params: dict[str, str], settings: Settings) -> None:
    if not params.get("hmac"):
        raise InstallError(InstallErrorCode.MISSING_HMAC, "the request is not signed (no `hmac`)")
    if not verify_oauth_query(params.items(), settings.shopify_api_secret):
        raise InstallError(
            InstallErrorCode.INVALID_HMAC, "the request signature (`hmac`) does not verify"
        )
    _check_fresh(params.get("timestamp"))


def _check_fresh(timestamp: str | None) -> None:
    """The signed `timestamp` (seconds since the epoch) is recent: a replayed link is refused."""
    if timestamp is None or not _EPOCH_SECONDS.fullmatch(timestamp):
        raise InstallError(
            InstallErrorCode.STALE_REQUEST, "the signed request has no valid `timestamp`"
        )
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    now = utcnow()
    if not now - SIGNED_REQUEST_MAX_AGE <= signed_at <= now + SIGNED_REQUEST_MAX_AHEAD:
        raise InstallError(
            InstallErrorCode.STALE_REQUEST,
            "the signed request is not recent (older than 5 minutes): start the install again",
        )


def authorize_url(settings: Settings, shop: str, state: str) -> str:
    query = urlencode(
        {
            "client_id": settings.shopify_api_key,
            "scope": ",".join(settings.shopify_scopes),
            "redirect_uri": settings.oauth_redirect_uri,
            "state": state,
        }
    )
    return f"{settings.admin_base_url(shop)}/admin/oauth/authorize?{query}"


def app_home_url(settings: Settings, shop: str, host: str | None = None) -> str:
    """Where the merchant lands after installing.

    SHOPIFY_APP_HOME_URL when set (with `shop` and `host` appended for the embedded front end);
    in development GraphiQL (`{APP_URL}/graphql`); otherwise the app inside the shop's admin.
    """
    if settings.shopify_app_home_url:
        extra = {"shop": shop, **({"host": host} if host else {})}
        separator = "&" if "?" in settings.shopify_app_home_url else "?"
        return f"{settings.shopify_app_home_url}{separator}{urlencode(extra)}"
    if settings.environment == "development":
        return f"{settings.app_url}/graphql"
    return f"https://{shop}/admin/apps/{settings.shopify_api_key}"


async def issue_state(shop: str) -> str:
    """A random single-use nonce bound to `shop`, valid for STATE_TTL (MongoDB's TTL drops it)."""
    state = secrets.token_urlsafe(32)
    now = utcnow()
    await OAuthState(state=state, shop=shop, created_at=now, expires_at=now + STATE_TTL).insert()
    return state


async def consume_state(state: str, shop: str) -> bool:
    """Atomically take the state if it exists, is unexpired and bound to `shop`."""
    taken = await OAuthState.get_pymongo_collection().find_one_and_delete(
        {"state": state, "shop": shop, "expires_at": {"$gt": utcnow()}}, projection={"_id": 1}
    )
    return taken is not None


async def clear_states(*, expired_only: bool = False) -> int:
    """Delete OAuth states (the runbook's "clear OAuth cache"); returns how many."""
    query = {"expires_at": {"$lte": utcnow()}} if expired_only else {}
    result = await OAuthState.get_pymongo_collection().delete_many(query)
    return int(result.deleted_count)


async def start_install(settings: Settings, query: Query) -> str:
    """Validate an install request and return the authorize URL to redirect to.

    Shopify signs the install link (`shop`, `timestamp`, `hmac`, `host`); when `hmac` is
    present it must verify. A bare `?shop=` (typed by a merchant or an operator) is allowed.
    """
    params = _single_valued(query)
    shop = _shop(params)
    if "hmac" in params:
        _check_hmac(params, settings)
    state = await issue_state(shop)
    return authorize_url(settings, shop, state)


async def queue_initial_sync(tenant_id: str) -> SyncJob | None:
    """Queue the first full sync (60 days); `None` if the tenant already has an active job."""
    queued = await queue_sync(tenant_id, SyncType.FULL, INITIAL_SYNC_DAYS, requested_by="install")
    return queued.job if queued.created else None


async def complete_install(
    settings: Settings, http: httpx.AsyncClient, query: Query
) -> InstallResult:
    """Handle `/callback`: verify, exchange the code, connect, register webhooks, queue a sync."""
    params = _single_valued(query)
    shop = _shop(params)
    _check_hmac(params, settings)
    code, state = params.get("code"), params.get("state")
    if not code or not state:
        raise InstallError(InstallErrorCode.MISSING_PARAMETER, "`code` and `state` are required")
    # Each database step gets the request's database budget; the Shopify calls between them
    # have their own timeouts and must not use it up.
    deadline = settings.mongodb_request_timeout_seconds
    with pymongo.timeout(deadline):
        consumed = await consume_state(state, shop)
    if not consumed:
        raise InstallError(
            InstallErrorCode.INVALID_STATE, "unknown, expired, already used or other-shop `state`"
        )
    try:
        grant = await exchange_code(
            http,
            settings.shopify_admin_base_url,
            shop,
            settings.shopify_api_key,
            settings.shopify_api_secret,
            code,
        )
    except ShopifyOAuthError as exc:
        logger.warning("code exchange refused for %s: %s", shop, exc.error or exc.status_code)
        raise InstallError(
            InstallErrorCode.CODE_EXCHANGE_REFUSED,
            f"Shopify refused the authorization code ({exc.error})",
        ) from exc
    except ShopifyUnavailableError as exc:
        logger.warning("code exchange for %s failed: %s", shop, type(exc).__name__)
        raise InstallError(
            InstallErrorCode.SHOPIFY_UNAVAILABLE,
            "Shopify could not be reached to complete the install",
        ) from exc
    missing = missing_scopes(settings.shopify_scopes, parse_scopes(grant.scope))
    if missing:
        raise InstallError(
            InstallErrorCode.MISSING_SCOPES, "the install did not grant: " + ", ".join(missing)
        )

    started = await start_installed_shop(settings, http, shop, grant)
    return InstallResult(
        tenant_id=started.tenant_id,
        shop=shop,
        redirect_url=app_home_url(settings, shop, params.get("host")),
        webhooks=started.webhooks,
        sync_job_id=str(started.job.id) if started.job is not None else None,
    )


@dataclass(frozen=True, slots=True)
class StartedShop:
    tenant_id: str
    webhooks: WebhookReport | None
    job: SyncJob | None  # the first sync; None when one was already active


async def start_installed_shop(
    settings: Settings, http: httpx.AsyncClient, shop: str, grant: TokenGrant
) -> StartedShop:
    """What every install does once Shopify granted a token: the tenant and its integration,
    the webhook subscriptions and the first sync. Each database step has the request budget."""
    deadline = settings.mongodb_request_timeout_seconds
    with pymongo.timeout(deadline):
        tenant = await ensure_tenant(shop)
        tenant_id = tenant.id
        assert tenant_id == tenant_id_for_shop(shop)
        await connect_integration(tenant_id, shop, grant, settings)
    webhooks: WebhookReport | None = None
    try:
        webhooks = await asyncio.wait_for(
            ensure_webhook_subscriptions(tenant_id, settings, http),
            timeout=INSTALL_WEBHOOK_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # registration must never lose the install
        logger.exception("webhook registration for %s failed", tenant_id)
        await record_webhook_failure(tenant_id, f"{type(exc).__name__}: {exc}")
    with pymongo.timeout(deadline):
        job = await queue_initial_sync(tenant_id)
    logger.info(
        "shopify install completed",
        extra={"shop": shop, "webhooks_ok": bool(webhooks and webhooks.ok)},
    )
    return StartedShop(tenant_id, webhooks, job)
