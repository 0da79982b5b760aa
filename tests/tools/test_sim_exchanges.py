"""Exchanges: `returnCreate` with exchange lines, `Return.exchangeLineItems`, processing them
(new order line items, stock, a fulfillment order held while the customer owes) and the
suggested financial outcome of returned against exchanged goods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import WebhookReceiver
from tests.tools.sim_helpers import answer, data_of, money, paid_order, process
from tools.shopify_sim import BucketConfig, SimulatorControl
from tools.shopify_sim import returns as returns_api
from tools.shopify_sim.control_client import InstalledShop
from tools.shopify_sim.seed import new_shop

CREATE = """
mutation ($input: ReturnInput!) { returnCreate(returnInput: $input) {
  return { id status totalQuantity
    returnLineItems(first: 5) { nodes { id quantity processedQuantity } }
    exchangeLineItems(first: 5) { nodes { id quantity processedQuantity processableQuantity
      unprocessedQuantity variantId lineItems { id } } }
    reverseFulfillmentOrders(first: 2) { nodes { id status
      lineItems(first: 5) { nodes { id totalQuantity fulfillmentLineItem { id } } } } } }
  userErrors { field message code } } }
"""
EXCHANGES = """
query ($id: ID!) { return(id: $id) { status
  exchangeLineItems(first: 5) { nodes { id quantity processedQuantity processableQuantity
    unprocessedQuantity variantId lineItems { id } } } } }
"""
VARIANT = """
query ($id: ID!) { productVariant(id: $id) {
  id title price inventoryQuantity availableForSale product { id title } } }
"""
FULFILLMENT_ORDERS = """
query ($id: ID!) { order(id: $id) {
  fulfillmentOrders(first: 2) { nodes { id status fulfillmentHolds { reason reasonNotes }
    lineItems(first: 3) { nodes { id totalQuantity lineItem { id } } } } } } }
"""
NEW_LINES = """
query ($id: ID!) { order(id: $id) { lineItems(first: 10) { nodes { id quantity currentQuantity
  unfulfilledQuantity variant { id }
  originalUnitPriceSet { presentmentMoney { amount currencyCode } }
  totalDiscountSet { presentmentMoney { amount currencyCode } }
  discountedTotalSet { presentmentMoney { amount currencyCode } } } } } }
"""
SUGGEST = """
query ($id: ID!, $lines: [SuggestedOutcomeReturnLineItemInput!]!,
       $exchanges: [SuggestedOutcomeExchangeLineItemInput!]) {
  return(id: $id) { suggestedFinancialOutcome(returnLineItems: $lines, exchangeLineItems: $exchanges) {
    discountedSubtotal { presentmentMoney { amount currencyCode } }
    totalTax { presentmentMoney { amount currencyCode } }
    financialTransfer { __typename
      ... on RefundReturnOutcome { amount { presentmentMoney { amount currencyCode } } }
      ... on InvoiceReturnOutcome { amount { presentmentMoney { amount currencyCode } } } } } } }
"""
SUBSCRIBE = """
mutation ($url: URL!) { webhookSubscriptionCreate(topic: RETURNS_APPROVE,
  webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { field message } } }
"""
TAX = Decimal("0.08")


def quantum(currency: str) -> Decimal:
    return Decimal(1) if currency == "JPY" else Decimal("0.01")


def taxed(subtotal: Decimal, currency: str) -> Decimal:
    """A line's subtotal plus its tax, rounded half up as the simulator does."""
    return subtotal + (subtotal * TAX).quantize(quantum(currency), rounding=ROUND_HALF_UP)


async def shop_with_variants(
    control: SimulatorControl, currency: str = "USD"
) -> tuple[InstalledShop, list[str]]:
    """A shop and some of its variants (those of its seeded orders)."""
    shop = await control.create_shop(orders=6, currency=currency)
    seeded = (await control.orders(shop.domain))["orders"]
    variants = list(
        dict.fromkeys(line["variant"]["id"] for order in seeded for line in order["lineItems"])
    )
    assert len(variants) >= 2
    return shop, variants


async def variant_of(
    control: SimulatorControl, shop: InstalledShop, variant_id: str
) -> dict[str, Any]:
    found: dict[str, Any] = (await data_of(control, shop, VARIANT, {"id": variant_id}))[
        "productVariant"
    ]
    return found


