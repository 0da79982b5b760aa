"""Resolving computes exact Decimal amounts, rounded half up (ROUND_HALF_UP) to the minor unit of
the return's currency (cents for USD, whole yen, thousandths of a Kuwaiti dinar) per returned
line, then summed: the way Shopify's suggested outcome rounds, so the two agree."""

from __future__ import annotations

from decimal import Decimal

import httpx

from app.db import Database
from app.models.money import round_to_minor_unit
from app.models.return_policy import ResolutionType, ReturnPolicy
from app.models.return_request import ItemCondition, ReturnExchange, ReturnItem, ReturnReason
from app.services.returns.resolution import compute_outcome
from tests.factories import graphql, make_tenant, merchant_headers
from tests.returns.builders import create, decide, line, return_input, shop_order


def item(quantity: int, price: str, discount: str = "0", **extra: object) -> ReturnItem:
    return ReturnItem(
        line_item_id="1",
        quantity=quantity,
        reason=ReturnReason.DEFECTIVE,
        unit_price=Decimal(price),
        unit_discount=Decimal(discount),
        **extra,
    )


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert round_to_minor_unit(Decimal("0.005"), "USD") == Decimal("0.01")
    assert round_to_minor_unit(Decimal("0.015"), "USD") == Decimal("0.02")
    assert round_to_minor_unit(Decimal("2.344999"), "USD") == Decimal("2.34")
    assert str(round_to_minor_unit(Decimal("1499.5"), "JPY")) == "1500"
    assert str(round_to_minor_unit(Decimal("12.3455"), "KWD")) == "12.346"
    assert str(round_to_minor_unit(Decimal("7"), "EUR")) == "7.00"
    assert str(round_to_minor_unit(Decimal("7"), "not-a-currency")) == "7.00"


def test_yen_are_whole_and_dinars_keep_three_places() -> None:
    policy = ReturnPolicy(restocking_fee_percent=Decimal("15"))
    yen = compute_outcome(ResolutionType.REFUND, [item(3, "1999")], policy, currency="JPY")
    # 5997 x 15% = 899.55 -> 900 yen (not 899.55: there are no sen)
    assert (str(yen.items_total), str(yen.restocking_fee), str(yen.refund_amount)) == (
        "5997",
        "900",
        "5097",
    )
    dinars = compute_outcome(ResolutionType.REFUND, [item(1, "12.345")], policy, currency="KWD")
    # 12.345 x 15% = 1.85175 -> 1.852 (rounding to cents would have lost the fils)
    assert (str(dinars.restocking_fee), str(dinars.refund_amount)) == ("1.852", "10.493")


def test_refund_less_per_unit_discount_and_restocking_fee() -> None:
    policy = ReturnPolicy(restocking_fee_percent=Decimal("15"))
    items = [item(2, "19.99", "1.00"), item(1, "0.10")]
    outcome = compute_outcome(ResolutionType.REFUND, items, policy, currency="USD")
    assert outcome.items_total == Decimal("38.08")  # 2 x 18.99 + 0.10
    # per line: 37.98 x 15% = 5.697 -> 5.70, 0.10 x 15% = 0.015 -> 0.02 (5.712 -> 5.71 on the
    # total would differ from Shopify's fees by a cent)
    assert outcome.restocking_fee == Decimal("5.72")
    assert outcome.refund_amount == Decimal("32.36")
    assert outcome.store_credit_amount == Decimal("0.00")
    assert all(isinstance(v, Decimal) for v in (outcome.items_total, outcome.refund_amount))


def test_discount_split_over_three_units_is_exact_for_the_whole_line() -> None:
    # A 10.00 discount on 3 units: each unit carries 3.333..., the whole line exactly 10.00.
    unit_discount = Decimal("10.00") / 3
    outcome = compute_outcome(
        ResolutionType.REFUND,
        [item(3, "20.00", str(unit_discount))],
        ReturnPolicy(),
        currency="USD",
    )
    assert outcome.refund_amount == Decimal("50.00")


def test_store_credit_adds_bonus_on_the_refund_base() -> None:
    policy = ReturnPolicy(
        restocking_fee_percent=Decimal("10"), store_credit_bonus_percent=Decimal("12.5")
    )
    outcome = compute_outcome(
        ResolutionType.STORE_CREDIT, [item(1, "33.33")], policy, currency="USD"
    )
    assert outcome.restocking_fee == Decimal("3.33")
    assert outcome.store_credit_amount == Decimal("33.75")  # 30.00 + 3.75
    assert outcome.store_credit_bonus == Decimal("3.75")  # credited on top of the 30.00 refund
    assert outcome.refund_amount == Decimal("0.00")


