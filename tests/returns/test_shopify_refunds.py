"""Resolving a refund return pays the customer back in Shopify, exactly once: to the order's own
payments (a card before a gift card, none beyond what it took), exact in the currency's minor
unit, recorded with Shopify's ids; a lost answer, a worker that dies after Shopify paid and two
staff resolving together never pay twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.models import Order, Return
from app.services.returns import shopify_mirror
from app.shopify.documents.returns import ORDER_PAYMENTS, RETURN_APPROVE, RETURN_REQUEST
from tests.factories import graphql, merchant_headers
from tests.returns.builders import (
    SimTenant,
    connect_sim_tenant,
    create,
    return_input,
    returnable_variants,
    sim_settings,
    sim_synced_order,
)
from tests.returns.test_shopify_mirror import decide, make_retry_due, run_mirror
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


VIEW = """query ($id: ID!) { return(id: $id) { status
  outcome { refundAmount { amount currencyCode } }
  refund { shopifyRefundId amount { amount currencyCode }
    transactions { shopifyTransactionId parentTransactionId gateway
      amount { amount currencyCode } } }
  shopifySync { status error } } }"""
RESOLVE = """mutation ($id: ID!) { resolveReturn(id: $id) {
  return { status } userErrors { code } } }"""
PROCESS_WITH_REFUND = """mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status } userErrors { field code message } } }"""
RETRY = """mutation ($id: ID!) { retryReturnShopifySync(id: $id) {
  return { shopifySync { status } } userErrors { field code } } }"""


class Shop:
    """One tenant on a simulator shop, its staff's headers and a synced order."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        control: SimulatorControl,
        settings: Settings,
        http: httpx.AsyncClient,
        tenant: SimTenant,
        order: Order,
    ) -> None:
        self.client = client
        self.control = control
        self.settings = settings
        self.http = http
        self.tenant = tenant
        self.order = order
        self.headers: dict[str, str] = {}

    async def mirror(self) -> None:
        """The mirror worker, until nothing is left to claim."""
        await run_mirror(self.settings, self.http)

    async def resolved_return(self) -> str:
        return_id = await self.received_return()
        await decide(self.client, self.headers, "resolve", return_id)
        return return_id

    async def received_return(self, quantity: int = 1) -> str:
        """A customer's refund return of the order's first line, approved and received."""
        line = self.order.line_items[0].id
        created = await create(
            self.client, self.tenant.tenant_id, return_input(self.order, [(line, quantity)])
        )
        assert created["userErrors"] == [], created
        return_id = str(created["return"]["id"])
        for action in ("approve", "receive"):
            await decide(self.client, self.headers, action, return_id)
        return return_id

    async def view(self, return_id: str) -> dict[str, Any]:
        body = await graphql(self.client, VIEW, {"id": return_id}, self.headers)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["return"]
        return found

    async def shopify_order(self) -> dict[str, Any]:
        return await self.control.order(self.tenant.domain, self.order.shopify_id)


async def _shop(
    client: httpx.AsyncClient,
    settings: Settings,
    simulator: SimulatorServer,
    control: SimulatorControl,
    http: httpx.AsyncClient,
    *,
    currency: str = "USD",
    units: int = 2,
    payments: list[dict[str, str]] | None = None,
) -> Shop:
    tenant = await connect_sim_tenant(control, settings, currency=currency)
    [variant] = returnable_variants(simulator, tenant.domain, 1)
    options: dict[str, Any] = {"payments": payments} if payments is not None else {}
    order = await sim_synced_order(
        control, settings, http, tenant, [{"variant_id": variant, "quantity": units}], **options
    )
    shop = Shop(client, control, settings, http, tenant, order)
    shop.headers = await merchant_headers(tenant.tenant_id)
    return shop


NewShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
def new_shop(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> NewShop:
    """A tenant on a new simulator shop with one paid order (`_shop`'s options)."""

    async def make(**options: Any) -> Shop:
        return await _shop(client, settings, simulator, sim_control, sim_http, **options)

    return make


def _amounts(refund: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["gateway"], t["amount"]["amount"]) for t in refund["transactions"]]


