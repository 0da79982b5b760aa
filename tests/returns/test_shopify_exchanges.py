"""Exchanges in Shopify: the variant is checked and priced on Shopify when the customer asks (out
of stock or unknown: refused, nothing written); once approved the return is created on Shopify
with its exchange line; processing it refunds a cheaper exchange's difference, and a dearer one
leaves the customer owing the balance (Shopify holds the exchange's fulfillment) unless the
policy absorbs it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.models import Return
from app.models.money import round_to_minor_unit
from tests.factories import graphql, merchant_headers
from tests.returns.builders import (
    connect_sim_tenant,
    create,
    return_input,
    returnable_variants,
    sim_settings,
    sim_synced_order,
)
from tests.returns.sim_shop import Shop
from tests.returns.test_shopify_mirror import decide, run_mirror
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


VIEW = """query ($id: ID!) { return(id: $id) { status
  outcome { itemsTotal { amount } refundAmount { amount } exchangeTotal { amount }
    exchangeDiscount { amount } balanceDue { amount currencyCode } tax { amount } }
  exchange { variantId quantity unitPrice { amount } total { amount } absorbed { amount }
    shopifyLineItemIds fulfillmentOrderId fulfillmentStatus holdReasons }
  refund { amount { amount } }
  shopifySync { status error } } }"""
POLICY = """mutation ($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  userErrors { field code } } }"""


class ExchangeShop:
    """A tenant on a simulator shop, an order of one unit at `paid` of one variant, and another
    variant (in stock) to exchange it for."""

    def __init__(self, shop: Shop, wanted: str, wanted_price: Decimal) -> None:
        self.shop = shop
        self.wanted = wanted
        self.wanted_price = wanted_price

    async def ask(self) -> dict[str, Any]:
        order = self.shop.order
        return await create(
            self.shop.client,
            self.shop.tenant.tenant_id,
            return_input(
                order,
                [(order.line_items[0].id, 1)],
                resolution="EXCHANGE",
                exchange_variant_id=self.wanted,
            ),
        )

    async def resolved(self) -> str:
        created = await self.ask()
        assert created["userErrors"] == [], created
        return_id = str(created["return"]["id"])
        for action in ("approve", "receive", "resolve"):
            await decide(self.shop.client, self.shop.headers, action, return_id)
        await run_mirror(self.shop.settings, self.shop.http)
        return return_id

    async def view(self, return_id: str) -> dict[str, Any]:
        body = await graphql(self.shop.client, VIEW, {"id": return_id}, self.shop.headers)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["return"]
        return found


@pytest.fixture
def exchange_shop(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> Any:
    async def make(*, difference: str, currency: str = "USD") -> ExchangeShop:
        """`difference`: what the returned unit was paid more than the wanted variant costs."""
        tenant = await connect_sim_tenant(sim_control, settings, currency=currency)
        shop_state = simulator.app.state.sim.shops[tenant.domain]
        prices = {
            str(variant["id"]): Decimal(str(variant["price"]))
            for product in shop_state.products
            for variant in product["_variants"]
        }
        stocked: list[str] = []
        # Two variants dear enough that the order's price stays positive, and in stock (read
        # one by one among all returnable ones: the seed leaves some out of stock).
        for variant in returnable_variants(simulator, tenant.domain, None):
            if len(stocked) == 2:
                break
            if (
                prices[variant] > 20
                and (await sim_control.inventory(tenant.domain, variant))["available"] >= 2
            ):
                stocked.append(variant)
        returned, wanted = stocked[0], stocked[1]
        paid = prices[wanted] + Decimal(difference)
        order = await sim_synced_order(
            sim_control,
            settings,
            sim_http,
            tenant,
            [{"variant_id": returned, "quantity": 1, "price": str(paid), "discount": "0"}],
        )
        shop = Shop(client, sim_control, settings, sim_http, tenant, order)
        shop.headers = await merchant_headers(tenant.tenant_id)
        return ExchangeShop(shop, wanted, prices[wanted])

    return make


async def test_an_exchange_out_of_stock_is_refused_and_nothing_written(exchange_shop: Any) -> None:
    setup: ExchangeShop = await exchange_shop(difference="5.00")
    domain = setup.shop.tenant.domain
    for level in (await setup.shop.control.inventory(domain, setup.wanted))["levels"]:
        await setup.shop.control.set_inventory(domain, setup.wanted, level["location_id"], 0)

    created = await setup.ask()

    assert created["return"] is None
    assert [(e["field"], e["code"]) for e in created["userErrors"]] == [
        (["exchangeVariantId"], "EXCHANGE_OUT_OF_STOCK")
    ]
    assert await Return.find({"tenant_id": setup.shop.tenant.tenant_id}).count() == 0


async def test_an_unknown_exchange_variant_is_refused(exchange_shop: Any) -> None:
    setup: ExchangeShop = await exchange_shop(difference="5.00")
    setup.wanted = "gid://shopify/ProductVariant/999999999"
    created = await setup.ask()
    assert [e["code"] for e in created["userErrors"]] == ["EXCHANGE_VARIANT_NOT_FOUND"]
    assert await Return.find({"tenant_id": setup.shop.tenant.tenant_id}).count() == 0


@pytest.mark.parametrize("currency", ["USD", "JPY"])
async def test_a_cheaper_exchange_refunds_the_difference(exchange_shop: Any, currency: str) -> None:
    difference = "7.25" if currency == "USD" else "725"
    setup: ExchangeShop = await exchange_shop(difference=difference, currency=currency)
    # Fees are for refunds and store credit: an exchange is charged neither.
    fees = {"restockingFeePercent": "10", "returnShippingFee": "3"}
    body = await graphql(setup.shop.client, POLICY, {"input": fees}, setup.shop.headers)
    assert body["data"]["updateReturnPolicy"]["userErrors"] == [], body
    return_id = await setup.resolved()

    found = await setup.view(return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    assert Decimal(found["outcome"]["refundAmount"]["amount"]) == Decimal(difference)
    # With the tax on the difference: the returned unit's (8% in the simulator) less the new one's.
    paid = setup.wanted_price + Decimal(difference)
    tax = round_to_minor_unit(paid * Decimal("0.08"), currency) - round_to_minor_unit(
        setup.wanted_price * Decimal("0.08"), currency
    )
    assert Decimal(found["outcome"]["tax"]["amount"]) == tax
    assert Decimal(found["refund"]["amount"]["amount"]) == Decimal(difference) + tax
    assert Decimal(found["outcome"]["balanceDue"]["amount"]) == 0
    exchange = found["exchange"]
    assert exchange["variantId"] == setup.wanted
    assert Decimal(exchange["unitPrice"]["amount"]) == setup.wanted_price
    assert exchange["shopifyLineItemIds"]
    assert exchange["fulfillmentStatus"] == "OPEN"
    assert exchange["holdReasons"] == []


async def test_a_dearer_exchange_leaves_a_balance_and_shopify_holds_it(
    exchange_shop: Any,
) -> None:
    setup: ExchangeShop = await exchange_shop(difference="-4.50")
    return_id = await setup.resolved()

    found = await setup.view(return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    assert found["outcome"]["balanceDue"] == {"amount": "4.50", "currencyCode": "USD"}
    assert Decimal(found["outcome"]["refundAmount"]["amount"]) == 0
    assert found["refund"] is None
    assert found["exchange"]["fulfillmentStatus"] == "ON_HOLD"
    assert found["exchange"]["holdReasons"] == ["AWAITING_PAYMENT"]


async def test_the_policy_absorbs_a_small_difference(exchange_shop: Any) -> None:
    setup: ExchangeShop = await exchange_shop(difference="-4.50")
    body = await graphql(
        setup.shop.client,
        POLICY,
        {"input": {"exchangeAbsorbLimit": "5.00"}},
        setup.shop.headers,
    )
    assert body["data"]["updateReturnPolicy"]["userErrors"] == []
    return_id = await setup.resolved()

    found = await setup.view(return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    assert found["exchange"]["absorbed"] == {"amount": "4.50"}
    assert found["outcome"]["exchangeDiscount"] == {"amount": "4.50"}
    assert Decimal(found["outcome"]["balanceDue"]["amount"]) == 0
    assert found["exchange"]["fulfillmentStatus"] == "OPEN"


async def test_an_exchange_waits_for_approval_before_reaching_shopify(
    exchange_shop: Any,
) -> None:
    setup: ExchangeShop = await exchange_shop(difference="1.00")
    created = await setup.ask()
    return_id = str(created["return"]["id"])
    await run_mirror(setup.shop.settings, setup.shop.http)
    record = await Return.find_one({"tenant_id": setup.shop.tenant.tenant_id})
    assert record is not None and record.shopify_return_id is None  # not approved yet

    await decide(setup.shop.client, setup.shop.headers, "approve", return_id)
    await run_mirror(setup.shop.settings, setup.shop.http)
    record = await Return.find_one({"tenant_id": setup.shop.tenant.tenant_id})
    assert record is not None and record.shopify_return_id is not None
    assert set(record.shopify_applied) == {"request", "approve"}


async def test_an_exchange_whose_items_did_not_come_back_is_not_processed(
    exchange_shop: Any,
) -> None:
    """Shopify would count missing units as returned and ship the exchange: refused, visibly."""
    setup: ExchangeShop = await exchange_shop(difference="-4.50")
    created = await setup.ask()
    return_id = str(created["return"]["id"])
    shop = setup.shop
    await decide(shop.client, shop.headers, "approve", return_id)
    body = await graphql(
        shop.client,
        """mutation ($id: ID!, $items: [ReturnItemReceiptInput!]) {
          markReturnReceived(id: $id, items: $items) { userErrors { code } } }""",
        {
            "id": return_id,
            "items": [{"lineItemId": shop.order.line_items[0].id, "condition": "MISSING"}],
        },
        shop.headers,
    )
    assert body["data"]["markReturnReceived"]["userErrors"] == []
    await decide(shop.client, shop.headers, "resolve", return_id)
    await run_mirror(shop.settings, shop.http)

    found = await setup.view(return_id)
    assert found["shopifySync"]["status"] == "FAILED"
    assert "did not come back" in found["shopifySync"]["error"]
    assert found["exchange"]["fulfillmentOrderId"] is None
    order = await shop.control.order(shop.tenant.domain, shop.order.shopify_id)
    assert order["fulfillment_orders"] == [] and order["refunds"] == []
