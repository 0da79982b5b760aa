"""Return fees (restocking, return shipping) and `Return.suggestedFinancialOutcome`: every
amount rounded half up once per return line, then summed."""

from __future__ import annotations

from typing import Any

from tests.simulator_fixtures import *  # noqa: F403
from tests.tools.sim_helpers import (
    answer,
    money,
    open_return,
    paid_order,
    process,
    request_return,
)
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

SUGGEST = """
query ($id: ID!, $lines: [SuggestedOutcomeReturnLineItemInput!]!, $allocation: RefundMethodAllocation) {
  return(id: $id) {
    suggestedFinancialOutcome(returnLineItems: $lines, refundMethodAllocation: $allocation) {
      discountedSubtotal { presentmentMoney { amount currencyCode } }
      totalAdditionalFees { presentmentMoney { amount currencyCode } }
      totalTax { presentmentMoney { amount currencyCode } }
      maximumRefundable { presentmentMoney { amount currencyCode } }
      financialTransfer { __typename
        ... on RefundReturnOutcome { amount { presentmentMoney { amount currencyCode } } }
        ... on InvoiceReturnOutcome { amount { presentmentMoney { amount currencyCode } } } } } } }
"""


def fee(percentage: float) -> dict[str, Any]:
    return {"percentage": percentage}


def shipping(amount: str, currency: str = "USD") -> dict[str, Any]:
    return {"amount": {"amount": amount, "currencyCode": currency}}


async def suggest(
    control: SimulatorControl,
    shop: InstalledShop,
    return_id: str,
    lines: list[tuple[str, int]],
    allocation: str | None = None,
) -> dict[str, Any]:
    body = await answer(
        control,
        shop,
        SUGGEST,
        {
            "id": return_id,
            "lines": [{"id": line, "quantity": quantity} for line, quantity in lines],
            "allocation": allocation,
        },
    )
    return body


def amounts(outcome: dict[str, Any]) -> tuple[str, ...]:
    transfer = outcome["financialTransfer"]
    return (
        outcome["discountedSubtotal"]["presentmentMoney"]["amount"],
        outcome["totalAdditionalFees"]["presentmentMoney"]["amount"],
        outcome["totalTax"]["presentmentMoney"]["amount"],
        outcome["maximumRefundable"]["presentmentMoney"]["amount"],
        transfer["__typename"],
        transfer["amount"]["presentmentMoney"]["amount"],
    )