async def stock_at_main(
    control: SimulatorControl, shop: InstalledShop, variant_id: str, available: int | None = None
) -> int:
    """The variant's `available` at the main warehouse (set first when given)."""
    if available is not None:
        main = (await control.locations(shop.domain))["locations"][0]["id"]
        await control.set_inventory(shop.domain, variant_id, main, available)
    levels = (await control.inventory(shop.domain, variant_id))["levels"]
    count: int = levels[0]["available"]
    return count


async def bought(
    control: SimulatorControl,
    shop: InstalledShop,
    variant_id: str,
    price: Decimal,
    quantity: int = 1,
) -> tuple[dict[str, Any], str]:
    """A fulfilled, paid order of one line; (order, its fulfillment line item id)."""
    order = await paid_order(
        control,
        shop,
        [{"variant_id": variant_id, "quantity": quantity, "price": str(price), "discount": "0"}],
    )
    item_id: str = order["fulfillments"][0]["fulfillmentLineItems"][0]["id"]
    return order, item_id


async def create(
    control: SimulatorControl, shop: InstalledShop, return_input: dict[str, Any]
) -> dict[str, Any]:
    created: dict[str, Any] = (await data_of(control, shop, CREATE, {"input": return_input}))[
        "returnCreate"
    ]
    return created


async def exchange_return(
    control: SimulatorControl,
    shop: InstalledShop,
    order: dict[str, Any],
    item_id: str,
    exchange: dict[str, Any],
) -> tuple[str, str, str]:
    """`returnCreate` of one unit for one exchange line: (return id, return line, exchange line)."""
    created = await create(
        control,
        shop,
        {
            "orderId": order["id"],
            "returnLineItems": [
                {"fulfillmentLineItemId": item_id, "quantity": 1, "returnReason": "SIZE_TOO_SMALL"}
            ],
            "exchangeLineItems": [exchange],
        },
    )
    assert created["userErrors"] == [], created["userErrors"]
    record = created["return"]
    (line,) = record["returnLineItems"]["nodes"]
    (exchange_line,) = record["exchangeLineItems"]["nodes"]
    return record["id"], line["id"], exchange_line["id"]


async def suggest(
    control: SimulatorControl,
    shop: InstalledShop,
    return_id: str,
    lines: list[tuple[str, int]],
    exchanges: list[tuple[str, int]],
) -> dict[str, Any]:
    outcome: dict[str, Any] = (
        await data_of(
            control,
            shop,
            SUGGEST,
            {
                "id": return_id,
                "lines": [{"id": i, "quantity": q} for i, q in lines],
                "exchanges": [{"id": i, "quantity": q} for i, q in exchanges],
            },
        )
    )["return"]["suggestedFinancialOutcome"]
    return outcome


def transfer(outcome: dict[str, Any]) -> tuple[str, str]:
    found = outcome["financialTransfer"]
    return found["__typename"], found["amount"]["presentmentMoney"]["amount"]


async def fulfillment_orders(
    control: SimulatorControl, shop: InstalledShop, order_id: str
) -> dict[str, Any]:
    return await answer(control, shop, FULFILLMENT_ORDERS, {"id": order_id})


def refund_of(sale: dict[str, Any], amount: Decimal, currency: str = "USD") -> dict[str, Any]:
    return {
        "issueRefund": {
            "orderTransactions": [
                {
                    "transactionId": sale["id"],
                    "transactionAmount": {"amount": str(amount), "currencyCode": currency},
                }
            ]
        }
    }