async def test_a_refund_goes_to_the_card_before_the_gift_card_and_is_recorded_once(
    new_shop: NewShop,
) -> None:
    payments = [{"gateway": "shopify_payments", "amount": "1.00"}, {"gateway": "gift_card"}]
    shop = await new_shop(payments=payments)
    return_id = await shop.resolved_return()
    await shop.mirror()

    view = await shop.view(return_id)
    owed = Decimal(view["outcome"]["refundAmount"]["amount"])
    assert owed > Decimal("1.00")
    refund = view["refund"]
    assert view["shopifySync"] == {"status": "SYNCED", "error": None}
    assert refund["amount"] == {"amount": f"{owed:.2f}", "currencyCode": "USD"}
    assert _amounts(refund) == [
        ("shopify_payments", "1.00"),
        ("gift_card", f"{owed - Decimal('1.00'):.2f}"),
    ]
    on_shopify = await shop.shopify_order()
    [paid] = on_shopify["refunds"]
    assert paid["id"] == refund["shopifyRefundId"]
    assert {t["id"] for t in paid["transactions"]} == {
        t["shopifyTransactionId"] for t in refund["transactions"]
    }

    # Only a failed sync can be queued again by staff.
    body = await graphql(shop.client, RETRY, {"id": return_id}, shop.headers)
    assert body["data"]["retryReturnShopifySync"]["userErrors"] == [
        {"field": ["id"], "code": "SYNC_NOT_FAILED"}
    ]


async def test_a_paid_return_reopened_by_staff_is_never_paid_again(new_shop: NewShop) -> None:
    """The worker recorded the refund and died before marking the step done; staff then reopened
    the return in Shopify admin. The retry finds it open, but paid: it pays nothing."""
    shop = await new_shop()
    return_id = await shop.resolved_return()
    await shop.mirror()
    [paid] = (await shop.shopify_order())["refunds"]
    gid = await Return.find_one({"tenant_id": shop.tenant.tenant_id})
    assert gid is not None and gid.shopify_return_id is not None
    await Return.get_pymongo_collection().update_one(
        {"_id": gid.id},
        {
            "$pull": {"shopify_applied": "process"},
            "$set": {"shopify_sync.status": "pending", "shopify_sync.lease_expires_at": None},
        },
    )
    await shop.control.staff_return(shop.tenant.domain, "reopen", id=gid.shopify_return_id)

    await shop.mirror()

    assert [r["id"] for r in (await shop.shopify_order())["refunds"]] == [paid["id"]]
    view = await shop.view(return_id)
    assert view["refund"]["shopifyRefundId"] == paid["id"]
    assert view["shopifySync"]["status"] == "SYNCED"


async def test_a_lost_answer_after_shopify_paid_is_read_back_not_paid_again(
    new_shop: NewShop,
) -> None:
    shop = await new_shop()
    return_id = await shop.resolved_return()
    await shop.control.drop_next_responses(shop.tenant.domain, 1, operation="returnProcess")
    await shop.mirror()
    await make_retry_due(return_id)
    await shop.mirror()

    state = await shop.control.shop_state(shop.tenant.domain)
    # Shopify paid; we never heard, and did not send it again: the next attempt read it back.
    assert state["counters"]["faults_dropped"] == 1
    view = await shop.view(return_id)
    assert view["shopifySync"]["status"] == "SYNCED", view
    [paid] = (await shop.shopify_order())["refunds"]
    assert view["refund"]["shopifyRefundId"] == paid["id"]
    assert view["refund"]["amount"] == view["outcome"]["refundAmount"]


