"""Forged, expired, not-yet-valid, cross-app and malformed session tokens and API keys are refused."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from app.config import Settings
from app.db import Database
from app.services.auth import make_session_token, revoke_api_keys
from app.services.tenants import ensure_tenant
from tests.isolation.world import ATTACKER_SHOP, VICTIM_SHOP, World

QUERY = "{ tenant { tenantId } orders(first: 5) { nodes { orderNumber } } }"


def _claims(settings: Settings, shop: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": settings.shopify_api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now,
        "jti": "j",
        "sid": "s",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(settings: Settings, shop: str, secret: str | None = None, **overrides: Any) -> str:
    return jwt.encode(_claims(settings, shop, **overrides), secret or settings.shopify_api_secret)


def _unsigned(settings: Settings, shop: str) -> str:
    def part(data: dict[str, Any]) -> str:
        import orjson

        return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(_claims(settings, shop))}."


async def _ask(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 400)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def shops(db: Database) -> None:
    """Both shops installed (tenants exist), without the rest of the world's data."""
    await ensure_tenant(VICTIM_SHOP)
    await ensure_tenant(ATTACKER_SHOP)


def _refused(body: dict[str, Any]) -> bool:
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    return codes == {"UNAUTHENTICATED"} and not (body.get("data") or {}).get("tenant")


async def test_a_valid_session_token_reaches_only_its_own_shop(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    body = await _ask(client, make_session_token(settings, ATTACKER_SHOP))
    assert body["data"]["tenant"]["tenantId"] == world.attacker.tenant_id
    numbers = {node["orderNumber"] for node in body["data"]["orders"]["nodes"]}
    assert numbers and not numbers & set(world.victim.order_numbers)


Forge = Callable[[Settings], str]


def _case(forge: Forge, id: str) -> tuple[str, Forge]:
    return id, forge


FORGERIES: list[tuple[str, Forge]] = [
    _case(
        lambda s: _token(s, VICTIM_SHOP, secret="another-apps-secret-0123456789abcdef"),
        id="other-app-secret",
    ),
    _case(lambda s: _token(s, VICTIM_SHOP, aud="another-apps-api-key"), id="other-app-audience"),
    _case(lambda s: _token(s, VICTIM_SHOP, aud=None), id="no-audience"),
    _case(lambda s: _token(s, VICTIM_SHOP, exp=int(time.time()) - 120), id="expired"),
    _case(lambda s: _token(s, VICTIM_SHOP, exp=None), id="no-expiry"),
    _case(lambda s: _token(s, VICTIM_SHOP, nbf=int(time.time()) + 600), id="not-yet-valid"),
    _case(lambda s: _token(s, VICTIM_SHOP, nbf=None), id="no-nbf"),
    _case(lambda s: _token(s, VICTIM_SHOP, dest=None), id="no-dest"),
    _case(lambda s: _token(s, VICTIM_SHOP, dest="http://isovictim.myshopify.com"), id="http-dest"),
    _case(lambda s: _token(s, VICTIM_SHOP, dest="https://evil.com"), id="foreign-dest"),
    _case(
        lambda s: _token(s, VICTIM_SHOP, dest="https://isovictim.myshopify.com.evil.com"),
        id="look-alike-dest",
    ),
    _case(
        lambda s: _token(s, VICTIM_SHOP, iss=f"https://{ATTACKER_SHOP}/admin"),
        id="iss-mismatch",
    ),
    _case(lambda s: _token(s, "notinstalled.myshopify.com"), id="unknown-shop"),
    _case(lambda s: _unsigned(s, VICTIM_SHOP), id="alg-none"),
    _case(
        lambda s: jwt.encode(_claims(s, VICTIM_SHOP), s.shopify_api_secret, algorithm="HS384"),
        id="other-algorithm",
    ),
    _case(lambda s: _token(s, VICTIM_SHOP)[:-4] + "AAAA", id="tampered-signature"),
    _case(lambda s: "eyJ.eyJ.sig", id="garbage-jwt"),
    _case(lambda s: "rk_000000000000_guessed", id="guessed-api-key"),
    _case(lambda s: "rk_", id="empty-api-key"),
]


@pytest.mark.filterwarnings("ignore:The HMAC key is")
async def test_forged_and_invalid_credentials_are_refused(
    client: httpx.AsyncClient, settings: Settings, shops: None
) -> None:
    for name, forge in FORGERIES:
        body = await _ask(client, forge(settings))
        assert _refused(body), (name, body)


async def test_malformed_authorization_headers_are_refused(
    client: httpx.AsyncClient, shops: None
) -> None:
    for header in ["Basic abc", "Bearer", "Bearer  ", "bearer", "Token x", "Bearer a b c", "\x00"]:
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": header}
        )
        assert response.status_code in (200, 400), header
        assert _refused(response.json()), header


async def test_an_api_key_of_one_tenant_with_a_tampered_secret_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.victim.api_key
    tampered = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    assert _refused(await _ask(client, tampered))
    # Same key id as the victim, the attacker's secret part: still refused.
    victim_id = key[:16]
    attacker_secret = world.attacker.api_key[16:]
    assert _refused(await _ask(client, victim_id + attacker_secret))


async def test_revoked_api_keys_are_refused(client: httpx.AsyncClient, world: World) -> None:
    await revoke_api_keys(world.attacker.tenant_id)
    assert _refused(await _ask(client, world.attacker.api_key))