def test_the_return_shipping_fee_comes_off_refunds_and_store_credit_before_the_bonus() -> None:
    policy = ReturnPolicy(
        return_shipping_fee=Decimal("4.995"), store_credit_bonus_percent=Decimal("10")
    )
    refund = compute_outcome(ResolutionType.REFUND, [item(1, "20.00")], policy, currency="USD")
    assert (refund.return_shipping_fee, refund.refund_amount) == (Decimal("5.00"), Decimal("15.00"))
    credit = compute_outcome(
        ResolutionType.STORE_CREDIT, [item(1, "20.00")], policy, currency="USD"
    )
    assert (credit.store_credit_amount, credit.store_credit_bonus) == (
        Decimal("16.50"),  # 15.00 + 10% of it
        Decimal("1.50"),
    )
    yen = compute_outcome(
        ResolutionType.REFUND,
        [item(1, "3")],
        ReturnPolicy(return_shipping_fee=Decimal("499.5")),
        currency="JPY",
    )
    # 500 yen of fee on a 3 yen item: nothing is refunded, never less than nothing
    assert (str(yen.return_shipping_fee), str(yen.refund_amount)) == ("500", "0")


def test_exchange_has_no_fee_and_records_the_variant() -> None:
    policy = ReturnPolicy(restocking_fee_percent=Decimal("50"), return_shipping_fee=Decimal("5"))
    outcome = compute_outcome(
        ResolutionType.EXCHANGE,
        [item(1, "10.00")],
        policy,
        currency="USD",
        exchange_variant_id="77",
    )
    assert outcome.exchange_variant_id == "77"
    assert outcome.restocking_fee == Decimal("0.00")
    assert outcome.return_shipping_fee == Decimal("0")
    assert outcome.refund_amount == Decimal("0.00")


def test_each_line_is_rounded_before_the_lines_are_summed() -> None:
    # Two lines of 0.005 each: 0.01 + 0.01 (Shopify's per-line rounding), not round(0.010).
    items = [item(1, "0.015", "0.01"), item(1, "0.015", "0.01")]
    outcome = compute_outcome(ResolutionType.REFUND, items, ReturnPolicy(), currency="USD")
    assert outcome.items_total == Decimal("0.02")


def exchange(total: str, absorbed: str = "0") -> ReturnExchange:
    return ReturnExchange(
        variant_id="gid://shopify/ProductVariant/9",
        quantity=1,
        unit_price=Decimal(total),
        total=Decimal(total),
        absorbed=Decimal(absorbed),
    )


def test_a_cheaper_exchange_refunds_the_difference_and_a_dearer_one_is_owed() -> None:
    policy = ReturnPolicy(restocking_fee_percent=Decimal("50"))  # never on exchanges
    cheaper = compute_outcome(
        ResolutionType.EXCHANGE,
        [item(1, "30.00")],
        policy,
        currency="USD",
        exchange=exchange("22.75"),
    )
    assert (cheaper.refund_amount, cheaper.balance_due) == (Decimal("7.25"), Decimal("0.00"))
    assert cheaper.exchange_total == Decimal("22.75")
    dearer = compute_outcome(
        ResolutionType.EXCHANGE,
        [item(1, "30.00")],
        policy,
        currency="USD",
        exchange=exchange("41.00", absorbed="5.00"),
    )
    # 41.00 - 30.00 = 11.00 owed, 5.00 of it absorbed by the policy
    assert (dearer.refund_amount, dearer.balance_due) == (Decimal("0.00"), Decimal("6.00"))
    assert dearer.exchange_discount == Decimal("5.00")


def test_missing_items_are_not_refunded() -> None:
    items = [item(1, "10.00"), item(1, "5.00", condition=ItemCondition.MISSING)]
    outcome = compute_outcome(ResolutionType.REFUND, items, ReturnPolicy(), currency="USD")
    assert outcome.refund_amount == Decimal("10.00")


async def test_resolve_over_http_records_the_outcome(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    await graphql(
        client,
        'mutation { updateReturnPolicy(input: {restockingFeePercent: "10"}) { userErrors { code } } }',
        headers=headers,
    )
    order = await shop_order(tenant.id, 1001, [line(quantity=3, price="19.99", discount="3.00")])
    payload = await create(client, tenant.id, return_input(order, [(order.line_items[0].id, 2)]))
    return_id = payload["return"]["id"]
    await decide(client, headers, return_id, "approveReturn", "markReturnReceived")
    body = await graphql(
        client,
        """mutation($id: ID!) { resolveReturn(id: $id) { return { status resolvedAt
            outcome { resolutionType currencyCode itemsTotal { amount currencyCode }
              restockingFee { amount } refundAmount { amount }
              storeCreditAmount { amount } } } userErrors { code } } }""",
        {"id": return_id},
        headers,
    )
    resolved = body["data"]["resolveReturn"]["return"]
    assert resolved["status"] == "RESOLVED"
    assert resolved["resolvedAt"]
    # 2 x (19.99 - 1.00) = 37.98; fee 3.798 -> 3.80; refund 34.18
    assert resolved["outcome"] == {
        "resolutionType": "REFUND",
        "currencyCode": "USD",
        "itemsTotal": {"amount": "37.98", "currencyCode": "USD"},
        "restockingFee": {"amount": "3.80"},
        "refundAmount": {"amount": "34.18"},
        "storeCreditAmount": {"amount": "0.00"},
    }
    stored = await db.db["returns"].find_one({"tenant_id": tenant.id})
    assert stored is not None
    assert stored["outcome"]["refund_amount"].to_decimal() == Decimal("34.18")