async def test_a_worker_killed_after_shopify_paid_leaves_the_refund_to_be_read_back(
    new_shop: NewShop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await new_shop()
    return_id = await shop.resolved_return()

    async def killed(*_: object) -> None:
        raise asyncio.CancelledError  # the process dies: nothing of it runs any more

    with monkeypatch.context() as patched:
        patched.setattr(shopify_mirror._ReturnJournal, "refund_paid", killed)
        with pytest.raises(asyncio.CancelledError):
            await shop.mirror()
    assert len((await shop.shopify_order())["refunds"]) == 1  # Shopify paid
    assert (await shop.view(return_id))["refund"] is None  # we never heard

    await make_retry_due(return_id)  # the dead worker's lease runs out
    await shop.mirror()
    view = await shop.view(return_id)
    [paid] = (await shop.shopify_order())["refunds"]
    assert view["refund"]["shopifyRefundId"] == paid["id"]
    assert view["shopifySync"]["status"] == "SYNCED"


async def test_two_staff_resolving_together_refund_once(
    new_shop: NewShop,
) -> None:
    shop = await new_shop()
    return_id = await shop.received_return()
    other_staff = await merchant_headers(shop.tenant.tenant_id)
    answers = await asyncio.gather(
        *(graphql(shop.client, RESOLVE, {"id": return_id}, h) for h in (shop.headers, other_staff))
    )
    outcomes = sorted(
        (a["data"]["resolveReturn"]["return"] or {}).get("status", "")
        or a["data"]["resolveReturn"]["userErrors"][0]["code"]
        for a in answers
    )
    assert outcomes == ["INVALID_TRANSITION", "RESOLVED"]
    await asyncio.gather(shop.mirror(), shop.mirror())

    assert len((await shop.shopify_order())["refunds"]) == 1
    assert (await shop.view(return_id))["refund"] is not None


@pytest.mark.parametrize(("currency", "decimals"), [("JPY", 0), ("KWD", 3)])
async def test_amounts_are_exact_in_the_currency_minor_unit(
    new_shop: NewShop,
    currency: str,
    decimals: int,
) -> None:
    shop = await new_shop(currency=currency)
    return_id = await shop.resolved_return()
    await shop.mirror()

    view = await shop.view(return_id)
    owed = view["outcome"]["refundAmount"]
    assert owed["currencyCode"] == currency
    assert view["refund"]["amount"] == owed
    places = len(owed["amount"].partition(".")[2])
    assert places == decimals, owed
    [paid] = (await shop.shopify_order())["refunds"]
    assert Decimal(paid["totalRefundedSet"]["presentmentMoney"]["amount"]) == Decimal(
        owed["amount"]
    )


async def test_a_refund_the_payments_cannot_carry_fails_visibly_and_pays_nothing(
    new_shop: NewShop,
) -> None:
    shop = await new_shop()
    # Staff refunded the whole order in Shopify admin, with a return of one unit.
    await _staff_refund_everything(shop.control, shop)
    return_id = await shop.resolved_return()
    await shop.mirror()

    view = await shop.view(return_id)
    assert view["refund"] is None
    assert view["shopifySync"]["status"] == "FAILED"
    assert "refund not sent" in view["shopifySync"]["error"]
    assert "can refund at most 0" in view["shopifySync"]["error"]
    assert len((await shop.shopify_order())["refunds"]) == 1  # the staff's only

    # Retrying queues it again (staff may have fixed the cause meanwhile).
    body = await graphql(shop.client, RETRY, {"id": return_id}, shop.headers)
    retried = body["data"]["retryReturnShopifySync"]
    assert retried == {"return": {"shopifySync": {"status": "PENDING"}}, "userErrors": []}


async def _staff_refund_everything(control: SimulatorControl, shop: Shop) -> None:
    """As staff in Shopify admin: return one unit and refund the whole order for it."""
    order_gid = f"gid://shopify/Order/{shop.order.shopify_id}"

    async def admin(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await control.graphql(shop.tenant.shop, query, variables)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    requested = await admin(
        RETURN_REQUEST,
        {
            "input": {
                "orderId": order_gid,
                "returnLineItems": [
                    {
                        "lineItemId": f"gid://shopify/LineItem/{shop.order.line_items[0].id}",
                        "quantity": 1,
                        "returnReason": "OTHER",
                    }
                ],
            }
        },
    )
    return_gid = requested["returnRequest"]["return"]["id"]
    await admin(RETURN_APPROVE, {"input": {"id": return_gid}})
    order = (await admin(ORDER_PAYMENTS, {"id": order_gid}))["order"]
    transfer = [
        {
            "transactionId": t["id"],
            "transactionAmount": t["amountSet"]["presentmentMoney"],
        }
        for t in order["transactions"]
        if t["kind"] == "SALE"
    ]
    processed = await admin(
        PROCESS_WITH_REFUND,
        {
            "input": {
                "returnId": return_gid,
                "financialTransfer": {"issueRefund": {"orderTransactions": transfer}},
            }
        },
    )
    assert processed["returnProcess"]["userErrors"] == [], processed
