"""Store credit on the simulator: `storeCreditAccountCredit`, returns refunded to store credit
through `returnProcess` (one Refund with the card refunds), minor units, faults and throttling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import WebhookReceiver, graphql_errors
from tests.tools.sim_helpers import answer, data_of, money, open_return, paid_order, process
from tools.shopify_sim import BucketConfig, SimulatorControl
from tools.shopify_sim.control_client import InstalledShop
from tools.shopify_sim.returns import refund_plan
from tools.shopify_sim.seed import new_shop

CREDIT = """
mutation ($id: ID!, $input: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $input) {
    storeCreditAccountTransaction { id createdAt expiresAt origin { __typename }
      amount { amount currencyCode } balanceAfterTransaction { amount currencyCode }
      account { id balance { amount currencyCode } owner { id } } }
    userErrors { field message code } } }
"""
CUSTOMER_CREDIT = """
query ($id: ID!) { customer(id: $id) { id
  storeCreditAccounts(first: 5) { nodes { id balance { amount currencyCode }
    transactions(first: 10) { nodes { __typename amount { amount currencyCode }
      balanceAfterTransaction { amount } createdAt account { id }
      origin { ... on OrderTransaction { id kind gateway amountSet { presentmentMoney { amount } } } }
      ... on StoreCreditAccountCreditTransaction { id expiresAt } } } } } } }
"""
ACCOUNT = """
query ($id: ID!) { storeCreditAccount(id: $id) { id balance { amount currencyCode } owner { id }
  transactions(first: 1) { edges { cursor node { amount { amount } } } pageInfo { hasNextPage } } } }
"""
NEWEST = """
query ($id: ID!) { storeCreditAccount(id: $id) {
  transactions(last: 1) { nodes { amount { amount } } pageInfo { hasPreviousPage } } } }
"""
RETURN_REFUNDS = """
query ($id: ID!) { return(id: $id) { status
  refunds(first: 5) { nodes { id note totalRefundedSet { presentmentMoney { amount currencyCode } }
    transactions(first: 10) { nodes { id kind status gateway parentTransaction { id }
      amountSet { presentmentMoney { amount currencyCode } } } } } } } }
"""
ORDER = """
query ($id: ID!) { order(id: $id) { displayFinancialStatus customer { id }
  totalRefundedSet { presentmentMoney { amount currencyCode } }
  transactions(first: 20) { id kind gateway parentTransaction { id } } } }
"""
SUBSCRIBE = """
mutation ($url: URL!) { webhookSubscriptionCreate(topic: REFUNDS_CREATE,
  webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { field message } } }
