"""Every way an install or callback can be refused: 4xx, and nothing written."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.db import Database
from app.models import OAuthState
from app.services.integration.install import issue_state
from tests.install.helpers import (
    authorize,
    callback,
    new_shop,
    query_of,
    signed,
    snapshot,
    start_install,
)
from tools.shopify_sim import SimulatorControl

BAD_SHOPS = [
    "evil.com",
    "x.myshopify.com.evil.com",
    "",
    "x.myshopify.com/admin",
    "x.myshopify.com:443",
    "https://x.myshopify.com",
    "-x.myshopify.com",
    "x_y.myshopify.com",
    "x.myshopify.com@evil.com",
]


@pytest.mark.parametrize("shop", BAD_SHOPS)
async def test_install_refuses_a_bad_shop_domain(
    client: httpx.AsyncClient, db: Database, shop: str
) -> None:
    response = await client.get("/api/auth/shopify/install", params={"shop": shop})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_shop"
    assert await OAuthState.count() == 0


async def test_install_without_shop_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    response = await client.get("/api/auth/shopify/install")
    assert response.status_code == 400
    assert await OAuthState.count() == 0


async def test_install_signed_by_shopify_is_accepted(
    client: httpx.AsyncClient, db: Database
) -> None:
    params = signed({"shop": new_shop(), "timestamp": str(int(time.time())), "host": "YWJj"})
    response = await client.get("/api/auth/shopify/install", params=params)
    assert response.status_code == 302
    assert await OAuthState.count() == 1


async def test_install_with_a_wrong_hmac_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    params = signed({"shop": new_shop(), "timestamp": str(int(time.time()))})
    params["timestamp"] = str(int(params["timestamp"]) + 1)  # tampered after signing
    response = await client.get("/api/auth/shopify/install", params=params)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_hmac"
    assert await OAuthState.count() == 0


@pytest.mark.parametrize(
    ("timestamp", "why"),
    [
        (-6 * 60, "signed six minutes ago: a replayed link"),
        (5 * 60, "signed five minutes ahead"),
        ("", "no timestamp value"),
        ("1e9", "not a number of seconds"),
        ("\u00b2", "a digit that is not ASCII (int() refuses it)"),
    ],
)
async def test_a_signed_install_link_that_is_not_recent_is_refused(
    client: httpx.AsyncClient, db: Database, timestamp: int | str, why: str
) -> None:
    # An offset from now, taken when the test runs (not when it was collected).
    value = str(int(time.time()) + timestamp) if isinstance(timestamp, int) else timestamp
    params = signed({"shop": new_shop(), "timestamp": value})
    response = await client.get("/api/auth/shopify/install", params=params)
    assert response.status_code == 401, why
    assert response.json()["error"] == "stale_request"
    assert await OAuthState.count() == 0


async def test_a_signed_install_link_without_a_timestamp_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.get("/api/auth/shopify/install", params=signed({"shop": new_shop()}))
    assert response.status_code == 401
    assert response.json()["error"] == "stale_request"


async def test_a_callback_signed_long_ago_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    old = str(int(authorized["timestamp"]) - 10 * 60)
    params = signed({**{k: v for k, v in authorized.items() if k != "hmac"}, "timestamp": old})
    await assert_refused(client, db, params, 401, "stale_request")


async def test_install_with_a_repeated_parameter_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.get(
        "/api/auth/shopify/install", params=[("shop", new_shop()), ("shop", new_shop())]
    )
    assert response.status_code == 400
    assert await OAuthState.count() == 0


@pytest.fixture
async def authorized(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, db: Database
) -> dict[str, str]:
    """Valid callback parameters for a fresh shop (state issued, code unused)."""
    started = await start_install(client, new_shop())
    return await authorize(sim_http, started.headers["location"])


async def assert_refused(
    client: httpx.AsyncClient, db: Database, params: dict[str, str], status: int, error: str
) -> None:
    before = await snapshot(db)
    response = await callback(client, params)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.text
    assert await snapshot(db) == before


async def test_callback_without_hmac_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    params = {k: v for k, v in authorized.items() if k != "hmac"}
    await assert_refused(client, db, params, 401, "missing_hmac")


async def test_callback_with_a_wrong_hmac_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    params = {**authorized, "hmac": "0" * 64}
    await assert_refused(client, db, params, 401, "invalid_hmac")


@pytest.mark.parametrize("field", ["code", "state", "timestamp", "host"])
async def test_callback_with_a_tampered_parameter_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str], field: str
) -> None:
    params = {**authorized, field: authorized[field] + "x"}
    await assert_refused(client, db, params, 401, "invalid_hmac")


async def test_callback_with_an_added_parameter_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    await assert_refused(client, db, {**authorized, "extra": "1"}, 401, "invalid_hmac")


async def test_callback_for_another_shop_domain_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    params = {**authorized, "shop": "evil.com"}
    await assert_refused(client, db, signed(params), 400, "invalid_shop")


async def test_callback_with_an_unknown_state_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    params = signed({**authorized, "state": "never-issued"})
    await assert_refused(client, db, params, 400, "invalid_state")


async def test_callback_with_an_expired_state_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    await OAuthState.get_pymongo_collection().update_one(
        {"state": authorized["state"]}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    await assert_refused(client, db, authorized, 400, "invalid_state")


async def test_callback_with_another_shops_state_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    other_state = await issue_state(new_shop())
    params = signed({**authorized, "state": other_state})
    await assert_refused(client, db, params, 400, "invalid_state")


async def test_callback_without_code_is_refused(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    params = signed({k: v for k, v in authorized.items() if k != "code"})
    await assert_refused(client, db, params, 400, "missing_parameter")


async def test_callback_with_a_refused_code_writes_nothing(
    client: httpx.AsyncClient, db: Database, authorized: dict[str, str]
) -> None:
    before = await snapshot(db)
    params = signed({**authorized, "code": "not-a-code-shopify-issued"})

    response = await callback(client, params)

    assert response.status_code == 400
    assert response.json()["error"] == "code_exchange_refused"
    after = await snapshot(db)
    # The state was spent on this attempt (single use); nothing else changed.
    assert after.pop("oauth_states") == []
    before.pop("oauth_states")
    assert after == before


async def test_callback_with_an_already_used_code_is_refused(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    db: Database,
    authorized: dict[str, str],
) -> None:
    # Someone else redeemed the code first (Shopify codes are single use).
    shop = authorized["shop"]
    response = await sim_http.post(
        f"{sim_control.base_url}/{shop}/admin/oauth/access_token",
        json={
            "client_id": sim_control.api_key,
            "client_secret": sim_control.api_secret,
            "code": authorized["code"],
        },
    )
    assert response.status_code == 200
    refused = await callback(client, authorized)
    assert refused.status_code == 400
    assert await db.db["integrations_shopify"].count_documents({}) == 0
    assert await db.db["tenants"].count_documents({}) == 0


async def test_install_granting_fewer_scopes_is_refused(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, db: Database
) -> None:
    started = await start_install(client, new_shop())
    params = await authorize(sim_http, started.headers["location"], scope="read_orders")
    before = await snapshot(db)

    response = await callback(client, params)

    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "missing_scopes"
    assert "read_customers" in body["message"]
    after = await snapshot(db)
    assert after.pop("oauth_states") == []
    before.pop("oauth_states")
    assert after == before


async def test_write_scope_counts_as_the_read_scope(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, db: Database
) -> None:
    started = await start_install(client, new_shop())
    location = started.headers["location"]
    # Shopify may list only `write_returns` for `read_returns,write_returns`.
    params = await authorize(sim_http, location, scope="read_orders,read_customers,write_returns")
    response = await callback(client, params)
    assert response.status_code == 302, response.text
    assert query_of(location)["state"] == params["state"]


def test_every_install_refusal_has_its_http_status() -> None:
    # A code without a status would be an unhandled KeyError (a 500) on the refusal path.
    from app.http.shopify_oauth import INSTALL_ERROR_STATUS
    from app.services.integration.install import InstallErrorCode

    assert set(INSTALL_ERROR_STATUS) == set(InstallErrorCode)
