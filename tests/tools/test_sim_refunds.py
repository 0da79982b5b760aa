"""Refunds on the simulator: order transactions, `returnProcess` paying them back through
`financialTransfer`, currencies with 0 and 3 decimals, and an answer lost after the refund."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import WebhookReceiver
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

ORDER_PAYMENTS = """
query ($id: ID!) { order(id: $id) { id presentmentCurrencyCode displayFinancialStatus updatedAt
  totalPriceSet { presentmentMoney { amount currencyCode } }
  totalRefundedSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
  transactions(first: 20) { id kind status gateway formattedGateway createdAt processedAt test
    amountSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    parentTransaction { id } }
  refunds(first: 10) { id createdAt note return { id }
    totalRefundedSet { presentmentMoney { amount currencyCode } } } } }
"""
RETURN_REFUNDS = """
query ($id: ID!) { return(id: $id) { id status
  returnLineItems(first: 10) { nodes { id quantity processedQuantity processableQuantity } }
  refunds(first: 5) { nodes { id createdAt note order { id } return { id }
    totalRefundedSet { presentmentMoney { amount currencyCode } }
    transactions(first: 10) { nodes { id kind status gateway parentTransaction { id }
      amountSet { presentmentMoney { amount currencyCode } } } } } } } }
"""
REQUEST = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status returnLineItems(first: 10) { nodes { id quantity } } }
  userErrors { field message code } } }
"""
APPROVE = """
mutation ($id: ID!) { returnApproveRequest(input: {id: $id}) {
  return { id status } userErrors { field message code } } }
"""
PROCESS = """
mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status closedAt } userErrors { field message code } } }
"""
SUBSCRIBE = """
mutation ($url: URL!) { webhookSubscriptionCreate(topic: REFUNDS_CREATE,
  webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { field message } } }
"""
EXCEEDS = "Refund amount exceeds the refundable amount of the transaction."
ORDER_TRANSACTIONS = ["input", "financialTransfer", "issueRefund", "orderTransactions"]

# One card payment, stated: without `payments`, a seeded share of orders (about 15%, by order
# and shop) is split between a gift card and a card.
ONE_CARD = [{"gateway": "shopify_payments"}]


