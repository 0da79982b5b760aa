"""Who may call merchant operations: the auth matrix."""

from __future__ import annotations

import time

import httpx
import jwt

from app.config import Settings
from app.services.auth import issue_api_key, make_session_token, revoke_api_keys
from tests.factories import graphql, make_tenant, merchant_headers

TENANT_QUERY = "{ tenant { id shopDomain } }"


def _code(body: dict[str, object]) -> object:
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    return errors[0]["extensions"]["code"]


def _session_token(settings: Settings, shop: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
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
    secret = str(claims.pop("_secret", settings.shopify_api_secret))
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_no_credential_is_unauthenticated(client: httpx.AsyncClient) -> None:
    body = await graphql(client, TENANT_QUERY)
    assert _code(body) == "UNAUTHENTICATED"
    assert body["data"] is None or body["data"]["tenant"] is None


async def test_malformed_authorization_header_is_unauthenticated(client: httpx.AsyncClient) -> None:
    for header in ("Basic abc", "Bearer", "Bearer not-a-jwt", "Bearer rk_000000000000_nope"):
        body = await graphql(client, TENANT_QUERY, headers={"Authorization": header})
        assert _code(body) == "UNAUTHENTICATED", header


async def test_valid_session_token_sees_its_tenant(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    token = make_session_token(settings, "alpha.myshopify.com")
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert body["data"]["tenant"] == {"id": "tenant-alpha", "shopDomain": "alpha.myshopify.com"}


async def test_session_token_with_bad_signature_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    token = _session_token(
        settings, "alpha.myshopify.com", _secret="another-apps-secret-which-is-long-enough"
    )
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_expired_session_token_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    past = int(time.time()) - 600
    token = _session_token(settings, "alpha.myshopify.com", exp=past, nbf=past - 60, iat=past - 60)
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_session_token_not_yet_valid_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    future = int(time.time()) + 600
    token = _session_token(settings, "alpha.myshopify.com", nbf=future, exp=future + 60)
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_session_token_for_another_app_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    token = _session_token(settings, "alpha.myshopify.com", aud="someone-elses-api-key")
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_session_token_for_unknown_shop_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = _session_token(settings, "stranger.myshopify.com")
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_api_key_works_until_revoked(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    issued = await issue_api_key(tenant.id)
    headers = {"Authorization": f"Bearer {issued.key}"}
    assert (await graphql(client, TENANT_QUERY, headers=headers))["data"]["tenant"][
        "id"
    ] == tenant.id
    assert await revoke_api_keys(tenant.id) == 1
    assert _code(await graphql(client, TENANT_QUERY, headers=headers)) == "UNAUTHENTICATED"


async def test_tampered_api_key_is_refused(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    issued = await issue_api_key(tenant.id)
    tampered = issued.key[:-2] + ("AA" if not issued.key.endswith("AA") else "BB")
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {tampered}"})
    assert _code(body) == "UNAUTHENTICATED"


async def test_tenant_header_naming_another_tenant_is_forbidden(client: httpx.AsyncClient) -> None:
    alpha = await make_tenant("alpha")
    beta = await make_tenant("beta")
    headers = await merchant_headers(alpha.id)
    headers["X-Tenant-Id"] = beta.id
    body = await graphql(client, TENANT_QUERY, headers=headers)
    assert _code(body) == "FORBIDDEN"
    headers["X-Tenant-Id"] = alpha.id
    assert (await graphql(client, TENANT_QUERY, headers=headers))["data"]["tenant"][
        "id"
    ] == alpha.id


async def test_api_keys_are_stored_only_as_hashes(client: httpx.AsyncClient) -> None:
    from app.models import ApiKey

    tenant = await make_tenant("alpha")
    issued = await issue_api_key(tenant.id)
    raw = await ApiKey.get_pymongo_collection().find_one({"tenant_id": tenant.id})
    assert raw is not None
    assert issued.key not in str(raw)
