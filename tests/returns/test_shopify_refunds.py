"""Resolving a refund return pays the customer back in Shopify, exactly once: to the order's own
payments (a card before a gift card, none beyond what it took), exact in the currency's minor
unit, recorded with Shopify's ids; a lost answer, a worker that dies after Shopify paid and two
staff resolving together never pay twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from app.config import Settings
from app.models import Return
from app.models.money import round_to_minor_unit
from app.models.return_policy import ResolutionType
from app.models.return_request import ReturnOutcome
from app.services.returns import shopify_mirror
from app.shopify.documents.returns import RETURN_APPROVE, RETURN_REQUEST
from tests.factories import graphql, merchant_headers
from tests.returns.builders import sim_settings
from tests.returns.sim_shop import PROCESS_WITH_REFUND, RESOLVE, RETRY, NewShop, Shop, paid_back
from tests.returns.test_shopify_mirror import make_retry_due
from tools.shopify_sim import SimulatorServer

ORDER_PAYMENTS = """
query ($id: ID!) { order(id: $id) { transactions(first: 20) { id kind gateway
  amountSet { presentmentMoney { amount currencyCode } } } } }
"""


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


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
    outcome = view["outcome"]
    owed = Decimal(paid_back(outcome)["amount"])
    assert owed > Decimal("1.00")
    # The tax Shopify charged on the returned items (8% in the simulator) is paid back too.
    items = Decimal(outcome["itemsTotal"]["amount"])
    assert Decimal(outcome["tax"]["amount"]) == round_to_minor_unit(items * Decimal("0.08"), "USD")
    assert owed == Decimal(outcome["refundAmount"]["amount"]) + Decimal(outcome["tax"]["amount"])
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
    assert view["refund"]["amount"] == paid_back(view["outcome"])


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
    owed = paid_back(view["outcome"])
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
    await _staff_refund(shop)
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


async def _staff_refund(shop: Shop, amounts: dict[str, str] | None = None) -> None:
    """As staff in Shopify admin: return one unit and refund for it `amounts` (gateway ->
    amount), or the whole order."""
    order_gid = f"gid://shopify/Order/{shop.order.shopify_id}"

    async def admin(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await shop.control.graphql(shop.tenant.shop, query, variables)
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
            "transactionAmount": t["amountSet"]["presentmentMoney"]
            if amounts is None
            else {"amount": amounts[t["gateway"]], "currencyCode": "USD"},
        }
        for t in order["transactions"]
        if t["kind"] == "SALE" and (amounts is None or t["gateway"] in amounts)
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


async def test_the_refund_is_taken_from_the_process_answer_without_reading_it_back(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`returnProcess`'s answer carries the refund: a read-back (broken here) is never needed
    when the answer arrives, so paying costs one call less."""
    shop = await new_shop()
    return_id = await shop.resolved_return()
    monkeypatch.setattr(shopify_mirror, "RETURN_REFUNDS", "query { notAField }")
    await shop.mirror()

    view = await shop.view(return_id)
    assert view["shopifySync"] == {"status": "SYNCED", "error": None}
    [paid] = (await shop.shopify_order())["refunds"]
    assert view["refund"]["shopifyRefundId"] == paid["id"]


async def test_a_refund_refused_because_the_payments_changed_meanwhile_is_retried_afresh(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the mirror's read of the order's payments and its `returnProcess`, another refund
    takes the card's money (another worker paying another return of the order, or staff in
    admin). Shopify refuses ours; nothing was paid, so the sync stays pending and the next
    attempt allocates from a fresh read: the gift card pays."""
    payments = [{"gateway": "shopify_payments", "amount": "1.00"}, {"gateway": "gift_card"}]
    shop = await new_shop(payments=payments, units=2)
    return_id = await shop.resolved_return()
    checked = shopify_mirror._check_outcome
    raced: list[bool] = []

    async def check_then_race(*args: Any) -> Decimal | None:
        tax = await checked(*args)
        if not raced:
            raced.append(True)
            await _staff_refund(shop, {"shopify_payments": "1.00"})
        return tax

    monkeypatch.setattr(shopify_mirror, "_check_outcome", check_then_race)
    await shop.mirror()

    pending = await shop.view(return_id)
    assert pending["refund"] is None
    assert pending["shopifySync"]["status"] == "PENDING", pending
    assert "payments changed" in pending["shopifySync"]["error"]
    await make_retry_due(return_id)
    await shop.mirror()

    view = await shop.view(return_id)
    assert view["shopifySync"] == {"status": "SYNCED", "error": None}
    assert _amounts(view["refund"]) == [("gift_card", paid_back(view["outcome"])["amount"])]
    assert len((await shop.shopify_order())["refunds"]) == 2  # the staff's and ours


async def test_a_refund_refused_and_retried_pays_the_tax_the_order_can_still_give_back(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt records its tax T and is refused (staff refunded meanwhile, leaving
    the order a cent short of items + T). The retry must not keep T (it could never be paid):
    it pays the items and the tax that is left, as Shopify suggests."""
    payments = [{"gateway": "shopify_payments", "amount": "1.00"}, {"gateway": "gift_card"}]
    shop = await new_shop(payments=payments, units=2)
    return_id = await shop.resolved_return()
    record = await Return.get(return_id)
    assert record is not None and record.outcome is not None
    items = record.outcome.refund_amount
    checked = shopify_mirror._check_outcome
    raced: list[Decimal] = []

    async def check_then_race(*args: Any) -> Decimal | None:
        tax = await checked(*args)
        if not raced and tax is not None:
            raced.append(tax)
            sales = [t for t in (await shop.shopify_order())["transactions"] if t["kind"] == "SALE"]
            paid = sum(Decimal(t["amountSet"]["presentmentMoney"]["amount"]) for t in sales)
            gift = paid - Decimal("1.00") - (items + tax - Decimal("0.01"))
            await _staff_refund(shop, {"shopify_payments": "1.00", "gift_card": f"{gift:.2f}"})
        return tax

    monkeypatch.setattr(shopify_mirror, "_check_outcome", check_then_race)
    await shop.mirror()
    assert (await shop.view(return_id))["shopifySync"]["status"] == "PENDING"
    await make_retry_due(return_id)
    await shop.mirror()

    view = await shop.view(return_id)
    assert view["shopifySync"] == {"status": "SYNCED", "error": None}, view
    [first_tax] = raced
    assert Decimal(view["outcome"]["tax"]["amount"]) == first_tax - Decimal("0.01")
    assert Decimal(view["refund"]["amount"]["amount"]) == items + first_tax - Decimal("0.01")


