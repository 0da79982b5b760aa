"""The portal's exchange picker against the Shopify simulator: the other variants of a returned
item's product with their price and stock, for a caller who proves the order as createReturn's
does (the order's email, or the customer Shopify signed in through the app proxy); unavailable,
not wrong, when Shopify cannot be asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.models.portal_attempts import PortalAttempts
from app.services.integration.integrations import disconnect_integration
from tests.factories import graphql
from tests.portal.helpers import proxy_query
from tests.returns.builders import create, portal, return_input, sim_settings
from tests.returns.sim_shop import Shop, open_shop
from tools.shopify_sim import SimulatorControl, SimulatorServer

OPTIONS = """
query ($orderId: ID!, $email: String, $lineItemId: ID!, $quantity: Int = 1) {
  exchangeOptions(orderId: $orderId, customerEmail: $email, lineItemId: $lineItemId,
                  quantity: $quantity) {
    available options { variantId title price { amount currencyCode } inStock } } }
"""
POLICY = """mutation ($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  userErrors { field code } } }"""


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


@pytest.fixture
async def shop(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> Shop:
    """A tenant connected to a simulator shop, with a paid order of two units of one variant."""
    return await open_shop(client, settings, simulator, sim_control, sim_http)


def siblings(simulator: SimulatorServer, shop: Shop) -> tuple[str, list[dict[str, Any]]]:
    """The ordered variant's product title and its other variants, as the simulator holds them."""
    state = simulator.app.state.sim.shops[shop.tenant.domain]
    ordered = state.variants_by_id[
        f"gid://shopify/ProductVariant/{shop.order.line_items[0].variant_id}"
    ]
    product = ordered["_product"]
    return product["title"], [v for v in product["_variants"] if v["id"] != ordered["id"]]


def variables(shop: Shop, email: str | None) -> dict[str, Any]:
    order = shop.order
    return {"orderId": order.shopify_id, "email": email, "lineItemId": order.line_items[0].id}


async def as_guest(shop: Shop, email: str | None) -> Any:
    body = await graphql(
        shop.client, OPTIONS, variables(shop, email), portal(shop.tenant.tenant_id)
    )
    assert "errors" not in body, body
    return body["data"]["exchangeOptions"]


async def through_proxy(shop: Shop, customer_id: str) -> Any:
    response = await shop.client.post(
        "/portal/proxy/graphql?"
        + proxy_query(shop.tenant.domain, customer_id, secret=shop.settings.shopify_api_secret),
        json={"query": OPTIONS, "variables": variables(shop, None)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["exchangeOptions"]


async def failures(shop: Shop) -> int:
    found = await PortalAttempts.find({"tenant_id": shop.tenant.tenant_id}).to_list()
    return sum(len(attempts.failures) for attempts in found)


async def stock(shop: Shop, variant_id: str, available: int) -> None:
    main = (await shop.control.locations(shop.tenant.domain))["locations"][0]["id"]
    await shop.control.set_inventory(shop.tenant.domain, variant_id, main, available)


async def test_a_guest_proving_the_email_sees_the_other_variants_and_their_stock(
    shop: Shop, simulator: SimulatorServer
) -> None:
    product_title, others = siblings(simulator, shop)
    stocked, sold_out = others[0]["id"], others[1]["id"]
    await stock(shop, stocked, 3)
    await stock(shop, sold_out, 0)

    found = await as_guest(shop, shop.order.email)

    assert found["available"] is True
    units = {
        variant["id"]: (await shop.control.inventory(shop.tenant.domain, variant["id"]))[
            "available"
        ]
        for variant in others
    }
    expected = [
        {
            "variantId": variant["id"],
            "title": f"{product_title} - {variant['title']}",
            "price": {"amount": variant["price"], "currencyCode": "USD"},
            "inStock": units[variant["id"]] >= 1,
        }
        for variant in others
    ]
    assert found["options"] == sorted(expected, key=lambda option: option["title"])
    shown = {option["variantId"]: option["inStock"] for option in found["options"]}
    assert (shown[stocked], shown[sold_out]) == (True, False)
    assert await failures(shop) == 0
    # In stock means: as many units as come back (the exchange sends that many).
    body = await graphql(
        shop.client,
        OPTIONS,
        {**variables(shop, shop.order.email), "quantity": 4},
        portal(shop.tenant.tenant_id),
    )
    four = {o["variantId"]: o["inStock"] for o in body["data"]["exchangeOptions"]["options"]}
    assert four[stocked] is False  # 3 in stock

    # What createReturn then does with them (its own check on Shopify).
    order, line = shop.order, shop.order.line_items[0].id

    def exchange_for(variant_id: str) -> dict[str, Any]:
        return return_input(
            order, [(line, 1)], resolution="EXCHANGE", exchange_variant_id=variant_id
        )

    refused = await create(shop.client, shop.tenant.tenant_id, exchange_for(sold_out))
    assert [error["code"] for error in refused["userErrors"]] == ["EXCHANGE_OUT_OF_STOCK"]
    created = await create(shop.client, shop.tenant.tenant_id, exchange_for(stocked))
    assert created["userErrors"] == [] and created["return"]["resolutionType"] == "EXCHANGE"


async def test_a_wrong_email_gives_null_and_counts_as_a_failure(shop: Shop) -> None:
    assert await as_guest(shop, "someone.else@example.com") is None
    assert await failures(shop) == 1

    # The right email, but a line not in the order or a shop offering no exchange: null too.
    order = shop.order
    elsewhere = variables(shop, order.email) | {"lineItemId": "1"}
    body = await graphql(shop.client, OPTIONS, elsewhere, portal(shop.tenant.tenant_id))
    assert body["data"] == {"exchangeOptions": None}
    no_exchange = {"allowedResolutions": ["REFUND", "STORE_CREDIT"]}
    updated = await graphql(shop.client, POLICY, {"input": no_exchange}, shop.headers)
    assert updated["data"]["updateReturnPolicy"]["userErrors"] == [], updated
    assert await as_guest(shop, order.email) is None
    assert await failures(shop) == 1


async def test_a_signed_in_customer_needs_no_email_for_their_own_order_only(
    shop: Shop, simulator: SimulatorServer
) -> None:
    customer = shop.order.customer
    assert customer is not None and customer.id

    found = await through_proxy(shop, customer.id)

    _title, others = siblings(simulator, shop)
    assert found["available"] is True
    assert sorted(option["variantId"] for option in found["options"]) == sorted(
        variant["id"] for variant in others
    )
    # Another signed-in customer: null, and no guess counted (Shopify says who they are).
    assert await through_proxy(shop, "1" + customer.id) is None
    assert await failures(shop) == 0


async def test_the_options_are_unavailable_when_shopify_cannot_be_asked(shop: Shop) -> None:
    await shop.control.set_faults(shop.tenant.domain, error_rate=1.0, error_status=503)
    assert await as_guest(shop, shop.order.email) == {"available": False, "options": []}
    await shop.control.reset_faults(shop.tenant.domain)
    assert (await as_guest(shop, shop.order.email))["available"] is True

    await disconnect_integration(shop.tenant.tenant_id)
    assert await as_guest(shop, shop.order.email) == {"available": False, "options": []}