async def test_return_create_with_an_exchange_line_opens_the_return(
    sim_control: SimulatorControl, webhook_receiver: WebhookReceiver
) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    path = webhook_receiver.new_path(200)
    subscribed = await data_of(sim_control, shop, SUBSCRIBE, {"url": webhook_receiver.url(path)})
    assert subscribed["webhookSubscriptionCreate"]["userErrors"] == []
    assert await stock_at_main(sim_control, shop, wanted, 4) == 4
    variant = await variant_of(sim_control, shop, wanted)
    assert variant["id"] == wanted and variant["product"]["id"].startswith("gid://shopify/Product/")
    assert (variant["inventoryQuantity"], variant["availableForSale"]) == (4, True)
    order, item_id = await bought(sim_control, shop, returned_variant, Decimal("30.00"), 2)

    created = await create(
        sim_control,
        shop,
        {
            "orderId": order["id"],
            "returnLineItems": [{"fulfillmentLineItemId": item_id, "quantity": 2}],
            "exchangeLineItems": [{"variantId": wanted, "quantity": 2}],
            "notifyCustomer": False,
            "requestedAt": "2026-01-02T10:00:00Z",
        },
    )
    assert created["userErrors"] == []
    record = created["return"]
    assert (record["status"], record["totalQuantity"]) == ("OPEN", 2)
    (line,) = record["returnLineItems"]["nodes"]
    (reverse,) = record["reverseFulfillmentOrders"]["nodes"]
    assert reverse["status"] == "OPEN"
    assert [
        (r["totalQuantity"], r["fulfillmentLineItem"]["id"]) for r in reverse["lineItems"]["nodes"]
    ] == [(2, item_id)]
    (exchange,) = record["exchangeLineItems"]["nodes"]
    assert exchange["id"].startswith("gid://shopify/ExchangeLineItem/")
    assert exchange == {
        "id": exchange["id"],
        "quantity": 2,
        "processedQuantity": 0,
        "processableQuantity": 2,
        "unprocessedQuantity": 2,
        "variantId": wanted,
        "lineItems": [],
    }
    (delivery,) = await webhook_receiver.wait_for(path, 1)
    assert delivery.headers["x-shopify-topic"] == "returns/approve"
    payload = orjson.loads(delivery.body)
    assert (payload["admin_graphql_api_id"], payload["status"]) == (record["id"], "open")

    # nothing is taken from stock before the exchange is processed
    assert await stock_at_main(sim_control, shop, wanted) == 4
    state = await sim_control.shop_state(shop.domain)
    (shown,) = [r for r in state["returns"] if r["id"] == record["id"]]
    assert shown["exchange_line_items"] == [
        {
            "id": exchange["id"],
            "variant_id": wanted,
            "quantity": 2,
            "processed_quantity": 0,
            "unit_price": variant["price"],
            "discount": "0.00",
            "discount_description": None,
            "line_item_ids": [],
        }
    ]
    assert [entry["id"] for entry in shown["line_items"]] == [line["id"]]
    assert await sim_control.fulfillment_orders(shop.domain, order["id"]) == []

    # staff create takes exchange lines too (the same code as returnCreate)
    other, other_item = await bought(sim_control, shop, returned_variant, Decimal("12.00"))
    staff = await sim_control.staff_return(
        shop.domain,
        "create",
        orderId=other["id"],
        returnLineItems=[{"fulfillmentLineItemId": other_item, "quantity": 1}],
        exchangeLineItems=[
            {
                "variantId": wanted,
                "quantity": 1,
                "appliedDiscount": {"description": "Swap", "value": {"percentage": 10}},
            }
        ],
    )
    assert staff["return"]["status"] == "OPEN" and staff["event"]["topic"] == "returns/approve"
    (staff_exchange,) = staff["return"]["exchange_line_items"]
    ten_percent = (Decimal(variant["price"]) / 10).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert (staff_exchange["discount"], staff_exchange["discount_description"]) == (
        str(ten_percent),
        "Swap",
    )

    listed = await answer(sim_control, shop, EXCHANGES, {"id": record["id"]})
    # return 1 + connection 2 + 5 x (node 1 + lineItems as one object 1); one node returned,
    # its lineItems empty
    assert listed["extensions"]["cost"]["requestedQueryCost"] == 1 + 2 + 5 * 2
    assert listed["extensions"]["cost"]["actualQueryCost"] == 1 + 2 + 1


