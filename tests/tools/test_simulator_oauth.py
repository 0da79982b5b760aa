"""OAuth on the simulator, checked against an independent reading of Shopify's rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import SimulatorControl, SimulatorServer
from tools.shopify_sim.control_client import unique_shop_domain


def shopify_query_hmac_ok(params: dict[str, str], secret: str) -> bool:
    """Shopify: drop `hmac`, sort the rest, join `k=v` with `&`, HMAC-SHA256 hex, constant-time compare."""
    received = params.get("hmac", "")
    message = "&".join(
        f"{k}={v}" for k, v in sorted((k, v) for k, v in params.items() if k != "hmac")
    )
    expected = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


async def authorize(
    http: httpx.AsyncClient, simulator: SimulatorServer, shop: str, client_id: str = SIM_API_KEY
) -> httpx.Response:
    return await http.get(
        f"{simulator.base_url}/{shop}/admin/oauth/authorize",
        params={
            "client_id": client_id,
            "scope": "read_orders,write_returns",
            "redirect_uri": "https://app.example/api/auth/shopify/callback",
            "state": "n0nce",
        },
    )


async def test_authorize_redirects_with_a_valid_hex_hmac(simulator, sim_http):
    shop = unique_shop_domain()
    response = await authorize(sim_http, simulator, shop)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.netloc == "app.example"
    params = dict(parse_qsl(location.query))
    assert {"code", "hmac", "host", "shop", "state", "timestamp"} <= params.keys()
    assert params["shop"] == shop and params["state"] == "n0nce"
    assert base64.b64decode(params["host"]).decode() == f"{shop}/admin"
    assert abs(int(params["timestamp"]) - time.time()) < 60
    assert len(params["hmac"]) == 64 and int(params["hmac"], 16) >= 0
    assert shopify_query_hmac_ok(params, SIM_API_SECRET)
    assert not shopify_query_hmac_ok(params | {"shop": "evil.myshopify.com"}, SIM_API_SECRET)


async def test_authorize_with_wrong_client_id_is_400(simulator, sim_http):
    response = await authorize(sim_http, simulator, unique_shop_domain(), client_id="someone-else")
    assert response.status_code == 400


async def test_code_is_single_use_and_secret_checked(simulator, sim_http):
    shop = unique_shop_domain()
    params = dict(
        parse_qsl(urlsplit((await authorize(sim_http, simulator, shop)).headers["location"]).query)
    )
    url = f"{simulator.base_url}/{shop}/admin/oauth/access_token"
    wrong = await sim_http.post(
        url, json={"client_id": SIM_API_KEY, "client_secret": "nope", "code": params["code"]}
    )
    assert wrong.status_code == 400 and "error" in wrong.json()
    # form-encoded bodies work as on Shopify
    first = await sim_http.post(
        url,
        data={"client_id": SIM_API_KEY, "client_secret": SIM_API_SECRET, "code": params["code"]},
    )
    assert first.status_code == 200
    grant = first.json()
    assert grant["access_token"].startswith("shpat_")
    assert (
        grant["expires_in"] == 3600
        and grant["refresh_token"]
        and grant["refresh_token_expires_in"] > 0
    )
    assert grant["scope"] == "read_orders,write_returns"
    again = await sim_http.post(
        url,
        json={"client_id": SIM_API_KEY, "client_secret": SIM_API_SECRET, "code": params["code"]},
    )
    assert again.status_code == 400
    unknown = await sim_http.post(
        url, json={"client_id": SIM_API_KEY, "client_secret": SIM_API_SECRET, "code": "bogus"}
    )
    assert unknown.status_code == 400


async def test_refresh_rotates_both_tokens(simulator, sim_http, sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=1)
    url = f"{simulator.base_url}/{shop.domain}/admin/oauth/access_token"
    body = {
        "client_id": SIM_API_KEY,
        "client_secret": SIM_API_SECRET,
        "grant_type": "refresh_token",
    }
    rotated = await sim_http.post(url, json=body | {"refresh_token": shop.refresh_token})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["access_token"] != shop.access_token and new["refresh_token"] != shop.refresh_token
    reused = await sim_http.post(url, json=body | {"refresh_token": shop.refresh_token})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    query = "{ shop { name } }"
    old = await sim_control.graphql(shop, query)
    assert old.status_code == 401  # documented: the old access token is revoked at once
    assert (await sim_control.graphql(shop, query, token=new["access_token"])).status_code == 200
    state = await sim_control.shop_state(shop.domain)
    assert state["counters"]["token_refreshes"] == 1


async def test_graphql_requires_a_known_unexpired_token(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=1)
    missing = await sim_control.graphql(shop, "{ shop { name } }", token="")
    assert missing.status_code == 401
    assert missing.json()["errors"].startswith("[API] Invalid API key or access token")
    await sim_control.expire_tokens(shop.domain)
    assert (await sim_control.graphql(shop, "{ shop { name } }")).status_code == 401