async def test_restocking_fee_on_a_discounted_line_is_rounded_per_line(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(
        sim_control,
        shop,
        [
            # 3 units at 10.00 less 1.00 for the line: 9.666... each
            {"quantity": 3, "price": "10.00", "discount": "1.00"},
            {"quantity": 1, "price": "18.25", "discount": "0"},
        ],
    )
    # 29.00 + 18.25 = 47.25; + 7.95 shipping + 3.78 tax
    assert order["totalPriceSet"]["presentmentMoney"]["amount"] == "58.98"
    first, second = order["lineItems"]
    record = await open_return(
        sim_control,
        shop,
        order["id"],
        [
            {"lineItemId": first["id"], "quantity": 3, "restockingFee": fee(10)},
            {"lineItemId": second["id"], "quantity": 1, "restockingFee": fee(10)},
        ],
        returnShippingFee=shipping("2.50"),
    )
    line_a, line_b = record["returnLineItems"]["nodes"]
    assert line_a["restockingFee"]["id"].startswith("gid://shopify/RestockingFee/")
    assert line_a["restockingFee"]["percentage"] == 10.0
    assert line_a["restockingFee"]["amountSet"] == money("2.90", "USD")  # 10% of 29.00
    assert line_b["restockingFee"]["amountSet"] == money("1.83", "USD")  # 1.825, half up
    (shipping_fee,) = record["returnShippingFees"]
    assert shipping_fee["id"].startswith("gid://shopify/ReturnShippingFee/")
    assert shipping_fee["amountSet"] == money("2.50", "USD")

    # one unit of the discounted line: 9.67; fee 0.967 -> 0.97; tax 0.7736 -> 0.77
    # (+ the return's shipping fee 2.50): 9.67 - 3.47 + 0.77 = 6.97
    one = (await suggest(sim_control, shop, record["id"], [(line_a["id"], 1)]))["data"]
    assert amounts(one["return"]["suggestedFinancialOutcome"]) == (
        "9.67",
        "3.47",
        "0.77",
        "58.98",
        "RefundReturnOutcome",
        "6.97",
    )
    # two units: round(19.333...) = 19.33, not 2 x 9.67; fee 1.93; tax 1.5464 -> 1.55
    two = (await suggest(sim_control, shop, record["id"], [(line_a["id"], 2)], "STORE_CREDIT"))[
        "data"
    ]
    assert amounts(two["return"]["suggestedFinancialOutcome"])[:3] == ("19.33", "4.43", "1.55")
    # both lines, one unit each: fees 0.97 + 1.83 (per line; 2.79 on the sum) + 2.50
    both = (await suggest(sim_control, shop, record["id"], [(line_a["id"], 1), (line_b["id"], 1)]))[
        "data"
    ]["return"]["suggestedFinancialOutcome"]
    assert amounts(both) == ("27.92", "5.30", "2.23", "58.98", "RefundReturnOutcome", "24.85")

    unknown = await suggest(
        sim_control, shop, record["id"], [("gid://shopify/ReturnLineItem/1", 1)]
    )
    assert unknown["errors"] and unknown["data"]["return"]["suggestedFinancialOutcome"] is None
    too_many = await suggest(sim_control, shop, record["id"], [(line_a["id"], 4)])
    assert too_many["errors"] and "processable" in too_many["errors"][0]["message"]
    split = await suggest(sim_control, shop, record["id"], [(line_a["id"], 2), (line_a["id"], 2)])
    assert split["errors"]

    cost = (await sim_control.graphql(shop, SUGGEST, {"id": record["id"], "lines": []})).json()
    # return 1 + outcome 1 + four MoneyBags (1 + MoneyV2 1) + transfer 1 + its amount bag 2
    # (both fragments select the same `amount`)
    assert cost["extensions"]["cost"]["requestedQueryCost"] == 1 + 1 + 4 * 2 + 1 + 2


async def test_fees_above_the_refund_make_an_invoice(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(
        sim_control, shop, [{"quantity": 1, "price": "10.00", "discount": "0"}]
    )
    (line,) = order["lineItems"]
    record = await open_return(
        sim_control,
        shop,
        order["id"],
        [{"lineItemId": line["id"], "quantity": 1, "restockingFee": fee(100)}],
        returnShippingFee=shipping("5.00"),
    )
    (return_line,) = record["returnLineItems"]["nodes"]
    outcome = (await suggest(sim_control, shop, record["id"], [(return_line["id"], 1)]))["data"][
        "return"
    ]["suggestedFinancialOutcome"]
    # 10.00 - (10.00 + 5.00) + 0.80 = -4.20: the customer owes 4.20
    assert amounts(outcome) == ("10.00", "15.00", "0.80", "18.75", "InvoiceReturnOutcome", "4.20")


async def test_the_suggested_refund_is_capped_at_what_the_order_can_refund(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(
        sim_control, shop, [{"quantity": 2, "price": "60.00", "discount": "0"}]
    )
    # 120.00, no shipping over 100, 9.60 tax
    assert order["totalPriceSet"]["presentmentMoney"]["amount"] == "129.60"
    (sale,) = order["transactions"]
    record = await open_return(
        sim_control, shop, order["id"], [{"lineItemId": order["lineItems"][0]["id"], "quantity": 2}]
    )
    (return_line,) = record["returnLineItems"]["nodes"]
    paid = await process(
        sim_control,
        shop,
        {
            "returnId": record["id"],
            "returnLineItems": [{"id": return_line["id"], "quantity": 1}],
            "financialTransfer": {
                "issueRefund": {
                    "orderTransactions": [
                        {
                            "transactionId": sale["id"],
                            "transactionAmount": {"amount": "120.00", "currencyCode": "USD"},
                        }
                    ]
                }
            },
        },
    )
    assert paid["userErrors"] == [] and paid["return"]["status"] == "OPEN"
    outcome = (await suggest(sim_control, shop, record["id"], [(return_line["id"], 1)]))["data"][
        "return"
    ]["suggestedFinancialOutcome"]
    # 60.00 + 4.80 tax, but only 9.60 is left to refund
    assert amounts(outcome) == ("60.00", "0.00", "4.80", "9.60", "RefundReturnOutcome", "9.60")
    beyond = await suggest(sim_control, shop, record["id"], [(return_line["id"], 2)])
    assert beyond["errors"]  # one unit is left to process


async def test_bad_fees_refuse_the_request_and_staff_may_set_fees(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(
        sim_control, shop, [{"quantity": 2, "price": "30.00", "discount": "0"}]
    )
    (line,) = order["lineItems"]
    for extra, line_fee, code, field in (
        (
            {},
            fee(120),
            "LESS_THAN_OR_EQUAL_TO",
            ["returnLineItems", "0", "restockingFee", "percentage"],
        ),
        (
            {},
            fee(-1),
            "GREATER_THAN_OR_EQUAL_TO",
            ["returnLineItems", "0", "restockingFee", "percentage"],
        ),
        (
            {"returnShippingFee": shipping("5.00", "EUR")},
            None,
            "INVALID",
            ["returnShippingFee", "amount", "currencyCode"],
        ),
        (
            {"returnShippingFee": shipping("5.005")},
            None,
            "INVALID",
            ["returnShippingFee", "amount", "amount"],
        ),
        (
            {"returnShippingFee": shipping("-1")},
            None,
            "GREATER_THAN_OR_EQUAL_TO",
            ["returnShippingFee", "amount", "amount"],
        ),
    ):
        spec: dict[str, Any] = {"lineItemId": line["id"], "quantity": 1}
        if line_fee is not None:
            spec["restockingFee"] = line_fee
        refused = await request_return(sim_control, shop, order["id"], [spec], **extra)
        assert refused["return"] is None
        (error,) = refused["userErrors"]
        assert (error["code"], error["field"]) == (code, ["input", *field])
    assert (await sim_control.shop_state(shop.domain))["returns"] == []

    staff = await sim_control.staff_return(
        shop.domain,
        "create",
        orderId=order["id"],
        returnLineItems=[
            {"lineItemId": line["id"], "quantity": 2, "restockingFee": {"percentage": 15}}
        ],
        returnShippingFee=shipping("4.00"),
    )
    shown = staff["return"]
    assert shown["status"] == "OPEN"
    assert [f["amount"] for f in shown["return_shipping_fees"]] == ["4.00"]
    (shown_line,) = shown["line_items"]
    assert shown_line["restocking_fee"]["percentage"] == 15
    assert shown_line["restocking_fee"]["amount"] == "9.00"  # 15% of 60.00
    assert shown_line["dispositions"] == []
    (reverse,) = shown["reverse_fulfillment_orders"]
    assert reverse["status"] == "OPEN"
    assert reverse["line_item_ids"] == [shown_line["reverse_fulfillment_order_line_item_id"]]
    outcome = (await suggest(sim_control, shop, shown["id"], [(shown_line["id"], 1)]))["data"][
        "return"
    ]["suggestedFinancialOutcome"]
    # 30.00 - (4.50 + 4.00) + 2.40
    assert amounts(outcome)[:3] == ("30.00", "8.50", "2.40")
    assert amounts(outcome)[4:] == ("RefundReturnOutcome", "23.90")