async def data_of(
    control: SimulatorControl, shop: InstalledShop, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await control.graphql(shop, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def payments_of(
    control: SimulatorControl, shop: InstalledShop, order_id: str
) -> dict[str, Any]:
    order: dict[str, Any] = (await data_of(control, shop, ORDER_PAYMENTS, {"id": order_id}))[
        "order"
    ]
    return order


async def return_of(
    control: SimulatorControl, shop: InstalledShop, return_id: str
) -> dict[str, Any]:
    record: dict[str, Any] = (await data_of(control, shop, RETURN_REFUNDS, {"id": return_id}))[
        "return"
    ]
    return record


async def open_return(
    control: SimulatorControl, shop: InstalledShop, order: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    """Request a return of every unit of the order and approve it: (return id, its lines)."""
    wanted = [
        {"lineItemId": line["id"], "quantity": line["quantity"]} for line in order["lineItems"]
    ]
    requested = (
        await data_of(
            control,
            shop,
            REQUEST,
            {"input": {"orderId": order["id"], "returnLineItems": wanted}},
        )
    )["returnRequest"]
    assert requested["userErrors"] == []
    return_id = requested["return"]["id"]
    approved = (await data_of(control, shop, APPROVE, {"id": return_id}))["returnApproveRequest"]
    assert approved["userErrors"] == [] and approved["return"]["status"] == "OPEN"
    lines = [
        {"id": node["id"], "quantity": node["quantity"]}
        for node in requested["return"]["returnLineItems"]["nodes"]
    ]
    return return_id, lines


def refund_to(shares: list[tuple[str, str]], currency: str, **extra: Any) -> dict[str, Any]:
    return {
        "issueRefund": {
            "orderTransactions": [
                {
                    "transactionId": transaction_id,
                    "transactionAmount": {"amount": amount, "currencyCode": currency},
                }
                for transaction_id, amount in shares
            ],
            "allowOverRefunding": False,
            **extra,
        }
    }


async def process(
    control: SimulatorControl,
    shop: InstalledShop,
    return_id: str,
    lines: list[dict[str, Any]],
    transfer: dict[str, Any] | None,
) -> dict[str, Any]:
    process_input: dict[str, Any] = {"returnId": return_id, "returnLineItems": lines}
    if transfer is not None:
        process_input["financialTransfer"] = transfer
    result: dict[str, Any] = (await data_of(control, shop, PROCESS, {"input": process_input}))[
        "returnProcess"
    ]
    return result


def money(amount: str, currency: str) -> dict[str, Any]:
    return {"presentmentMoney": {"amount": amount, "currencyCode": currency}}


def by_gateway(order: dict[str, Any], kind: str = "SALE") -> dict[str, dict[str, Any]]:
    return {t["gateway"]: t for t in order["transactions"] if t["kind"] == kind}


async def assert_unchanged(
    control: SimulatorControl, shop: InstalledShop, order_id: str, return_id: str
) -> None:
    record = await return_of(control, shop, return_id)
    assert record["status"] == "OPEN" and record["refunds"]["nodes"] == []
    assert all(node["processedQuantity"] == 0 for node in record["returnLineItems"]["nodes"])
    order = await payments_of(control, shop, order_id)
    assert order["refunds"] == [] and {t["kind"] for t in order["transactions"]} == {"SALE"}
    assert order["displayFinancialStatus"] == "PAID"


async def test_a_split_payment_is_refunded_across_both_transactions(
    sim_control: SimulatorControl, webhook_receiver: WebhookReceiver
) -> None:
    shop = await sim_control.create_shop(orders=0)
    path = webhook_receiver.new_path(200)
    subscribed = await data_of(sim_control, shop, SUBSCRIBE, {"url": webhook_receiver.url(path)})
    assert subscribed["webhookSubscriptionCreate"]["userErrors"] == []
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 2, "price": "40.00", "discount": "0"}],
            payments=[{"gateway": "gift_card", "amount": "25.00"}, {"gateway": "shopify_payments"}],
        )
    )["order"]
    # 80.00 + 7.95 shipping + 6.40 tax = 94.35: 25.00 by gift card, the rest by card
    assert created["totalPriceSet"]["shopMoney"]["amount"] == "94.35"
    assert [
        (t["gateway"], t["kind"], t["amountSet"]["shopMoney"]["amount"])
        for t in created["transactions"]
    ] == [
        ("gift_card", "SALE", "25.00"),
        ("shopify_payments", "SALE", "69.35"),
    ]
    before = await payments_of(sim_control, shop, created["id"])
    sales = by_gateway(before)
    gift_card, card = sales["gift_card"], sales["shopify_payments"]
    assert gift_card["id"].startswith("gid://shopify/OrderTransaction/")
    assert gift_card["status"] == "SUCCESS" and gift_card["formattedGateway"] == "Gift card"
    assert gift_card["parentTransaction"] is None and gift_card["test"] is False
    assert card["amountSet"] == {
        "shopMoney": {"amount": "69.35", "currencyCode": "USD"},
        "presentmentMoney": {"amount": "69.35", "currencyCode": "USD"},
    }
    assert before["totalRefundedSet"]["presentmentMoney"]["amount"] == "0.00"
    return_id, lines = await open_return(sim_control, shop, created)

    # refused, and nothing changes: more than the gift card paid, an id of no payment of this
    # order, another currency, no amount
    for shares, currency, field, message in (
        ([(gift_card["id"], "25.01")], "USD", ["0", "transactionAmount", "amount"], EXCEEDS),
        (
            [(card["id"], "40.00"), (card["id"], "29.36")],  # together over what the card paid
            "USD",
            ["1", "transactionAmount", "amount"],
            EXCEEDS,
        ),
        (
            [(card["id"], "1.00"), ("gid://shopify/OrderTransaction/1", "1.00")],
            "USD",
            ["1", "transactionId"],
            None,
        ),
        ([(card["id"], "1.00")], "EUR", ["0", "transactionAmount", "currencyCode"], None),
        ([(card["id"], "0.00")], "USD", ["0", "transactionAmount", "amount"], None),
    ):
        refused = await process(sim_control, shop, return_id, lines, refund_to(shares, currency))
        (error,) = refused["userErrors"]
        assert error["code"] == "INVALID" and error["field"] == [*ORDER_TRANSACTIONS, *field]
        assert message is None or error["message"] == message
        assert refused["return"]["status"] == "OPEN"
        await assert_unchanged(sim_control, shop, created["id"], return_id)

    processed = await process(
        sim_control,
        shop,
        return_id,
        lines,
        refund_to([(gift_card["id"], "25.00"), (card["id"], "40.00")], "USD"),
    )
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"

    record = await return_of(sim_control, shop, return_id)
    (refund,) = record["refunds"]["nodes"]
    assert refund["id"].startswith("gid://shopify/Refund/") and refund["createdAt"]
    assert refund["order"] == {"id": created["id"]} and refund["return"] == {"id": return_id}
    assert refund["totalRefundedSet"] == money("65.00", "USD")
    paid_back = {
        t["parentTransaction"]["id"]: (t["kind"], t["status"], t["gateway"], t["amountSet"])
        for t in refund["transactions"]["nodes"]
    }
    assert paid_back == {
        gift_card["id"]: ("REFUND", "SUCCESS", "gift_card", money("25.00", "USD")),
        card["id"]: ("REFUND", "SUCCESS", "shopify_payments", money("40.00", "USD")),
    }

    after = await payments_of(sim_control, shop, created["id"])
    assert after["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert after["totalRefundedSet"]["presentmentMoney"] == {
        "amount": "65.00",
        "currencyCode": "USD",
    }
    assert after["updatedAt"] > before["updatedAt"]
    refunds = [t for t in after["transactions"] if t["kind"] == "REFUND"]
    assert {t["id"] for t in refunds} == {t["id"] for t in refund["transactions"]["nodes"]}
    assert [(r["id"], r["return"], r["totalRefundedSet"]) for r in after["refunds"]] == [
        (refund["id"], {"id": return_id}, money("65.00", "USD"))
    ]

    shown = await sim_control.order(shop.domain, created["id"])
    assert [(t["kind"], t["amountSet"]["shopMoney"]["amount"]) for t in shown["transactions"]] == [
        ("SALE", "25.00"),
        ("SALE", "69.35"),
        ("REFUND", "25.00"),
        ("REFUND", "40.00"),
    ]
    (shown_refund,) = shown["refunds"]
    assert shown_refund["id"] == refund["id"] and shown_refund["return"] == {"id": return_id}
    assert shown_refund["totalRefundedSet"]["shopMoney"]["amount"] == "65.00"
    assert [t["parentTransaction"]["id"] for t in shown_refund["transactions"]] == [
        gift_card["id"],
        card["id"],
    ]

    (delivery,) = await webhook_receiver.wait_for(path, 1)
    assert delivery.headers["x-shopify-topic"] == "refunds/create"
    payload = orjson.loads(delivery.body)
    assert payload["admin_graphql_api_id"] == refund["id"]
    assert payload["order_id"] == int(created["id"].rsplit("/", 1)[-1])
    assert payload["return"] == {
        "id": int(return_id.rsplit("/", 1)[-1]),
        "admin_graphql_api_id": return_id,
    }
    assert [
        (t["parent_id"], t["amount"], t["currency"], t["gateway"], t["kind"], t["status"])
        for t in payload["transactions"]
    ] == [
        (int(gift_card["id"].rsplit("/", 1)[-1]), "25.00", "USD", "gift_card", "refund", "success"),
        (
            int(card["id"].rsplit("/", 1)[-1]),
            "40.00",
            "USD",
            "shopify_payments",
            "refund",
            "success",
        ),
    ]