async def test_an_out_of_stock_or_bad_exchange_is_refused_and_nothing_changes(
    sim_control: SimulatorControl,
) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    await stock_at_main(sim_control, shop, wanted, 0)
    variant = await variant_of(sim_control, shop, wanted)
    assert (variant["inventoryQuantity"], variant["availableForSale"]) == (0, False)
    order, item_id = await bought(sim_control, shop, returned_variant, Decimal("20.00"))
    line = {"fulfillmentLineItemId": item_id, "quantity": 1}
    base = {"orderId": order["id"], "returnLineItems": [line]}

    out_of_stock = await create(
        sim_control, shop, base | {"exchangeLineItems": [{"variantId": wanted, "quantity": 1}]}
    )
    assert out_of_stock["return"] is None
    (error,) = out_of_stock["userErrors"]
    assert (error["code"], error["field"]) == (
        "INVALID",
        ["returnInput", "exchangeLineItems", "0", "quantity"],
    )
    assert "out of stock" in error["message"]

    await stock_at_main(sim_control, shop, wanted, 1)
    price = Decimal(variant["price"])
    refused = await create(
        sim_control,
        shop,
        {
            "orderId": order["id"],
            "returnLineItems": [line | {"quantity": 5}],
            "exchangeLineItems": [
                {"variantId": "gid://shopify/ProductVariant/1", "quantity": 1},
                {"variantId": wanted, "quantity": 0},
                {"variantId": wanted, "quantity": 2},  # 1 in stock
                {
                    "variantId": wanted,
                    "quantity": 1,
                    "appliedDiscount": {
                        "value": {"amount": {"amount": str(price + 1), "currencyCode": "USD"}}
                    },
                },
                {
                    "variantId": wanted,
                    "quantity": 1,
                    "appliedDiscount": {
                        "value": {"amount": {"amount": "1.00", "currencyCode": "EUR"}}
                    },
                },
                {
                    "variantId": wanted,
                    "quantity": 1,
                    "appliedDiscount": {
                        "value": {"amount": {"amount": "1.001", "currencyCode": "USD"}}
                    },
                },
                {
                    "variantId": wanted,
                    "quantity": 1,
                    "appliedDiscount": {
                        "value": {
                            "amount": {"amount": "1.00", "currencyCode": "USD"},
                            "percentage": 5,
                        }
                    },
                },
                {
                    "variantId": wanted,
                    "quantity": 1,
                    "appliedDiscount": {"value": {"percentage": 150}},
                },
            ],
        },
    )
    assert refused["return"] is None
    exchange_field = ["returnInput", "exchangeLineItems"]
    discount = ["appliedDiscount", "value"]
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("LESS_THAN_OR_EQUAL_TO", ["returnInput", "returnLineItems", "0", "quantity"]),
        ("NOT_FOUND", [*exchange_field, "0", "variantId"]),
        ("GREATER_THAN", [*exchange_field, "1", "quantity"]),
        ("INVALID", [*exchange_field, "2", "quantity"]),
        ("INVALID", [*exchange_field, "3", *discount, "amount", "amount"]),
        ("INVALID", [*exchange_field, "4", *discount, "amount", "currencyCode"]),
        ("INVALID", [*exchange_field, "5", *discount, "amount", "amount"]),
        ("INVALID", [*exchange_field, "6", *discount]),
        ("INVALID", [*exchange_field, "7", *discount, "percentage"]),
    ]
    state = await sim_control.shop_state(shop.domain)
    assert state["returns"] == []
    assert await stock_at_main(sim_control, shop, wanted) == 1
    assert (await sim_control.order(shop.domain, order["id"]))["lineItems"] == order["lineItems"]