class _Suggesting:
    """An Admin API that answers only `suggestedFinancialOutcome`, with the given refund."""

    def __init__(self, refund: str, tax: str) -> None:
        self.refund, self.tax = refund, tax

    async def execute(self, query: str, variables: Any, **_: Any) -> dict[str, Any]:
        def bag(amount: str) -> dict[str, Any]:
            return {"presentmentMoney": {"amount": amount, "currencyCode": "USD"}}

        return {
            "return": {
                "suggestedFinancialOutcome": {
                    "discountedSubtotal": bag("20.00"),
                    "totalAdditionalFees": bag("0.00"),
                    "totalTax": bag(self.tax),
                    "financialTransfer": {
                        "__typename": "RefundReturnOutcome",
                        "amount": bag(self.refund),
                    },
                }
            }
        }


@pytest.mark.parametrize(
    ("refund", "tax", "expected"),
    [
        ("21.60", "1.60", Decimal("1.60")),
        ("21.59", "1.60", Decimal("1.59")),  # capped at what the order can still give back
        ("21.61", "1.60", None),
        ("19.99", "1.60", "less"),
    ],
)
async def test_only_shopify_s_tax_is_paid_on_top_of_what_is_due(
    refund: str, tax: str, expected: Decimal | str | None
) -> None:
    """Shopify's suggested refund may exceed what is due here by at most its tax for the lines;
    a suggestion below what is due is reported as such (None)."""
    record = Return.model_construct(
        outcome=ReturnOutcome(
            resolution_type=ResolutionType.REFUND,
            currency="USD",
            items_total=Decimal("20.00"),
            refund_amount=Decimal("20.00"),
            pays_in_shopify=True,
        ),
        items=[],
        currency="USD",
    )
    lines = [{"id": "gid://shopify/ReturnLineItem/1", "quantity": 1, "_line_item_id": "9"}]
    check = shopify_mirror._check_outcome(
        _Suggesting(refund, tax), record, "gid://shopify/Return/1", lines, [], Decimal("20.00")
    )
    if expected is None:
        with pytest.raises(shopify_mirror.MirrorError) as refused:
            await check
        assert refused.value.permanent
        assert "Shopify's tax of 1.60 USD make 21.60 USD" in str(refused.value)
    elif expected == "less":
        assert await check is None
    else:
        assert await check == expected


async def test_the_read_before_paying_asks_shopify_s_bucket_for_the_return_s_lines_only(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shopify runs a query only once its bucket holds the query's requested cost: the read
    before paying is sized for the return's lines (244 points for one, not the 587 of 50), so a
    bound bucket does not keep most of itself in reserve for every refund."""
    requested: list[tuple[int, int | None]] = []
    read = shopify_mirror.shopify_return

    async def measured(api: Any, return_gid: str, lines: int = 50) -> dict[str, Any]:
        found = await read(api, return_gid, lines)
        requested.append((lines, api.last_cost.requested if api.last_cost else None))
        return found

    monkeypatch.setattr(shopify_mirror, "shopify_return", measured)
    shop = await new_shop()
    return_id = await shop.resolved_return()
    await shop.mirror()

    assert (await shop.view(return_id))["shopifySync"] == {"status": "SYNCED", "error": None}
    assert requested == [(1, 244)]


async def test_a_return_with_more_lines_on_shopify_than_read_is_read_whole_and_paid(
    new_shop: NewShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Shopify's return has more lines than the sized read asked for (here the read is
    made one line short), the mirror reads them all before processing, instead of refusing the
    return as too long."""
    sizes: list[int] = []
    read = shopify_mirror.shopify_return

    async def one_short(api: Any, return_gid: str, lines: int = 50) -> dict[str, Any]:
        sizes.append(lines)
        return await read(api, return_gid, lines - 1 if lines < 50 else lines)

    monkeypatch.setattr(shopify_mirror, "shopify_return", one_short)
    shop = await new_shop()
    return_id = await shop.resolved_return()
    await shop.mirror()

    view = await shop.view(return_id)
    assert view["shopifySync"] == {"status": "SYNCED", "error": None}
    [paid] = (await shop.shopify_order())["refunds"]
    assert view["refund"]["shopifyRefundId"] == paid["id"]
    assert view["refund"]["amount"] == paid_back(view["outcome"])
    assert sizes == [1, 50]