async def test_jpy_refunds_have_no_decimals(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=3, currency="JPY")
    seeded = (await sim_control.orders(shop.domain))["orders"]
    assert all("." not in o["totalPriceSet"]["shopMoney"]["amount"] for o in seeded)
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 1, "price": "1200", "discount": "0"}],
            payments=ONE_CARD,
        )
    )["order"]
    # 1200 + 96 tax (no shipping over 100), paid in one card payment
    assert created["totalPriceSet"]["presentmentMoney"] == {"amount": "1296", "currencyCode": "JPY"}
    (sale,) = created["transactions"]
    assert (sale["gateway"], sale["kind"], sale["status"]) == (
        "shopify_payments",
        "SALE",
        "SUCCESS",
    )
    assert sale["amountSet"]["presentmentMoney"]["amount"] == "1296"
    return_id, lines = await open_return(sim_control, shop, created)
    for amount in ("1296.5", "0.50"):
        refused = await process(
            sim_control, shop, return_id, lines, refund_to([(sale["id"], amount)], "JPY")
        )
        (error,) = refused["userErrors"]
        assert error["code"] == "INVALID"
        assert error["field"] == [*ORDER_TRANSACTIONS, "0", "transactionAmount", "amount"]
    assert (await return_of(sim_control, shop, return_id))["status"] == "OPEN"
    processed = await process(
        sim_control, shop, return_id, lines, refund_to([(sale["id"], "1296")], "JPY")
    )
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
    order = await payments_of(sim_control, shop, created["id"])
    assert order["displayFinancialStatus"] == "REFUNDED"
    assert order["totalRefundedSet"]["presentmentMoney"] == {
        "amount": "1296",
        "currencyCode": "JPY",
    }
    (refund,) = (await return_of(sim_control, shop, return_id))["refunds"]["nodes"]
    assert refund["totalRefundedSet"] == money("1296", "JPY")
    assert [t["amountSet"] for t in refund["transactions"]["nodes"]] == [money("1296", "JPY")]


