"""Who may call merchant operations: the auth matrix."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import jwt

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.services.auth import issue_api_key, make_session_token, revoke_api_keys
from app.services.integration.integrations import connect_integration, mark_uninstalled
from app.shopify.oauth_client import TokenGrant
from tests.factories import graphql, make_tenant, merchant_headers

TENANT_QUERY = "{ tenant { tenantId shopDomain } }"


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
    assert body["data"]["tenant"] == {
        "tenantId": "tenant-alpha",
        "shopDomain": "alpha.myshopify.com",
    }


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
        "tenantId"
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
        "tenantId"
    ] == alpha.id


async def test_api_keys_are_stored_only_as_hashes(client: httpx.AsyncClient) -> None:
    from app.models import ApiKey

    tenant = await make_tenant("alpha")
    issued = await issue_api_key(tenant.id)
    raw = await ApiKey.get_pymongo_collection().find_one({"tenant_id": tenant.id})
    assert raw is not None
    assert issued.key not in str(raw)


# Session tokens are Shopify's: one minute long, numeric time claims --------------------------
def _message(body: dict[str, object]) -> str:
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    return str(errors[0]["message"])


async def _refused(client: httpx.AsyncClient, token: str) -> str:
    body = await graphql(client, TENANT_QUERY, headers={"Authorization": f"Bearer {token}"})
    assert _code(body) == "UNAUTHENTICATED", body
    return _message(body)


async def test_a_session_token_living_for_years_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    now = int(time.time())
    ten_years = now + 10 * 365 * 24 * 3600
    message = await _refused(client, _session_token(settings, "alpha.myshopify.com", exp=ten_years))
    assert "lives longer than" in message
    # Issued long ago, expiring soon: still a long-lived token.
    await _refused(
        client, _session_token(settings, "alpha.myshopify.com", iat=now - 3600, nbf=now - 3600)
    )


async def test_a_session_token_issued_in_the_future_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    later = int(time.time()) + 600
    await _refused(client, _session_token(settings, "alpha.myshopify.com", iat=later, exp=later))


async def test_session_token_time_claims_must_be_numbers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    now = int(time.time())
    for claim, value in (("exp", now + 60), ("nbf", now - 1), ("iat", now)):
        token = _session_token(settings, "alpha.myshopify.com", **{claim: str(value)})
        message = await _refused(client, token)
        assert claim in message, message
    without_iat = _session_token(settings, "alpha.myshopify.com")
    claims = jwt.decode(without_iat, options={"verify_signature": False})
    del claims["iat"]
    token = jwt.encode(claims, settings.shopify_api_secret, algorithm="HS256")
    assert "iat" in await _refused(client, token)


async def test_refusals_name_the_problem_not_a_library_class(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_tenant("alpha")
    past = int(time.time()) - 600
    shop = "alpha.myshopify.com"
    tokens = {
        "expired": _session_token(settings, shop, exp=past, nbf=past - 60, iat=past - 60),
        "signature": _session_token(settings, shop, _secret="another-apps-secret-long-enough!"),
        "another app": _session_token(settings, shop, aud="someone-elses-api-key"),
        "malformed": "not.a.jwt",
    }
    for expected, token in tokens.items():
        message = await _refused(client, token)
        assert expected in message, (expected, message)
        assert "Error" not in message and "PyJWT" not in message, message


# Uninstalled shops -------------------------------------------------------------------------
async def _connected(tenant_id: str, shop: str, settings: Settings) -> None:
    """What the OAuth callback writes for an install (or a reinstall)."""
    grant = TokenGrant("shpat_test", "read_orders", utcnow() + timedelta(hours=1), None, None)
    await connect_integration(tenant_id, shop, grant, settings)


async def test_credentials_of_an_uninstalled_shop_are_refused_until_it_reinstalls(
    settings: Settings, db: Database
) -> None:
    # The session token of an uninstalled shop is offered to Shopify for a token exchange:
    # here nothing listens, as when Shopify refuses it, so the test never leaves the machine.
    offline = settings.model_copy(update={"shopify_admin_base_url": "http://127.0.0.1:9/{shop}"})
    app = create_app(offline, configure_logs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        await _uninstalled_credentials_are_refused_until_reinstalled(client, offline)


async def _uninstalled_credentials_are_refused_until_reinstalled(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tenant = await make_tenant("alpha")
    await _connected(tenant.id, tenant.shop_domain, settings)
    api_key = (await issue_api_key(tenant.id)).key
    credentials: dict[str, Callable[[], str]] = {
        "api key": lambda: api_key,
        "session token": lambda: make_session_token(settings, tenant.shop_domain),
    }
    for name, credential in credentials.items():
        headers = {"Authorization": f"Bearer {credential()}"}
        body = await graphql(client, TENANT_QUERY, headers=headers)
        assert body["data"]["tenant"]["tenantId"] == tenant.id, name

    assert (await mark_uninstalled(tenant.id)).changed  # app/uninstalled, confirmed
    for name, credential in credentials.items():
        message = await _refused(client, credential())
        assert message == "The app is not installed on this shop: reinstall it", name
        body = await graphql(
            client,
            "{ orders(first: 5) { nodes { id } } }",
            headers={"Authorization": f"Bearer {credential()}"},
        )
        assert _code(body) == "UNAUTHENTICATED", name

    await _connected(tenant.id, tenant.shop_domain, settings)  # the merchant reinstalls
    for name, credential in credentials.items():
        headers = {"Authorization": f"Bearer {credential()}"}
        body = await graphql(client, TENANT_QUERY, headers=headers)
        assert body["data"]["tenant"]["tenantId"] == tenant.id, name