async def test_a_cheaper_exchange_refunds_the_difference(sim_control: SimulatorControl) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    await stock_at_main(sim_control, shop, wanted, 3)
    price = Decimal((await variant_of(sim_control, shop, wanted))["price"])
    paid_for = price + Decimal("20.00")
    order, item_id = await bought(sim_control, shop, returned_variant, paid_for)
    (sale,) = order["transactions"]
    return_id, line_id, exchange_id = await exchange_return(
        sim_control, shop, order, item_id, {"variantId": wanted, "quantity": 1}
    )
    difference = taxed(paid_for, "USD") - taxed(price, "USD")
    outcome = await suggest(sim_control, shop, return_id, [(line_id, 1)], [(exchange_id, 1)])
    assert transfer(outcome) == ("RefundReturnOutcome", str(difference))
    # the returned goods alone, as before
    assert outcome["discountedSubtotal"] == money(str(paid_for), "USD")

    processed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [{"id": exchange_id, "quantity": 1}],
            "financialTransfer": refund_of(sale, difference),
        },
    )
    assert processed["userErrors"] == []
    assert processed["return"]["status"] == "CLOSED"
    assert await stock_at_main(sim_control, shop, wanted) == 2

    shown = await sim_control.order(shop.domain, order["id"])
    (refund,) = shown["refunds"]
    assert refund["totalRefundedSet"]["presentmentMoney"]["amount"] == str(difference)
    (fulfillment_order,) = shown["fulfillment_orders"]
    new_line = shown["lineItems"][-1]
    assert fulfillment_order == {
        "id": fulfillment_order["id"],
        "status": "OPEN",
        "hold_reasons": [],
        "return_id": return_id,
        "line_items": [
            {
                "id": fulfillment_order["line_items"][0]["id"],
                "line_item_id": new_line["id"],
                "variant_id": wanted,
                "quantity": 1,
            }
        ],
    }
    lines = (await data_of(sim_control, shop, NEW_LINES, {"id": order["id"]}))["order"][
        "lineItems"
    ]["nodes"]
    assert len(lines) == 2
    assert lines[1] == {
        "id": new_line["id"],
        "quantity": 1,
        "currentQuantity": 1,
        "unfulfilledQuantity": 1,
        "variant": {"id": wanted},
        "originalUnitPriceSet": money(str(price), "USD"),
        "totalDiscountSet": money("0.00", "USD"),
        "discountedTotalSet": money(str(price), "USD"),
    }
    exchanges = (await data_of(sim_control, shop, EXCHANGES, {"id": return_id}))["return"]
    (exchange,) = exchanges["exchangeLineItems"]["nodes"]
    assert (exchange["processedQuantity"], exchange["processableQuantity"]) == (1, 0)
    assert exchange["lineItems"] == [{"id": new_line["id"]}]

    listed = await fulfillment_orders(sim_control, shop, order["id"])
    (node,) = listed["data"]["order"]["fulfillmentOrders"]["nodes"]
    assert (node["id"], node["status"], node["fulfillmentHolds"]) == (
        fulfillment_order["id"],
        "OPEN",
        [],
    )
    # order 1 + connection 2 + 2 x (node 1 + holds 1 + lines 2 + 3 x (1 + lineItem 1))
    assert listed["extensions"]["cost"]["requestedQueryCost"] == 1 + 2 + 2 * (1 + 1 + 2 + 3 * 2)
    assert listed["extensions"]["cost"]["actualQueryCost"] == 1 + 2 + (1 + 0 + 2 + 2)

    # shipping it closes the fulfillment order
    await sim_control.update_order(shop.domain, order["id"], fulfill=True)
    (closed,) = await sim_control.fulfillment_orders(shop.domain, order["id"])
    assert closed["status"] == "CLOSED"


async def test_refunding_more_than_the_difference_holds_the_exchange(
    sim_control: SimulatorControl,
) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    await stock_at_main(sim_control, shop, wanted, 1)
    price = Decimal((await variant_of(sim_control, shop, wanted))["price"])
    paid_for = price + Decimal("5.00")
    order, item_id = await bought(sim_control, shop, returned_variant, paid_for)
    (sale,) = order["transactions"]
    return_id, line_id, exchange_id = await exchange_return(
        sim_control, shop, order, item_id, {"variantId": wanted, "quantity": 1}
    )
    difference = taxed(paid_for, "USD") - taxed(price, "USD")
    processed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [{"id": exchange_id, "quantity": 1}],
            "financialTransfer": refund_of(sale, difference + Decimal("1.00")),
        },
    )
    assert processed["userErrors"] == []
    # the customer got 1.00 more back than the exchange left them: they owe it
    (held,) = await sim_control.fulfillment_orders(shop.domain, order["id"])
    assert (held["status"], held["hold_reasons"]) == ("ON_HOLD", ["AWAITING_PAYMENT"])
    assert await stock_at_main(sim_control, shop, wanted) == 0


async def dearer_exchange(
    control: SimulatorControl, shop: InstalledShop, returned_variant: str, wanted: str
) -> tuple[dict[str, Any], Decimal, Decimal, tuple[str, str, str]]:
    """An order of a unit worth 60% of `wanted`, returned for one `wanted`: (order, price of
    `wanted`, price paid, ids of the return, its line and its exchange line)."""
    await stock_at_main(control, shop, wanted, 3)
    price = Decimal((await variant_of(control, shop, wanted))["price"])
    paid_for = (price * Decimal("0.6")).quantize(Decimal("0.01"))
    order, item_id = await bought(control, shop, returned_variant, paid_for)
    ids = await exchange_return(control, shop, order, item_id, {"variantId": wanted, "quantity": 1})
    return order, price, paid_for, ids


