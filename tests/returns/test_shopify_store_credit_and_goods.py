"""Processing a return in Shopify beyond refunds to the card: store credit with the policy's
bonus on top (once, even when Shopify's answer is lost), fees that Shopify's own suggested
outcome agrees with before anything is paid, and goods restocked at the return location."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Return
from app.models.money import round_to_minor_unit
from app.services.returns import shopify_mirror
from tests.factories import graphql, merchant_headers
from tests.returns.builders import (
    connect_sim_tenant,
    create,
    return_input,
    returnable_variants,
    sim_settings,
    sim_synced_order,
)
from tests.returns.sim_shop import NewShop, Shop
from tests.returns.test_shopify_mirror import decide, make_retry_due
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


POLICY = """mutation ($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  tenant { returnPolicy { restockLocationId } } userErrors { field code message } } }"""
ON_SHOPIFY = """query ($id: ID!) { return(id: $id) {
  returnLineItems(first: 10) { nodes { ... on ReturnLineItem { restockingFee { percentage } } } }
  returnShippingFees { amountSet { presentmentMoney { amount currencyCode } } }
  reverseFulfillmentOrders(first: 5) { nodes { lineItems(first: 10) { nodes {
    dispositions { type quantity location { id } } } } } } } }"""
VIEW = """query ($id: ID!) { return(id: $id) { status
  outcome { itemsTotal { amount } restockingFee { amount } returnShippingFee { amount }
    refundAmount { amount }
    storeCreditAmount { amount currencyCode } storeCreditBonus { amount } restockLocationId
    tax { amount } }
  refund { shopifyRefundId amount { amount currencyCode }
    transactions { gateway parentTransactionId amount { amount } } }
  storeCreditBonus { amount { amount currencyCode } shopifyTransactionId shopifyAccountId
    creditedAt }
  shopifySync { status error } } }"""
RECEIVE = """mutation ($id: ID!, $items: [ReturnItemReceiptInput!]) {
  markReturnReceived(id: $id, items: $items) { userErrors { code message } } }"""


async def set_policy(shop: Shop, **settings: Any) -> dict[str, Any]:
    body = await graphql(shop.client, POLICY, {"input": settings}, shop.headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateReturnPolicy"]
    return payload


def policy_of(payload: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = payload["tenant"]["returnPolicy"]
    return found


async def on_shopify(shop: Shop) -> dict[str, Any]:
    """Our tenant's (only) return as Shopify's Admin API shows it."""
    record = await Return.find_one({"tenant_id": shop.tenant.tenant_id})
    assert record is not None and record.shopify_return_id is not None
    response = await shop.control.graphql(
        shop.tenant.shop, ON_SHOPIFY, {"id": record.shopify_return_id}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["data"]["return"]
    return found


async def view(shop: Shop, return_id: str) -> dict[str, Any]:
    body = await graphql(shop.client, VIEW, {"id": return_id}, shop.headers)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["return"]
    return found


async def resolved(
    shop: Shop,
    items: list[tuple[str, int]],
    *,
    resolution: str = "REFUND",
    receipts: list[dict[str, Any]] | None = None,
) -> str:
    """A customer's return of `items`, approved, received (with `receipts`) and resolved."""
    created = await create(
        shop.client,
        shop.tenant.tenant_id,
        return_input(shop.order, items, resolution=resolution),
    )
    assert created["userErrors"] == [], created
    return_id = str(created["return"]["id"])
    await decide(shop.client, shop.headers, "approve", return_id)
    body = await graphql(shop.client, RECEIVE, {"id": return_id, "items": receipts}, shop.headers)
    assert body["data"]["markReturnReceived"]["userErrors"] == [], body
    await decide(shop.client, shop.headers, "resolve", return_id)
    return return_id


async def store_credit(shop: Shop) -> dict[str, Any]:
    assert shop.order.customer is not None and shop.order.customer.id is not None
    return await shop.control.store_credit(shop.tenant.domain, shop.order.customer.id)


def tax_of(found: dict[str, Any]) -> Decimal:
    """The tax Shopify computed for the returned lines, paid back with them (recorded: the
    simulator taxes every order, so a paid return without it is a failure)."""
    tax = found["outcome"]["tax"]
    assert tax is not None, found
    return Decimal(tax["amount"])


def credits(accounts: dict[str, Any]) -> list[tuple[str, bool]]:
    """(amount, made by a refund) of every credit on the customer's accounts."""
    return sorted(
        (str(Decimal(t["amount"]["amount"]).normalize()), t.get("origin") is not None)
        for account in accounts["accounts"]
        for t in account["transactions"]
    )


