"""Who is calling: Shopify session tokens and tenant API keys, resolved to a `Principal`.

No HTTP types here: callers pass the raw header values.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

import jwt

from app.clock import utcnow
from app.config import Settings
from app.models import ApiKey, Tenant
from app.services.shop_domain import InvalidShopDomain, normalize_shop_domain

API_KEY_PREFIX = "rk_"
SESSION_TOKEN_LEEWAY_SECONDS = 5


class PrincipalKind(StrEnum):
    SESSION_TOKEN = "session_token"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated merchant caller, bound to exactly one tenant."""

    tenant_id: str
    kind: PrincipalKind
    subject: str  # session token `sub` (staff user id) or the API key id

    @property
    def actor(self) -> str:
        return f"{self.kind.value}:{self.subject}"


class AuthError(Exception):
    """The credential is missing, malformed, expired, revoked or signed by someone else."""


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


async def _principal_from_api_key(key: str) -> Principal:
    key_id = key[: len(API_KEY_PREFIX) + 12]
    record = await ApiKey.find_one({"key_id": key_id})
    if record is None or not hmac.compare_digest(record.key_hash, _hash_key(key)):
        raise AuthError("invalid API key")
    if record.revoked_at is not None:
        raise AuthError("API key revoked")
    return Principal(tenant_id=record.tenant_id, kind=PrincipalKind.API_KEY, subject=key_id)


async def _principal_from_session_token(token: str, settings: Settings) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.shopify_api_secret,
            algorithms=["HS256"],
            audience=settings.shopify_api_key,
            leeway=SESSION_TOKEN_LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "aud", "dest", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid session token: {type(exc).__name__}") from exc
    dest = str(claims.get("dest", ""))
    if not dest.startswith("https://"):
        raise AuthError("invalid session token: dest")
    try:
        shop = normalize_shop_domain(dest.removeprefix("https://"))
    except InvalidShopDomain as exc:
        raise AuthError("invalid session token: dest") from exc
    if claims.get("iss") != f"https://{shop}/admin":
        raise AuthError("invalid session token: iss does not match dest")
    tenant = await Tenant.find_one({"shop_domain": shop})
    if tenant is None:
        raise AuthError("shop is not installed")
    return Principal(
        tenant_id=tenant.id, kind=PrincipalKind.SESSION_TOKEN, subject=str(claims.get("sub", ""))
    )


async def authenticate(authorization: str | None, settings: Settings) -> Principal | None:
    """`None` when no credential was sent; `AuthError` when one was sent and is not valid."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise AuthError("expected `Authorization: Bearer <token>`")
    if credential.startswith(API_KEY_PREFIX):
        return await _principal_from_api_key(credential)
    return await _principal_from_session_token(credential, settings)


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