async def test_a_dearer_exchange_is_held_until_the_balance_is_paid(
    sim_control: SimulatorControl,
) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    order, price, paid_for, (return_id, line_id, exchange_id) = await dearer_exchange(
        sim_control, shop, returned_variant, wanted
    )
    owed = taxed(price, "USD") - taxed(paid_for, "USD")
    assert owed > 0
    outcome = await suggest(sim_control, shop, return_id, [(line_id, 1)], [(exchange_id, 1)])
    assert transfer(outcome) == ("InvoiceReturnOutcome", str(owed))
    exchange_only = await suggest(sim_control, shop, return_id, [], [(exchange_id, 1)])
    assert transfer(exchange_only) == ("InvoiceReturnOutcome", str(taxed(price, "USD")))
    for exchanges in ([("gid://shopify/ExchangeLineItem/1", 1)], [(exchange_id, 2)]):
        refused = await answer(
            sim_control,
            shop,
            SUGGEST,
            {
                "id": return_id,
                "lines": [],
                "exchanges": [{"id": i, "quantity": q} for i, q in exchanges],
            },
        )
        assert refused["errors"]

    bad = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "exchangeLineItems": [
                {"id": "gid://shopify/ExchangeLineItem/1", "quantity": 1},
                {"id": exchange_id, "quantity": 2},
            ],
        },
    )
    assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [
        ("NOT_FOUND", ["input", "exchangeLineItems", "0", "id"]),
        ("INVALID", ["input", "exchangeLineItems", "1", "quantity"]),
    ]
    assert await stock_at_main(sim_control, shop, wanted) == 3

    processed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [{"id": exchange_id, "quantity": 1}],
        },
    )
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
    assert await stock_at_main(sim_control, shop, wanted) == 2
    listed = await fulfillment_orders(sim_control, shop, order["id"])
    (node,) = listed["data"]["order"]["fulfillmentOrders"]["nodes"]
    assert node["status"] == "ON_HOLD"
    (hold,) = node["fulfillmentHolds"]
    assert hold["reason"] == "AWAITING_PAYMENT" and str(owed) in hold["reasonNotes"]
    assert listed["extensions"]["cost"]["actualQueryCost"] == 1 + 2 + (1 + 1 + 2 + 2)
    (shown,) = await sim_control.fulfillment_orders(shop.domain, order["id"])
    assert (shown["status"], shown["hold_reasons"]) == ("ON_HOLD", ["AWAITING_PAYMENT"])
    assert (await sim_control.order(shop.domain, order["id"]))["refunds"] == []

    # a held exchange does not ship
    await sim_control.update_order(shop.domain, order["id"], fulfill=True)
    after = await sim_control.order(shop.domain, order["id"])
    assert after["lineItems"][-1]["unfulfilledQuantity"] == 1
    assert after["fulfillment_orders"][0]["status"] == "ON_HOLD"


async def test_a_discount_covering_the_difference_is_not_held(
    sim_control: SimulatorControl,
) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    await stock_at_main(sim_control, shop, wanted, 2)
    price = Decimal((await variant_of(sim_control, shop, wanted))["price"])
    paid_for = (price * Decimal("0.6")).quantize(Decimal("0.01"))
    order, item_id = await bought(sim_control, shop, returned_variant, paid_for)
    cover = price - paid_for  # the exchange then costs exactly what was returned
    return_id, line_id, exchange_id = await exchange_return(
        sim_control,
        shop,
        order,
        item_id,
        {
            "variantId": wanted,
            "quantity": 1,
            "appliedDiscount": {
                "description": "Even swap",
                "value": {"amount": {"amount": str(cover), "currencyCode": "USD"}},
            },
        },
    )
    outcome = await suggest(sim_control, shop, return_id, [(line_id, 1)], [(exchange_id, 1)])
    assert transfer(outcome) == ("RefundReturnOutcome", "0.00")
    processed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [{"id": exchange_id, "quantity": 1}],
        },
    )
    assert processed["userErrors"] == []
    shown = await sim_control.order(shop.domain, order["id"])
    (fulfillment_order,) = shown["fulfillment_orders"]
    assert (fulfillment_order["status"], fulfillment_order["hold_reasons"]) == ("OPEN", [])
    new_line = shown["lineItems"][-1]
    assert new_line["totalDiscountSet"]["presentmentMoney"]["amount"] == str(cover)
    assert new_line["discountedTotalSet"]["presentmentMoney"]["amount"] == str(paid_for)
    assert new_line["discountAllocations"] == [{"allocatedAmountSet": new_line["totalDiscountSet"]}]


async def test_a_refund_while_a_balance_is_owed_is_refused(sim_control: SimulatorControl) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control)
    order, _price, _paid, (return_id, line_id, exchange_id) = await dearer_exchange(
        sim_control, shop, returned_variant, wanted
    )
    (sale,) = order["transactions"]
    before = await sim_control.order(shop.domain, order["id"])
    refused = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [{"id": exchange_id, "quantity": 1}],
            "financialTransfer": refund_of(sale, Decimal("1.00")),
        },
    )
    (error,) = refused["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "financialTransfer"])
    assert "owes" in error["message"]
    assert refused["return"]["status"] == "OPEN"
    assert await sim_control.order(shop.domain, order["id"]) == before
    assert await stock_at_main(sim_control, shop, wanted) == 3
    record = (await data_of(sim_control, shop, EXCHANGES, {"id": return_id}))["return"]
    assert record["exchangeLineItems"]["nodes"][0]["processedQuantity"] == 0
    state = await sim_control.shop_state(shop.domain)
    (shown,) = state["returns"]
    assert shown["line_items"][0]["processed_quantity"] == 0

    # the returned goods alone may still be refunded, the exchange processed later (held)
    alone = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "exchangeLineItems": [],
            "financialTransfer": refund_of(sale, Decimal("1.00")),
        },
    )
    assert alone["userErrors"] == [] and alone["return"]["status"] == "OPEN"
    later = await process(
        sim_control,
        shop,
        {"returnId": return_id, "exchangeLineItems": [{"id": exchange_id, "quantity": 1}]},
    )
    assert later["userErrors"] == [] and later["return"]["status"] == "CLOSED"
    (held,) = await sim_control.fulfillment_orders(shop.domain, order["id"])
    assert held["hold_reasons"] == ["AWAITING_PAYMENT"]


async def test_jpy_exchange_amounts_are_exact(sim_control: SimulatorControl) -> None:
    shop, (returned_variant, wanted, *_) = await shop_with_variants(sim_control, "JPY")
    await stock_at_main(sim_control, shop, wanted, 5)
    variant = await variant_of(sim_control, shop, wanted)
    price = Decimal(variant["price"])
    assert "." not in variant["price"]
    order, item_id = await bought(sim_control, shop, returned_variant, price)
    # two of the same variant at 15% off for one returned
    return_id, line_id, exchange_id = await exchange_return(
        sim_control,
        shop,
        order,
        item_id,
        {"variantId": wanted, "quantity": 2, "appliedDiscount": {"value": {"percentage": 15}}},
    )
    discount = (2 * price * Decimal("0.15")).quantize(Decimal(1), ROUND_HALF_UP)
    owed = taxed(2 * price - discount, "JPY") - taxed(price, "JPY")
    outcome = await suggest(sim_control, shop, return_id, [(line_id, 1)], [(exchange_id, 2)])
    assert transfer(outcome) == ("InvoiceReturnOutcome", str(owed))
    assert outcome["totalTax"] == money(
        str((price * TAX).quantize(Decimal(1), ROUND_HALF_UP)), "JPY"
    )
    (sale,) = order["transactions"]
    refused = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "exchangeLineItems": [{"id": exchange_id, "quantity": 2}],
            "returnLineItems": [{"id": line_id, "quantity": 1}],
            "financialTransfer": refund_of(sale, Decimal(1), "JPY"),
        },
    )
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID"]
    processed = await process(sim_control, shop, {"returnId": return_id})  # everything
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
    assert await stock_at_main(sim_control, shop, wanted) == 3
    shown = await sim_control.order(shop.domain, order["id"])
    new_line = shown["lineItems"][-1]
    assert (new_line["quantity"], new_line["variant"]["id"]) == (2, wanted)
    assert new_line["originalUnitPriceSet"] == {
        "shopMoney": {"amount": str(price), "currencyCode": "JPY"},
        "presentmentMoney": {"amount": str(price), "currencyCode": "JPY"},
    }
    assert new_line["totalDiscountSet"]["presentmentMoney"]["amount"] == str(discount)
    assert new_line["discountedTotalSet"]["presentmentMoney"]["amount"] == str(2 * price - discount)
    (fulfillment_order,) = shown["fulfillment_orders"]
    assert fulfillment_order["hold_reasons"] == ["AWAITING_PAYMENT"]
    assert fulfillment_order["line_items"][0]["quantity"] == 2
    state = await sim_control.shop_state(shop.domain)
    (record,) = state["returns"]
    (exchange,) = record["exchange_line_items"]
    assert (exchange["unit_price"], exchange["discount"], exchange["processed_quantity"]) == (
        str(price),
        str(discount),
        2,
    )
    assert exchange["line_item_ids"] == [new_line["id"]]