"""
ISSUE_REFUND = ["input", "financialTransfer", "issueRefund"]
EXCEEDS_ORDER = "Refund amount exceeds the refundable amount of the order."


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def past() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def store_credit(amount: str, currency: str, expires_at: str | None = None) -> dict[str, Any]:
    refund: dict[str, Any] = {"amount": {"amount": amount, "currencyCode": currency}}
    if expires_at is not None:
        refund["expiresAt"] = expires_at
    return {"storeCreditRefund": refund}


def transfer(
    currency: str,
    shares: Sequence[tuple[str, str]] = (),
    credits: Sequence[dict[str, Any]] = (),
    over: bool = False,
) -> dict[str, Any]:
    return {
        "issueRefund": {
            "orderTransactions": [
                {"transactionId": t, "transactionAmount": {"amount": a, "currencyCode": currency}}
                for t, a in shares
            ],
            "refundMethods": list(credits),
            "allowOverRefunding": over,
        }
    }


async def credit(
    control: SimulatorControl,
    shop: InstalledShop,
    owner: str,
    amount: str,
    currency: str,
    **more: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = (
        await data_of(
            control,
            shop,
            CREDIT,
            {
                "id": owner,
                "input": {"creditAmount": {"amount": amount, "currencyCode": currency}, **more},
            },
        )
    )["storeCreditAccountCredit"]
    return result


async def opened(
    control: SimulatorControl, shop: InstalledShop, order: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    record = await open_return(
        control,
        shop,
        order["id"],
        [{"lineItemId": line["id"], "quantity": line["quantity"]} for line in order["lineItems"]],
    )
    lines = [
        {"id": node["id"], "quantity": node["quantity"]}
        for node in record["returnLineItems"]["nodes"]
    ]
    return record["id"], lines


async def test_a_return_refunded_to_store_credit_credits_the_customer(
    sim_control: SimulatorControl, webhook_receiver: WebhookReceiver
) -> None:
    shop = await sim_control.create_shop(orders=0)
    path = webhook_receiver.new_path(200)
    subscribed = await data_of(sim_control, shop, SUBSCRIBE, {"url": webhook_receiver.url(path)})
    assert subscribed["webhookSubscriptionCreate"]["userErrors"] == []
    order = await paid_order(
        sim_control, shop, [{"quantity": 2, "price": "40.00", "discount": "0"}]
    )
    # 80.00 + 7.95 shipping + 6.40 tax
    assert order["totalPriceSet"]["presentmentMoney"]["amount"] == "94.35"
    (sale,) = order["transactions"]
    customer_id = order["customer"]["id"]
    return_id, lines = await opened(sim_control, shop, order)
    expires = future()
    processed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": lines,
            "financialTransfer": transfer(
                "USD", [(sale["id"], "50.00")], [store_credit("30.00", "USD", expires)]
            ),
        },
    )
    assert processed["userErrors"] == [] and processed["return"]["status"] == "CLOSED"

    record = (await data_of(sim_control, shop, RETURN_REFUNDS, {"id": return_id}))["return"]
    (refund,) = record["refunds"]["nodes"]
    assert refund["totalRefundedSet"] == money("80.00", "USD") and refund["note"] is None
    card, to_credit = refund["transactions"]["nodes"]  # card refunds first, then store credit
    assert (card["kind"], card["gateway"], card["parentTransaction"], card["amountSet"]) == (
        "REFUND",
        "shopify_payments",
        {"id": sale["id"]},
        money("50.00", "USD"),
    )
    assert (
        to_credit["kind"],
        to_credit["status"],
        to_credit["gateway"],
        to_credit["parentTransaction"],
        to_credit["amountSet"],
    ) == ("REFUND", "SUCCESS", "shopify_store_credit", None, money("30.00", "USD"))

    after = (await data_of(sim_control, shop, ORDER, {"id": order["id"]}))["order"]
    assert after["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert after["totalRefundedSet"] == money("80.00", "USD")
    assert [(t["kind"], t["gateway"]) for t in after["transactions"]] == [
        ("SALE", "shopify_payments"),
        ("REFUND", "shopify_payments"),
        ("REFUND", "shopify_store_credit"),
    ]

    customer = (await data_of(sim_control, shop, CUSTOMER_CREDIT, {"id": customer_id}))["customer"]
    (account,) = customer["storeCreditAccounts"]["nodes"]
    assert account["id"].startswith("gid://shopify/StoreCreditAccount/")
    assert account["balance"] == {"amount": "30.00", "currencyCode": "USD"}
    (entry,) = account["transactions"]["nodes"]
    assert entry["__typename"] == "StoreCreditAccountCreditTransaction"
    assert entry["id"].startswith("gid://shopify/StoreCreditAccountCreditTransaction/")
    assert entry["amount"] == {"amount": "30.00", "currencyCode": "USD"}
    assert entry["balanceAfterTransaction"] == {"amount": "30.00"}
    assert entry["expiresAt"] == expires and entry["account"] == {"id": account["id"]}
    assert entry["origin"] == {
        "id": to_credit["id"],
        "kind": "REFUND",
        "gateway": "shopify_store_credit",
        "amountSet": {"presentmentMoney": {"amount": "30.00"}},
    }
    looked_up = (await data_of(sim_control, shop, ACCOUNT, {"id": account["id"]}))[
        "storeCreditAccount"
    ]
    assert looked_up["owner"] == {"id": customer_id} and looked_up["balance"]["amount"] == "30.00"

    shown = await sim_control.store_credit(shop.domain, customer_id)
    assert shown == {
        "customer_id": customer_id,
        "accounts": [
            {
                "id": account["id"],
                "currency": "USD",
                "balance": {"amount": "30.00", "currencyCode": "USD"},
                "transactions": [
                    {
                        "id": entry["id"],
                        "type": "CREDIT",
                        "amount": {"amount": "30.00", "currencyCode": "USD"},
                        "balanceAfterTransaction": {"amount": "30.00", "currencyCode": "USD"},
                        "createdAt": entry["createdAt"],
                        "expiresAt": expires,
                        "origin": {
                            "id": to_credit["id"],
                            "kind": "REFUND",
                            "gateway": "shopify_store_credit",
                        },
                    }
                ],
            }
        ],
    }
    numeric = customer_id.rsplit("/", 1)[-1]
    assert (await sim_control.store_credit(shop.domain, numeric)) == shown

    (delivery,) = await webhook_receiver.wait_for(path, 1)
    payload = orjson.loads(delivery.body)
    assert payload["admin_graphql_api_id"] == refund["id"]
    assert [
        (t["parent_id"], t["gateway"], t["amount"], t["kind"]) for t in payload["transactions"]
    ] == [
        (int(sale["id"].rsplit("/", 1)[-1]), "shopify_payments", "50.00", "refund"),
        (None, "shopify_store_credit", "30.00", "refund"),
    ]


async def test_store_credit_beyond_the_order_or_malformed_is_refused_and_changes_nothing(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(
        sim_control, shop, [{"quantity": 1, "price": "20.00", "discount": "0"}]
    )
    assert order["totalPriceSet"]["presentmentMoney"]["amount"] == "29.55"  # + 7.95 + 1.60
    (sale,) = order["transactions"]
    customer_id = order["customer"]["id"]
    return_id, lines = await opened(sim_control, shop, order)
    methods = [*ISSUE_REFUND, "refundMethods", "0", "storeCreditRefund"]
    for financial_transfer, field, message in (
        (transfer("USD", credits=[store_credit("29.56", "USD")]), ISSUE_REFUND, EXCEEDS_ORDER),
        (
            transfer("USD", [(sale["id"], "20.00")], [store_credit("9.56", "USD")]),
            ISSUE_REFUND,
            EXCEEDS_ORDER,
        ),
        (
            transfer("USD", credits=[store_credit("5.00", "EUR")]),
            [*methods, "amount", "currencyCode"],
            None,
        ),
        (transfer("USD", credits=[store_credit("0", "USD")]), [*methods, "amount", "amount"], None),
        (
            transfer("USD", credits=[store_credit("1.005", "USD")]),
            [*methods, "amount", "amount"],
            None,
        ),
        (
            transfer("USD", credits=[store_credit("5.00", "USD", past())]),
            [*methods, "expiresAt"],
            None,
        ),
        (transfer("USD", credits=[{"originalPaymentMethodsRefund": True}]), methods[:-1], None),
    ):
        refused = await process(
            sim_control,
            shop,
            {
                "returnId": return_id,
                "returnLineItems": lines,
                "financialTransfer": financial_transfer,
            },
        )
        (error,) = refused["userErrors"]
        assert error["code"] == "INVALID" and error["field"] == field, error
        assert message is None or error["message"] == message
        record = (await data_of(sim_control, shop, RETURN_REFUNDS, {"id": return_id}))["return"]
        assert record["status"] == "OPEN" and record["refunds"]["nodes"] == []
        assert (await sim_control.store_credit(shop.domain, customer_id))["accounts"] == []
        unchanged = (await data_of(sim_control, shop, ORDER, {"id": order["id"]}))["order"]
        assert unchanged["displayFinancialStatus"] == "PAID"
        assert [t["kind"] for t in unchanged["transactions"]] == ["SALE"]

    allowed = await process(
        sim_control,
        shop,
        {
            "returnId": return_id,
            "returnLineItems": lines,
            "financialTransfer": transfer("USD", credits=[store_credit("30.00", "USD")], over=True),
        },
    )
    assert allowed["userErrors"] == []
    after = (await data_of(sim_control, shop, ORDER, {"id": order["id"]}))["order"]
    assert after["displayFinancialStatus"] == "REFUNDED"
    assert after["totalRefundedSet"] == money("30.00", "USD")
    (account,) = (await sim_control.store_credit(shop.domain, customer_id))["accounts"]
    assert account["balance"]["amount"] == "30.00"


def test_store_credit_needs_a_customer_on_the_order() -> None:
    shop = new_shop(
        "guest.myshopify.com", seed=1, orders=1, bucket=BucketConfig(), compliance_url=None
    )
    order = shop.orders[0]
    order["customer"] = None  # a guest checkout
    plan = refund_plan(order, transfer("USD", credits=[store_credit("1.00", "USD")], over=True))
    (error,) = plan.errors
    assert error["field"] == [*ISSUE_REFUND, "refundMethods", "0", "storeCreditRefund"]
    assert plan.shares == [] and plan.store_credits == []


async def test_store_credit_account_credit_by_customer_and_by_account(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=3)
    customer_id = (await sim_control.orders(shop.domain))["orders"][0]["customer"]["id"]
    first = await credit(
        sim_control, shop, customer_id, "10.00", "USD", expiresAt=future(), notify=False
    )
    assert first["userErrors"] == []
    entry = first["storeCreditAccountTransaction"]
    account = entry["account"]
    assert account["owner"] == {"id": customer_id}
    assert entry["origin"] is None and entry["expiresAt"] is not None
    assert entry["amount"] == {"amount": "10.00", "currencyCode": "USD"}
    assert account["balance"] == {"amount": "10.00", "currencyCode": "USD"}

    again = await credit(sim_control, shop, customer_id, "5.5", "USD")
    assert again["storeCreditAccountTransaction"]["account"]["id"] == account["id"]
    assert again["storeCreditAccountTransaction"]["balanceAfterTransaction"]["amount"] == "15.50"
    by_account = await credit(sim_control, shop, account["id"], "0.50", "USD")
    assert by_account["storeCreditAccountTransaction"]["account"]["balance"]["amount"] == "16.00"
    euros = await credit(sim_control, shop, customer_id, "3.00", "EUR")
    euro_account = euros["storeCreditAccountTransaction"]["account"]
    assert euro_account["id"] != account["id"]  # one account per customer and currency

    for owner, amount, currency, more, code, field in (
        (
            account["id"],
            "1.00",
            "EUR",
            {},
            "MISMATCHING_CURRENCY",
            ["creditInput", "creditAmount", "currencyCode"],
        ),
        ("gid://shopify/StoreCreditAccount/1", "1.00", "USD", {}, "ACCOUNT_NOT_FOUND", ["id"]),
        ("gid://shopify/Customer/1", "1.00", "USD", {}, "OWNER_NOT_FOUND", ["id"]),
        (
            customer_id,
            "0.00",
            "USD",
            {},
            "NEGATIVE_OR_ZERO_AMOUNT",
            ["creditInput", "creditAmount", "amount"],
        ),
        (
            customer_id,
            "-2",
            "USD",
            {},
            "NEGATIVE_OR_ZERO_AMOUNT",
            ["creditInput", "creditAmount", "amount"],
        ),
        (
            customer_id,
            "1.00",
            "USD",
            {"expiresAt": past()},
            "EXPIRES_AT_IN_PAST",
            ["creditInput", "expiresAt"],
        ),
    ):
        refused = await credit(sim_control, shop, owner, amount, currency, **more)
        assert refused["storeCreditAccountTransaction"] is None
        (error,) = refused["userErrors"]
        assert (error["code"], error["field"]) == (code, field)

    customer = (await data_of(sim_control, shop, CUSTOMER_CREDIT, {"id": customer_id}))["customer"]
    usd, eur = customer["storeCreditAccounts"]["nodes"]
    assert (usd["balance"]["amount"], eur["balance"]) == (
        "16.00",
        {"amount": "3.00", "currencyCode": "EUR"},
    )
    # oldest first, as Shopify lists them
    assert [t["amount"]["amount"] for t in usd["transactions"]["nodes"]] == [
        "10.00",
        "5.50",
        "0.50",
    ]
    assert [t["balanceAfterTransaction"]["amount"] for t in usd["transactions"]["nodes"]] == [
        "10.00",
        "15.50",
        "16.00",
    ]
    page = (await data_of(sim_control, shop, ACCOUNT, {"id": account["id"]}))["storeCreditAccount"]
    assert page["transactions"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["amount"]["amount"] for e in page["transactions"]["edges"]] == ["10.00"]
    newest = (await data_of(sim_control, shop, NEWEST, {"id": account["id"]}))["storeCreditAccount"]
    assert newest["transactions"]["pageInfo"]["hasPreviousPage"] is True
    assert [n["amount"]["amount"] for n in newest["transactions"]["nodes"]] == ["0.50"]

    response = await sim_control.graphql(
        shop,
        CREDIT,
        {"id": customer_id, "input": {"creditAmount": {"amount": "1", "currencyCode": "USD"}}},
    )
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 10
    bad_date = await answer(
        sim_control,
        shop,
        CREDIT,
        {
            "id": customer_id,
            "input": {"creditAmount": {"amount": "1", "currencyCode": "USD"}, "expiresAt": "soon"},
        },
    )
    assert bad_date["errors"] and bad_date["data"]["storeCreditAccountCredit"] is None


async def test_store_credit_in_currencies_with_zero_and_three_decimals(
    sim_control: SimulatorControl,
) -> None:
    for currency, refused, accepted, order_price, credit_back in (
        ("JPY", "500.5", "500", "1200", "1000"),
        ("KWD", "1.0005", "1.250", "12.345", "10.000"),
    ):
        shop = await sim_control.create_shop(orders=0, currency=currency)
        order = await paid_order(
            sim_control, shop, [{"quantity": 1, "price": order_price, "discount": "0"}]
        )
        customer_id = order["customer"]["id"]
        too_fine = await credit(sim_control, shop, customer_id, refused, currency)
        (error,) = too_fine["userErrors"]
        assert error["field"] == ["creditInput", "creditAmount", "amount"] and error["code"] is None
        done = await credit(sim_control, shop, customer_id, accepted, currency)
        assert done["storeCreditAccountTransaction"]["amount"] == {
            "amount": accepted,
            "currencyCode": currency,
        }

        return_id, lines = await opened(sim_control, shop, order)
        wrong = await process(
            sim_control,
            shop,
            {
                "returnId": return_id,
                "returnLineItems": lines,
                "financialTransfer": transfer(currency, credits=[store_credit(refused, currency)]),
            },
        )
        assert [e["code"] for e in wrong["userErrors"]] == ["INVALID"]
        paid = await process(
            sim_control,
            shop,
            {
                "returnId": return_id,
                "returnLineItems": lines,
                "financialTransfer": transfer(
                    currency, credits=[store_credit(credit_back, currency)]
                ),
            },
        )
        assert paid["userErrors"] == []
        record = (await data_of(sim_control, shop, RETURN_REFUNDS, {"id": return_id}))["return"]
        (refund,) = record["refunds"]["nodes"]
        assert refund["totalRefundedSet"] == money(credit_back, currency)
        (account,) = (await sim_control.store_credit(shop.domain, customer_id))["accounts"]
        assert account["currency"] == currency
        assert account["balance"] == {
            "amount": str(Decimal(accepted) + Decimal(credit_back)),
            "currencyCode": currency,
        }
        assert [t["amount"]["amount"] for t in account["transactions"]] == [accepted, credit_back]
        assert [t["origin"] is not None for t in account["transactions"]] == [False, True]


async def test_a_credit_whose_answer_is_lost_was_applied(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=2)
    customer_id = (await sim_control.orders(shop.domain))["orders"][0]["customer"]["id"]
    await sim_control.drop_next_responses(shop.domain, 1, operation="storeCreditAccountCredit")
    variables = {
        "id": customer_id,
        "input": {"creditAmount": {"amount": "7.00", "currencyCode": "USD"}},
    }
    lost = await sim_control.graphql(shop, CREDIT, variables)
    assert lost.status_code == 502 and lost.content == b""
    (account,) = (await sim_control.store_credit(shop.domain, customer_id))["accounts"]
    assert account["balance"]["amount"] == "7.00"
    assert (await sim_control.shop_state(shop.domain))["counters"]["faults_dropped"] == 1

    await sim_control.set_faults(shop.domain, fail_next=1)
    failed = await sim_control.graphql(shop, CREDIT, variables)
    assert failed.status_code == 503
    (account,) = (await sim_control.store_credit(shop.domain, customer_id))["accounts"]
    assert account["balance"]["amount"] == "7.00"


async def test_credits_are_throttled_like_other_mutations(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=1, bucket_size=15, restore_rate=0.01)
    customer_id = (await sim_control.orders(shop.domain))["orders"][0]["customer"]["id"]
    variables = {
        "id": customer_id,
        "input": {"creditAmount": {"amount": "1.00", "currencyCode": "USD"}},
    }
    first = await answer(sim_control, shop, CREDIT, variables)
    assert first["data"]["storeCreditAccountCredit"]["userErrors"] == []
    second = await answer(sim_control, shop, CREDIT, variables)
    assert graphql_errors(second) == ["THROTTLED"] and "data" not in second
    (account,) = (await sim_control.store_credit(shop.domain, customer_id))["accounts"]
    assert account["balance"]["amount"] == "1.00" and len(account["transactions"]) == 1
