"""OAuth token endpoint calls: code exchange, session token exchange and refresh of expiring
offline tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.clock import utcnow

from .errors import ShopifyOAuthError, ShopifyUnavailableError


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    scope: str
    expires_at: datetime | None  # tz-aware UTC; None for a non-expiring token
    refresh_token: str | None
    refresh_token_expires_at: datetime | None


def _admin_base(admin_base: str, shop: str) -> str:
    return (admin_base.format(shop=shop) if "{shop}" in admin_base else admin_base).rstrip("/")


def _grant(payload: dict[str, Any], now: datetime) -> TokenGrant:
    def after(seconds: Any) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if seconds is not None else None

    return TokenGrant(
        access_token=str(payload["access_token"]),
        scope=str(payload.get("scope", "")),
        expires_at=after(payload.get("expires_in")),
        refresh_token=payload.get("refresh_token"),
        refresh_token_expires_at=after(payload.get("refresh_token_expires_in")),
    )


async def _token_request(
    http: httpx.AsyncClient, admin_base: str, shop: str, body: dict[str, str]
) -> TokenGrant:
    url = f"{_admin_base(admin_base, shop)}/admin/oauth/access_token"
    now = utcnow()
    try:
        response = await http.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.TransportError as error:
        raise ShopifyUnavailableError(f"token endpoint unreachable: {error}", shop=shop) from error
    if response.status_code >= 500:
        raise ShopifyUnavailableError(
            f"token endpoint HTTP {response.status_code}",
            shop=shop,
            status_code=response.status_code,
        )
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200 or "access_token" not in payload:
        code = payload.get("error") if isinstance(payload, dict) else None
        description = payload.get("error_description") if isinstance(payload, dict) else None
        raise ShopifyOAuthError(
            f"token request refused (HTTP {response.status_code}): {description or code or response.text[:200]}",
            shop=shop,
            error=code,
            status_code=response.status_code,
        )
    return _grant(payload, now)


async def exchange_code(
    http: httpx.AsyncClient, admin_base: str, shop: str, api_key: str, api_secret: str, code: str
) -> TokenGrant:
    """Trade an authorization code (single use) for an expiring offline token.

    `expiring=1` asks for the expiring kind (an hour, with a refresh token), which public apps
    must use from 2027-01-01.
    """
    return await _token_request(
        http,
        admin_base,
        shop,
        {"client_id": api_key, "client_secret": api_secret, "code": code, "expiring": "1"},
    )


TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_ACCESS_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


async def exchange_session_token(
    http: httpx.AsyncClient,
    admin_base: str,
    shop: str,
    api_key: str,
    api_secret: str,
    session_token: str,
) -> TokenGrant:
    """Trade an embedded app's session token for an expiring offline token (token exchange,
    Shopify-managed installation). Shopify answers 400 to an invalid or expired session token."""
    return await _token_request(
        http,
        admin_base,
        shop,
        {
            "client_id": api_key,
            "client_secret": api_secret,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_ACCESS_TOKEN_TYPE,
            "expiring": "1",
        },
    )


async def refresh_access_token(
    http: httpx.AsyncClient,
    admin_base: str,
    shop: str,
    api_key: str,
    api_secret: str,
    refresh_token: str,
) -> TokenGrant:
    """Rotate the token pair; the old refresh token (and access token) stop working."""
    return await _token_request(
        http,
        admin_base,
        shop,
        {
            "client_id": api_key,
            "client_secret": api_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )
