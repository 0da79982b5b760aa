"""The simulator behaves like Shopify where the service's security checks depend on it."""

from __future__ import annotations

import httpx
import pytest

from app.shopify.errors import ShopifyOAuthError
from app.shopify.oauth_client import refresh_access_token
from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import SimulatorControl

SHOP_QUERY = "{ shop { id } }"


async def test_order_ids_are_global_across_shops(sim_control: SimulatorControl) -> None:
    """Shopify's ids are global: the service refuses an order id another tenant holds."""
    seen: dict[str, str] = {}
    for index in range(12):
        domain = f"global-ids-{index}.myshopify.com"  # fixed: the same shops every run
        await sim_control.create_bare_shop(domain, orders=100)
        listing = await sim_control.orders(domain, limit=100)
        for order in listing["orders"]:
            assert order["id"] not in seen, (order["id"], domain, seen.get(order["id"]))
            seen[order["id"]] = domain


async def test_a_shop_recreated_under_its_domain_has_the_same_order_ids(
    sim_control: SimulatorControl,
) -> None:
    first = await sim_control.create_bare_shop(orders=5)
    ids = [o["id"] for o in (await sim_control.orders(first["domain"]))["orders"]]
    await sim_control.create_bare_shop(first["domain"], orders=5)
    assert [o["id"] for o in (await sim_control.orders(first["domain"]))["orders"]] == ids


async def test_an_uninstall_revokes_both_tokens_and_a_reinstall_issues_new_ones(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient
) -> None:
    shop = await sim_control.create_shop(orders=0)
    assert (await sim_control.graphql(shop, SHOP_QUERY)).status_code == 200
    await sim_control.uninstall(shop.domain)
    assert (await sim_control.graphql(shop, SHOP_QUERY)).status_code == 401
    with pytest.raises(ShopifyOAuthError) as refused:
        await refresh_access_token(
            sim_http,
            shop.admin_base_template,
            shop.domain,
            SIM_API_KEY,
            SIM_API_SECRET,
            shop.refresh_token,
        )
    assert refused.value.error == "invalid_grant"
    again = await sim_control.install(shop.domain)
    assert (await sim_control.graphql(again, SHOP_QUERY)).status_code == 200
    assert (await sim_control.graphql(shop, SHOP_QUERY)).status_code == 401  # old stays dead
