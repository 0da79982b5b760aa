"""Who is calling: Shopify session tokens and tenant API keys, resolved to a `Principal`.

No HTTP types here: callers pass the raw header values.

Session tokens are Shopify's: HS256 with the app secret, one minute long. One signed with a long
life (a leaked app secret, a test token) would be a long-lived credential, so `exp - iat` and
`exp - now` are bounded by `SESSION_TOKEN_MAX_LIFETIME_SECONDS`, and `exp`, `nbf`, `iat` must be
JSON numbers (PyJWT alone accepts numeric strings). Refusals say what is wrong in our words,
never a library's exception name.

A tenant whose app was uninstalled keeps its data until shop/redact, but no credential of it
works until it reinstalls: the integration's status is read with every credential (one indexed
read for an API key; for a session token it replaces the tenant read).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import jwt

from app.clock import utcnow
from app.config import Settings
from app.models import ApiKey, ShopifyIntegration, Tenant
from app.models.integration import IntegrationStatus
from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain
from app.services.integration.token_exchange import (
    TokenExchangeRefused,
    install_by_token_exchange,
)

API_KEY_PREFIX = "rk_"
SESSION_TOKEN_LEEWAY_SECONDS = 5
# Shopify's session tokens live 60 s; twice that leaves room for clock skew and nothing more.
SESSION_TOKEN_MAX_LIFETIME_SECONDS = 120
SESSION_TOKEN_TIME_CLAIMS = ("exp", "nbf", "iat")
APP_NOT_INSTALLED = "the app is not installed on this shop: reinstall it"


class PrincipalKind(StrEnum):
    SESSION_TOKEN = "session_token"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated merchant caller, bound to exactly one tenant."""

    tenant_id: str
    kind: PrincipalKind
    subject: str  # session token `sub` (staff user id) or the API key id
    # Authenticating installed the shop (token exchange): the request waited on Shopify.
    installed_now: bool = False

    @property
    def actor(self) -> str:
        return f"{self.kind.value}:{self.subject}"


class AuthError(Exception):
    """The credential is missing, malformed, expired, revoked or signed by someone else."""


class AppNotInstalled(AuthError):
    """A valid credential of a tenant whose shop uninstalled the app (until it reinstalls)."""

    def __init__(self) -> None:
        super().__init__(APP_NOT_INSTALLED)


class ShopNotInstalled(AuthError):
    """A valid session token of a shop that never installed the app here."""

    def __init__(self) -> None:
        super().__init__("shop is not installed")


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: str  # shown once, never stored
    record: ApiKey


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_api_key(tenant_id: str, name: str = "") -> IssuedApiKey:
    """Create a random tenant API key; only its sha256 is stored."""
    key_id = API_KEY_PREFIX + secrets.token_hex(6)
    key = f"{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKey(tenant_id=tenant_id, key_id=key_id, key_hash=_hash_key(key), name=name)
    await record.insert()
    return IssuedApiKey(key=key, record=record)


async def revoke_api_keys(tenant_id: str) -> int:
    """Revoke every active key of a tenant; returns how many were revoked."""
    result = await ApiKey.get_pymongo_collection().update_many(
        {"tenant_id": tenant_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
    )
    return int(result.modified_count)


async def _ensure_installed(tenant_id: str) -> None:
    """`AppNotInstalled` when the tenant's shop uninstalled the app (`tenant_unique` index)."""
    integration = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id}, {"_id": 0, "status": 1}
    )
    if integration is not None and integration.get("status") == IntegrationStatus.UNINSTALLED.value:
        raise AppNotInstalled()


async def _principal_from_api_key(key: str) -> Principal:
    key_id = key[: len(API_KEY_PREFIX) + 12]
    record = await ApiKey.find_one({"key_id": key_id})
    if record is None or not hmac.compare_digest(record.key_hash, _hash_key(key)):
        raise AuthError("invalid API key")
    if record.revoked_at is not None:
        raise AuthError("API key revoked")
    await _ensure_installed(record.tenant_id)
    return Principal(tenant_id=record.tenant_id, kind=PrincipalKind.API_KEY, subject=key_id)


# What a refused session token is told: our words, not PyJWT's exception names. The order
# matters: subclasses before their bases.
_JWT_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not valid yet"),
    (jwt.InvalidAudienceError, "issued for another app (aud)"),
    (jwt.InvalidSignatureError, "signature does not match"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidIssuedAtError, "iat must be a number"),
    (jwt.DecodeError, "malformed"),
)