async def test_store_credit_refunds_the_base_and_credits_the_bonus_on_top(
    new_shop: NewShop,
) -> None:
    shop = await new_shop()
    await set_policy(shop, storeCreditBonusPercent="10")
    line = shop.order.line_items[0]
    return_id = await resolved(shop, [(line.id, 1)], resolution="STORE_CREDIT")
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}
    outcome = found["outcome"]
    total = Decimal(outcome["storeCreditAmount"]["amount"])
    bonus = Decimal(outcome["storeCreditBonus"]["amount"])
    assert bonus == round_to_minor_unit((total - bonus) * Decimal("0.1"), "USD")
    # The base (with the items' tax) is refunded to store credit through returnProcess...
    tax = tax_of(found)
    assert tax > 0
    assert Decimal(found["refund"]["amount"]["amount"]) == total - bonus + tax
    [paid] = found["refund"]["transactions"]
    assert paid["gateway"] == "shopify_store_credit"
    assert paid["parentTransactionId"] is None
    # ... and the bonus credited on top, once, both on the customer's account.
    assert found["storeCreditBonus"]["shopifyTransactionId"]
    assert found["storeCreditBonus"]["creditedAt"]
    accounts = await store_credit(shop)
    [account] = accounts["accounts"]
    assert Decimal(account["balance"]["amount"]) == total + tax
    assert credits(accounts) == sorted(
        [(str((total - bonus + tax).normalize()), True), (str(bonus.normalize()), False)]
    )


async def test_a_lost_bonus_answer_is_found_on_the_account_not_credited_twice(
    new_shop: NewShop,
) -> None:
    shop = await new_shop()
    await set_policy(shop, storeCreditBonusPercent="25")
    return_id = await resolved(shop, [(shop.order.line_items[0].id, 1)], resolution="STORE_CREDIT")
    await shop.control.drop_next_responses(
        shop.tenant.domain, 1, operation="storeCreditAccountCredit"
    )
    await shop.mirror()

    # Paid to store credit, the bonus credited by Shopify but unheard of: a visible partial state.
    partial = await view(shop, return_id)
    assert partial["refund"] is not None
    assert partial["storeCreditBonus"]["shopifyTransactionId"] is None
    assert partial["shopifySync"]["status"] == "PENDING"
    assert partial["shopifySync"]["error"]

    await make_retry_due(return_id)
    await shop.mirror()
    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}
    accounts = await store_credit(shop)
    bonus_credits = [t for a in accounts["accounts"] for t in a["transactions"] if not t["origin"]]
    assert [t["id"] for t in bonus_credits] == [found["storeCreditBonus"]["shopifyTransactionId"]]
    assert Decimal(accounts["accounts"][0]["balance"]["amount"]) == Decimal(
        found["outcome"]["storeCreditAmount"]["amount"]
    ) + tax_of(found)


@pytest.mark.parametrize(("currency", "decimals"), [("JPY", 0), ("KWD", 3)])
async def test_store_credit_and_bonus_are_exact_in_the_minor_unit(
    new_shop: NewShop, currency: str, decimals: int
) -> None:
    shop = await new_shop(currency=currency)
    await set_policy(shop, storeCreditBonusPercent="12.5", restockingFeePercent="3")
    return_id = await resolved(shop, [(shop.order.line_items[0].id, 1)], resolution="STORE_CREDIT")
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["shopifySync"]["status"] == "SYNCED", found
    bonus = found["storeCreditBonus"]["amount"]
    assert bonus["currencyCode"] == currency
    assert len(bonus["amount"].partition(".")[2]) == decimals
    balance = (await store_credit(shop))["accounts"][0]["balance"]
    assert Decimal(balance["amount"]) == Decimal(
        found["outcome"]["storeCreditAmount"]["amount"]
    ) + tax_of(found)
    assert balance["currencyCode"] == currency


async def test_the_restocking_fee_reaches_shopify_which_agrees_before_paying(
    new_shop: NewShop,
) -> None:
    shop = await new_shop(units=3)
    await set_policy(shop, restockingFeePercent="15")
    return_id = await resolved(shop, [(shop.order.line_items[0].id, 2)])
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    outcome = found["outcome"]
    assert Decimal(outcome["restockingFee"]["amount"]) > 0
    assert Decimal(found["refund"]["amount"]["amount"]) == Decimal(
        outcome["refundAmount"]["amount"]
    ) + tax_of(found)
    lines = (await on_shopify(shop))["returnLineItems"]["nodes"]
    assert [line["restockingFee"] for line in lines] == [{"percentage": 15.0}]