async def test_kwd_refunds_have_three_decimals(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=3, currency="KWD")
    seeded = (await sim_control.orders(shop.domain))["orders"]
    assert all(len(o["totalPriceSet"]["shopMoney"]["amount"].split(".")[1]) == 3 for o in seeded)
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 2, "price": "12.345", "discount": "0"}],
            payments=[
                {"gateway": "gift_card", "amount": "10.000"},
                {"gateway": "shopify_payments"},
            ],
        )
    )["order"]
    # 24.690 + 7.950 shipping + 1.975 tax
    assert created["totalPriceSet"]["presentmentMoney"] == {
        "amount": "34.615",
        "currencyCode": "KWD",
    }
    order = await payments_of(sim_control, shop, created["id"])
    assert order["presentmentCurrencyCode"] == "KWD"
    sales = by_gateway(order)
    gift_card, card = sales["gift_card"], sales["shopify_payments"]
    assert card["amountSet"]["presentmentMoney"] == {"amount": "24.615", "currencyCode": "KWD"}
    return_id, lines = await open_return(sim_control, shop, created)
    refused = await process(
        sim_control, shop, return_id, lines, refund_to([(gift_card["id"], "10.0001")], "KWD")
    )
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID"]
    assert (await sim_control.order(shop.domain, created["id"]))["refunds"] == []
    processed = await process(
        sim_control,
        shop,
        return_id,
        lines,
        refund_to([(gift_card["id"], "10.000"), (card["id"], "14.615")], "KWD"),
    )
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
    (refund,) = (await return_of(sim_control, shop, return_id))["refunds"]["nodes"]
    assert refund["totalRefundedSet"] == money("24.615", "KWD")
    assert sorted(
        t["amountSet"]["presentmentMoney"]["amount"] for t in refund["transactions"]["nodes"]
    ) == [
        "10.000",
        "14.615",
    ]
    after = await payments_of(sim_control, shop, created["id"])
    assert after["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert after["totalRefundedSet"]["presentmentMoney"]["amount"] == "24.615"


async def test_a_lost_answer_after_the_refund_was_paid(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 1, "price": "30.00", "discount": "0"}],
            payments=ONE_CARD,
        )
    )["order"]
    (sale,) = created["transactions"]
    return_id, lines = await open_return(sim_control, shop, created)
    faults = await sim_control.set_faults(
        shop.domain, drop_response_next=1, drop_response_operation="returnProcess"
    )
    assert faults["faults"]["drop_response_next"] == 1
    assert faults["faults"]["drop_response_operation"] == "returnProcess"
    # other operations are answered
    assert (await return_of(sim_control, shop, return_id))["status"] == "OPEN"

    transfer = refund_to([(sale["id"], "10.00")], "USD")
    lost = await sim_control.graphql(
        shop,
        PROCESS,
        {"input": {"returnId": return_id, "returnLineItems": lines, "financialTransfer": transfer}},
    )
    assert lost.status_code == 502 and lost.content == b""
    state = await sim_control.shop_state(shop.domain)
    assert state["counters"]["faults_dropped"] == 1
    assert state["faults"]["drop_response_next"] == 0

    record = await return_of(sim_control, shop, return_id)
    assert record["status"] == "CLOSED"
    (refund,) = record["refunds"]["nodes"]
    assert refund["totalRefundedSet"] == money("10.00", "USD")

    again = await process(sim_control, shop, return_id, lines, transfer)
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]
    assert len((await return_of(sim_control, shop, return_id))["refunds"]["nodes"]) == 1
    order = await payments_of(sim_control, shop, created["id"])
    assert [r["id"] for r in order["refunds"]] == [refund["id"]]
    assert order["totalRefundedSet"]["presentmentMoney"]["amount"] == "10.00"
    assert [t["kind"] for t in order["transactions"]] == ["SALE", "REFUND"]