def _refusal(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"invalid session token: the {exc.claim} claim is missing"
    for kind, reason in _JWT_REFUSALS:
        if isinstance(exc, kind):
            return f"invalid session token: {reason}"
    return "invalid session token"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_lifetime(claims: Mapping[str, Any]) -> None:
    """Numeric time claims, and no longer-lived than Shopify's own tokens (plus leeway)."""
    for name in SESSION_TOKEN_TIME_CLAIMS:
        if not _is_number(claims.get(name)):
            raise AuthError(f"invalid session token: {name} must be a number")
    exp, nbf, iat = (float(claims[name]) for name in SESSION_TOKEN_TIME_CLAIMS)
    now = utcnow().timestamp()
    longest = SESSION_TOKEN_MAX_LIFETIME_SECONDS
    if iat > now + SESSION_TOKEN_LEEWAY_SECONDS:
        raise AuthError("invalid session token: issued in the future")
    if nbf > exp:
        raise AuthError("invalid session token: nbf is after exp")
    if exp - iat > longest or exp - now > longest + SESSION_TOKEN_LEEWAY_SECONDS:
        raise AuthError(
            f"invalid session token: lives longer than {longest} s (Shopify's live one minute)"
        )


async def _principal_from_session_token(
    token: str, settings: Settings, shopify_http: httpx.AsyncClient | None
) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.shopify_api_secret,
            algorithms=["HS256"],
            audience=settings.shopify_api_key,
            leeway=SESSION_TOKEN_LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "iat", "aud", "dest", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(_refusal(exc)) from exc
    _check_lifetime(claims)
    dest = str(claims.get("dest", ""))
    if not dest.startswith("https://"):
        raise AuthError("invalid session token: dest")
    try:
        shop = normalize_shop_domain(dest.removeprefix("https://"))
    except InvalidShopDomain as exc:
        raise AuthError("invalid session token: dest") from exc
    if claims.get("iss") != f"https://{shop}/admin":
        raise AuthError("invalid session token: iss does not match dest")
    installed_now = False
    try:
        tenant_id = await _tenant_of_shop(shop)
    except (ShopNotInstalled, AppNotInstalled) as not_installed:
        if shopify_http is None:
            raise
        # Shopify-managed installation: the shop's first session token (after an install or
        # a reinstall from Shopify) installs it here.
        try:
            tenant_id = await install_by_token_exchange(settings, shopify_http, shop, token)
            installed_now = True
        except TokenExchangeRefused as exc:
            if isinstance(not_installed, AppNotInstalled):
                raise not_installed from exc  # uninstalled, and Shopify says it still is
            raise AuthError(f"the app could not be installed on this shop: {exc}") from exc
    return Principal(
        tenant_id=tenant_id,
        kind=PrincipalKind.SESSION_TOKEN,
        subject=str(claims.get("sub", "")),
        installed_now=installed_now,
    )


async def _tenant_of_shop(shop: str) -> str:
    """The tenant of an installed shop: its integration (`shop_domain_unique`) names the tenant
    and says whether the app is installed; a tenant with no integration is looked up itself."""
    integration = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"shop_domain": shop}, {"_id": 0, "tenant_id": 1, "status": 1}
    )
    if integration is not None:
        if integration.get("status") == IntegrationStatus.UNINSTALLED.value:
            raise AppNotInstalled()
        return str(integration["tenant_id"])
    tenant = await Tenant.get_pymongo_collection().find_one(
        {"shop_domain": shop}, {"_id": 1, "id": 1}
    )
    if tenant is None:
        raise ShopNotInstalled()
    # `id` holds the tenant id in every shape (the old system's `_id` is an ObjectId).
    return str(tenant.get("id") or tenant["_id"])


async def authenticate(
    authorization: str | None,
    settings: Settings,
    shopify_http: httpx.AsyncClient | None = None,
) -> Principal | None:
    """`None` when no credential was sent; `AuthError` when one was sent and is not valid.
    With `shopify_http`, a valid session token of a shop not installed here installs it
    (token exchange)."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise AuthError("expected `Authorization: Bearer <token>`")
    if credential.startswith(API_KEY_PREFIX):
        return await _principal_from_api_key(credential)
    return await _principal_from_session_token(credential, settings, shopify_http)


def make_session_token(
    settings: Settings, shop: str, *, subject: str = "1", lifetime_seconds: int = 60
) -> str:
    """A Shopify-shaped session token (what App Bridge sends); for the demo and tests."""
    now = int(utcnow().timestamp())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": settings.shopify_api_key,
        "sub": subject,
        "exp": now + lifetime_seconds,
        "nbf": now,
        "iat": now,
        "jti": secrets.token_hex(8),
        "sid": secrets.token_hex(8),
    }
    return jwt.encode(claims, settings.shopify_api_secret, algorithm="HS256")