def test_exchanges_leave_the_shops_own_stream_alone() -> None:
    """Creating a return with exchange lines draws from `shop.rng` exactly what one without
    does, and processing them (line items, fulfillment orders) nothing at all."""
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    shops = [
        new_shop(
            "exchange-streams.myshopify.com",
            seed=4,
            orders=20,
            bucket=BucketConfig(),
            compliance_url=None,
            now=now,
        )
        for _ in range(2)
    ]
    for shop, with_exchange in zip(shops, (False, True), strict=True):
        order, item = next(
            (order, items[0][0])
            for order in shop.orders
            if (items := returns_api.returnable_items(shop, order))
        )
        variant_id = next(iter(shop.inventory_items))
        shop.inventory_items[variant_id]["_levels"][0]["_quantities"]["available"] = 3
        data: dict[str, Any] = {
            "orderId": order["id"],
            "returnLineItems": [{"fulfillmentLineItemId": item["id"], "quantity": 1}],
        }
        if with_exchange:
            data["exchangeLineItems"] = [{"variantId": variant_id, "quantity": 2}]
        created = returns_api.create_open(shop, data, root="returnInput")
        assert created["userErrors"] == []
        state = shop.rng.getstate()
        processed = returns_api.process(shop, {"returnId": created["return"]["id"]})
        assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
        assert shop.rng.getstate() == state
        if with_exchange:
            (fulfillment_order,) = order["_fulfillment_orders"]
            assert fulfillment_order["_lines"][0]["totalQuantity"] == 2
            level = shop.inventory_items[variant_id]["_levels"][0]["_quantities"]
            assert (level["available"], level["committed"]) == (1, 2)
    assert shops[0].rng.getstate() == shops[1].rng.getstate()


PRODUCT_VARIANTS = """
query ($id: ID!, $first: Int) { product(id: $id) { id title
  variants(first: $first) { nodes { id title price inventoryQuantity availableForSale } } } }
"""


async def test_product_lists_its_variants_with_stock_at_shopify_cost(
    sim_control: SimulatorControl,
) -> None:
    shop, (variant_id, *_) = await shop_with_variants(sim_control)
    product_id = (await variant_of(sim_control, shop, variant_id))["product"]["id"]
    await stock_at_main(sim_control, shop, variant_id, 0)

    listed = await answer(sim_control, shop, PRODUCT_VARIANTS, {"id": product_id, "first": 20})

    assert "errors" not in listed, listed
    product = listed["data"]["product"]
    nodes = product["variants"]["nodes"]
    # the seed gives every product one to three colours in three sizes each
    assert len(nodes) in (3, 6, 9)
    assert all(node["title"].count(" / ") == 1 for node in nodes)
    chosen = next(node for node in nodes if node["id"] == variant_id)
    assert (chosen["inventoryQuantity"], chosen["availableForSale"]) == (0, False)
    for node in nodes:  # each variant as `productVariant` shows it
        alone = await variant_of(sim_control, shop, node["id"])
        assert node == {field: alone[field] for field in node}
        assert alone["product"]["id"] == product_id
    # 1 for the product, 2 for the connection and 1 per variant: requested for `first`, actual
    # for the variants returned
    cost = listed["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (1 + 2 + 20, 1 + 2 + len(nodes))

    missing = await data_of(
        sim_control, shop, PRODUCT_VARIANTS, {"id": "gid://shopify/Product/1", "first": 5}
    )
    assert missing["product"] is None
    unsized = await answer(sim_control, shop, PRODUCT_VARIANTS, {"id": product_id})
    assert "you must provide one of first or last" in unsized["errors"][0]["message"]
