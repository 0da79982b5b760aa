"""Driving the install through HTTP: our app (ASGI) -> simulator authorize (real HTTP) -> callback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from app.db import Database
from app.shopify.hmac import sign_oauth_query
from tests.simulator_fixtures import SIM_API_SECRET
from tools.shopify_sim import SimulatorControl

COLLECTIONS = (
    "tenants",
    "integrations_shopify",
    "sync_jobs",
    "oauth_states",
    "orders",
    "returns",
    "webhook_events",
    "api_keys",
)


def new_shop() -> str:
    return f"inst{uuid.uuid4().hex[:10]}.myshopify.com"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def signed(params: dict[str, str], secret: str = SIM_API_SECRET) -> dict[str, str]:
    """`params` with a fresh valid `hmac` (what Shopify would send for them)."""
    body = {k: v for k, v in params.items() if k != "hmac"}
    return {**body, "hmac": sign_oauth_query(body.items(), secret)}


async def start_install(client: httpx.AsyncClient, shop: str) -> httpx.Response:
    return await client.get("/api/auth/shopify/install", params={"shop": shop})


async def authorize(
    sim_http: httpx.AsyncClient, authorize_url: str, **overrides: str
) -> dict[str, str]:
    """Follow our redirect to the simulator's authorize page; returns the callback query."""
    parts = urlsplit(authorize_url)
    params = {**query_of(authorize_url), **overrides}
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    response = await sim_http.get(base, params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/api/auth/shopify/callback?"), location
    return query_of(location)


async def callback(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.get("/api/auth/shopify/callback", params=params)


@dataclass
class Installed:
    shop: str
    tenant_id: str
    response: httpx.Response
    callback_params: dict[str, str]


async def install(
    client: httpx.AsyncClient, sim_http: httpx.AsyncClient, shop: str | None = None
) -> Installed:
    """The whole install, for real; asserts it succeeded."""
    shop = shop or new_shop()
    started = await start_install(client, shop)
    assert started.status_code == 302, started.text
    params = await authorize(sim_http, started.headers["location"])
    response = await callback(client, params)
    assert response.status_code == 302, response.text
    return Installed(shop, "tenant-" + shop.split(".")[0], response, params)


async def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection the install may touch."""
    result = {}
    for name in COLLECTIONS:
        result[name] = await db.db[name].find({}).sort("_id", 1).to_list(None)
    return result


async def sim_subscriptions(control: SimulatorControl, shop: str) -> list[tuple[str, str]]:
    state = await control.shop_state(shop)
    return sorted((sub["topic"], sub["callbackUrl"]) for sub in state["subscriptions"])


async def connect_sim_shop(
    control: SimulatorControl, settings: Any, *, orders: int = 0
) -> tuple[str, str]:
    """A simulator shop with the app installed, connected directly (no browser round trip).

    Returns (tenant_id, shop domain).
    """
    from app.services.integration.integrations import connect_integration
    from app.services.tenants import ensure_tenant
    from app.shopify.oauth_client import exchange_code

    shop = new_shop()
    await control.create_bare_shop(shop, orders=orders)
    params = await control.authorize(shop, scope=",".join(settings.shopify_scopes))
    grant = await exchange_code(
        control.http,
        settings.shopify_admin_base_url,
        shop,
        settings.shopify_api_key,
        settings.shopify_api_secret,
        params["code"],
    )
    tenant = await ensure_tenant(shop)
    await connect_integration(tenant.id, shop, grant, settings)
    return tenant.id, shop


async def sim_counter(control: SimulatorControl, shop: str, name: str) -> int:
    state = await control.shop_state(shop)
    return int(state["counters"].get(name, 0))