async def test_the_return_shipping_fee_shown_when_asking_reaches_shopify_and_is_deducted(
    new_shop: NewShop,
) -> None:
    """The fee recorded when the customer asked is sent with the request and deducted at
    resolution, with the restocking fee, whatever the policy says by then; Shopify's suggested
    outcome (both fees) agrees, so the refund is paid."""
    shop = await new_shop(units=2)
    await set_policy(shop, restockingFeePercent="10", returnShippingFee="4.5")
    created = await create(
        shop.client,
        shop.tenant.tenant_id,
        return_input(shop.order, [(shop.order.line_items[0].id, 1)]),
    )
    assert created["userErrors"] == [], created
    return_id = str(created["return"]["id"])
    await set_policy(shop, returnShippingFee="9")  # too late for this return
    for action in ("approve", "receive", "resolve"):
        await decide(shop.client, shop.headers, action, return_id)
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    outcome = found["outcome"]
    assert outcome["returnShippingFee"] == {"amount": "4.50"}
    items = Decimal(outcome["itemsTotal"]["amount"])
    restocking = Decimal(outcome["restockingFee"]["amount"])
    assert restocking == round_to_minor_unit(items / 10, "USD")
    refund = Decimal(outcome["refundAmount"]["amount"])
    assert refund == items - restocking - Decimal("4.50")
    # The tax on the items is paid back whole: the fees are not taxed.
    assert tax_of(found) == round_to_minor_unit(items * Decimal("0.08"), "USD")
    assert Decimal(found["refund"]["amount"]["amount"]) == refund + tax_of(found)
    fees = (await on_shopify(shop))["returnShippingFees"]
    assert [fee["amountSet"]["presentmentMoney"] for fee in fees] == [
        {"amount": "4.50", "currencyCode": "USD"}
    ]


async def test_a_negative_return_shipping_fee_is_refused(new_shop: NewShop) -> None:
    shop = await new_shop()
    refused = await set_policy(shop, returnShippingFee="-1")
    assert refused["userErrors"] == [
        {"field": ["returnShippingFee"], "code": "OUT_OF_RANGE", "message": "Must not be negative."}
    ]


async def test_an_outcome_shopify_disagrees_with_is_refused_and_nothing_paid(
    new_shop: NewShop,
) -> None:
    """A return asked for before fees reached Shopify carries none there; the policy's fee since
    makes ours smaller than Shopify's suggestion: refused, with both shown, nothing paid."""
    shop = await new_shop()
    created = await create(
        shop.client,
        shop.tenant.tenant_id,
        return_input(shop.order, [(shop.order.line_items[0].id, 1)]),
    )
    return_id = str(created["return"]["id"])
    await Return.get_pymongo_collection().update_one(
        {"tenant_id": shop.tenant.tenant_id}, {"$set": {"restocking_fee_percent": None}}
    )
    await set_policy(shop, restockingFeePercent="20")
    for action in ("approve", "receive", "resolve"):
        await decide(shop.client, shop.headers, action, return_id)
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["refund"] is None
    assert found["shopifySync"]["status"] == "FAILED"
    error = found["shopifySync"]["error"]
    assert "suggested outcome differs" in error
    assert f"fees {found['outcome']['restockingFee']['amount']} USD here" in error
    assert "fees 0.00 USD on Shopify" in error
    assert (await shop.shopify_order())["refunds"] == []


async def test_resellable_items_are_restocked_at_the_return_location_damaged_ones_not(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    resellable, damaged = returnable_variants(simulator, tenant.domain, 2)
    order = await sim_synced_order(
        sim_control,
        settings,
        sim_http,
        tenant,
        [{"variant_id": resellable, "quantity": 1}, {"variant_id": damaged, "quantity": 1}],
    )
    shop = Shop(client, sim_control, settings, sim_http, tenant, order)
    shop.headers = await merchant_headers(tenant.tenant_id)
    locations = (await sim_control.locations(tenant.domain))["locations"]
    returns_center = next(loc for loc in locations if loc["name"] == "Returns center")["id"]
    changed = await set_policy(shop, restockLocationId=returns_center)
    assert changed["userErrors"] == []
    assert policy_of(changed) == {"restockLocationId": returns_center}

    async def stock(variant: str) -> dict[str, int]:
        levels = (await sim_control.inventory(tenant.domain, variant))["levels"]
        return {level["location_id"]: level["available"] for level in levels}

    before = {variant: await stock(variant) for variant in (resellable, damaged)}
    lines = {line.variant_id: line.id for line in order.line_items}
    return_id = await resolved(
        shop,
        [(lines[resellable.rsplit("/", 1)[-1]], 1), (lines[damaged.rsplit("/", 1)[-1]], 1)],
        receipts=[
            {"lineItemId": lines[resellable.rsplit("/", 1)[-1]], "condition": "NEW"},
            {"lineItemId": lines[damaged.rsplit("/", 1)[-1]], "condition": "DAMAGED"},
        ],
    )
    await shop.mirror()

    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}, found
    assert found["outcome"]["restockLocationId"] == returns_center
    after = {variant: await stock(variant) for variant in (resellable, damaged)}
    assert after[resellable][returns_center] == before[resellable][returns_center] + 1
    assert after[damaged] == before[damaged]
    [reverse_order] = (await on_shopify(shop))["reverseFulfillmentOrders"]["nodes"]
    dispositions = sorted(
        (disposition["type"], (disposition["location"] or {}).get("id"))
        for line in reverse_order["lineItems"]["nodes"]
        for disposition in line["dispositions"]
    )
    assert dispositions == [("NOT_RESTOCKED", None), ("RESTOCKED", returns_center)]