async def test_process_without_a_transfer_pays_nothing(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 1}],
            payments=ONE_CARD,
        )
    )["order"]
    return_id, lines = await open_return(sim_control, shop, created)
    processed = await process(sim_control, shop, return_id, lines, None)
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"
    assert (await return_of(sim_control, shop, return_id))["refunds"]["nodes"] == []
    order = await payments_of(sim_control, shop, created["id"])
    assert order["refunds"] == [] and order["displayFinancialStatus"] == "PAID"


async def test_store_credit_refund_methods_are_paid_in_the_same_refund(
    sim_control: SimulatorControl,
) -> None:
    """(More in test_sim_store_credit.py.)"""
    shop = await sim_control.create_shop(orders=0)
    created = (
        await sim_control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=[{"quantity": 1, "price": "20.00", "discount": "0"}],
            payments=ONE_CARD,  # never split with a gift card
        )
    )["order"]
    (sale,) = created["transactions"]
    return_id, lines = await open_return(sim_control, shop, created)
    credit = {"storeCreditRefund": {"amount": {"amount": "5.00", "currencyCode": "USD"}}}
    processed = await process(
        sim_control,
        shop,
        return_id,
        lines,
        refund_to([(sale["id"], "10.00")], "USD", refundMethods=[credit]),
    )
    assert processed["userErrors"] == []
    (refund,) = (await return_of(sim_control, shop, return_id))["refunds"]["nodes"]
    assert refund["totalRefundedSet"] == money("15.00", "USD") and refund["note"] is None
    assert [
        (t["gateway"], t["parentTransaction"], t["amountSet"])
        for t in refund["transactions"]["nodes"]
    ] == [
        ("shopify_payments", {"id": sale["id"]}, money("10.00", "USD")),
        ("shopify_store_credit", None, money("5.00", "USD")),
    ]


async def test_seeded_paid_orders_are_paid_exactly_and_payments_are_checked(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=60)
    orders = (await sim_control.orders(shop.domain, limit=60))["orders"]
    for order in orders:
        sales = [t for t in order["transactions"] if t["kind"] == "SALE"]
        if order["displayFinancialStatus"] in {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}:
            paid = sum(int(t["amountSet"]["shopMoney"]["amount"].replace(".", "")) for t in sales)
            assert paid == int(order["totalPriceSet"]["shopMoney"]["amount"].replace(".", ""))
            assert all(t["status"] == "SUCCESS" for t in sales)
            assert {t["gateway"] for t in sales} <= {"gift_card", "shopify_payments"}
        if order["displayFinancialStatus"] == "REFUNDED":
            (refund,) = order["refunds"]
            assert refund["totalRefundedSet"] == order["totalPriceSet"]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await sim_control.create_order(
            shop.domain,
            financial_status="PAID",
            line_items=[{"quantity": 1, "price": "10.00", "discount": "0"}],
            payments=[{"gateway": "gift_card", "amount": "100.00"}],
        )
    assert refused.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        await sim_control.create_bare_shop(currency="XXX")