async def test_a_restock_location_must_be_a_shopify_location_id(new_shop: NewShop) -> None:
    shop = await new_shop()
    another_kind = await set_policy(shop, restockLocationId="gid://shopify/Order/42")
    assert [e["code"] for e in another_kind["userErrors"]] == ["INVALID"]
    refused = await set_policy(shop, restockLocationId="the back room")
    assert refused["userErrors"][0]["field"] == ["restockLocationId"]
    assert refused["userErrors"][0]["code"] == "INVALID"
    assert policy_of(await set_policy(shop, restockLocationId="42")) == {
        "restockLocationId": "gid://shopify/Location/42"
    }
    assert policy_of(await set_policy(shop, restockLocationId="")) == {"restockLocationId": None}


async def test_a_bonus_request_that_may_be_in_flight_is_not_sent_again_until_it_cannot_be(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker recorded the bonus request and died before sending it. A retry at once finds
    nothing on the account but cannot tell a lost send from one still on its way: it waits.
    Once the request is old enough, it credits the bonus, once."""
    shop = await new_shop()
    await set_policy(shop, storeCreditBonusPercent="20")
    return_id = await resolved(shop, [(shop.order.line_items[0].id, 1)], resolution="STORE_CREDIT")
    recorded = shopify_mirror._ReturnJournal.bonus_requested

    async def recorded_then_died(self: Any, at: Any, after: Any) -> None:
        await recorded(self, at, after)
        raise asyncio.CancelledError  # the process dies before the credit is sent

    with monkeypatch.context() as patched:
        patched.setattr(shopify_mirror._ReturnJournal, "bonus_requested", recorded_then_died)
        with pytest.raises(asyncio.CancelledError):
            await shop.mirror()

    await make_retry_due(return_id)
    await shop.mirror()
    waiting = await view(shop, return_id)
    assert waiting["storeCreditBonus"]["shopifyTransactionId"] is None
    assert "never sent twice" in waiting["shopifySync"]["error"]
    assert [
        t
        for a in (await store_credit(shop))["accounts"]
        for t in a["transactions"]
        if not t["origin"]
    ] == []

    await Return.get_pymongo_collection().update_one(
        {"tenant_id": shop.tenant.tenant_id},
        {"$set": {"store_credit_bonus.requested_at": utcnow() - timedelta(minutes=3)}},
    )
    await make_retry_due(return_id)
    await shop.mirror()
    found = await view(shop, return_id)
    assert found["shopifySync"] == {"status": "SYNCED", "error": None}
    bonuses = [
        t
        for a in (await store_credit(shop))["accounts"]
        for t in a["transactions"]
        if not t["origin"]
    ]
    assert [t["id"] for t in bonuses] == [found["storeCreditBonus"]["shopifyTransactionId"]]


async def test_a_bonus_is_recorded_as_requested_only_by_the_attempt_holding_the_return(
    new_shop: NewShop,
) -> None:
    """Recording the request is what licenses the send: refused (nothing may be sent) to a
    worker whose lease ran out, and to one that did not see the latest request (another
    attempt's send may be on its way: the bonus would be credited twice)."""
    shop = await new_shop()
    await set_policy(shop, storeCreditBonusPercent="20")
    return_id = await resolved(shop, [(shop.order.line_items[0].id, 1)], resolution="STORE_CREDIT")
    returns = Return.get_pymongo_collection()
    mine = {"_id": PydanticObjectId(return_id)}
    now = utcnow()

    async def journal_with_lease(expires: Any) -> Any:
        await returns.update_one(
            mine,
            {"$set": {"shopify_sync.lease_owner": "w1", "shopify_sync.lease_expires_at": expires}},
        )
        record = await Return.get(PydanticObjectId(return_id))
        assert record is not None
        return shopify_mirror._ReturnJournal(record)

    lapsed = await journal_with_lease(now - timedelta(seconds=1))
    with pytest.raises(shopify_mirror.MirrorError):
        await lapsed.bonus_requested(now, None)
    holding = await journal_with_lease(now + timedelta(minutes=5))
    await holding.bonus_requested(now, None)
    with pytest.raises(shopify_mirror.MirrorError):
        await holding.bonus_requested(now + timedelta(seconds=1), None)  # saw no request
    stored = await returns.find_one(mine, {"store_credit_bonus": 1})
    assert stored is not None and stored["store_credit_bonus"]["requested_at"] == now
