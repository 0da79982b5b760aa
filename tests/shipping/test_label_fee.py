"""A label the customer pays for comes off the refund: the resolved outcome shows its cost as
`labelFee`, and `refundAmount` is that much lower than for the same return on a merchant-paid
label. A shop not connected to Shopify: only our own arithmetic is at stake. With Shopify, the
tax paid with the items is Shopify's suggestion less the items due and the label we keep."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.models import Return
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnItem, ReturnOutcome, ReturnReason
from app.services.returns.shopify_mirror import _check_outcome
from tests.shipping.desk import Carrier, Shop


async def resolved(shop: Shop, payer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 40.00 unit returned on a label `payer` pays for: (its shipment, its outcome)."""
    await shop.set_shipping(labelPayer=payer)
    return_id, shipment = await shop.bought(await shop.order(price="40.00"))
    assert shipment["payer"] == payer
    await shop.decide("markReturnReceived", return_id)
    outcome: dict[str, Any] = (await shop.decide("resolveReturn", return_id))["outcome"]
    return shipment, outcome


def amount(money: dict[str, str]) -> Decimal:
    return Decimal(money["amount"])


async def test_a_customer_paid_label_is_deducted_from_the_refund(
    shop: Shop, carrier: Carrier
) -> None:
    merchant_shipment, merchant = await resolved(shop, "MERCHANT")
    shipment, outcome = await resolved(shop, "CUSTOMER")

    assert amount(merchant["labelFee"]) == 0
    assert amount(merchant["refundAmount"]) == 40
    cost = amount(shipment["cost"])
    assert cost > 0
    assert outcome["labelFee"] == shipment["cost"]
    assert outcome["refundAmount"]["currencyCode"] == shipment["cost"]["currencyCode"]
    assert amount(outcome["itemsTotal"]) == amount(merchant["itemsTotal"]) == 40
    assert amount(outcome["refundAmount"]) == amount(merchant["refundAmount"]) - cost
    assert amount(outcome["refundAmount"]) == (
        amount(outcome["itemsTotal"])
        - amount(outcome["restockingFee"])
        - amount(outcome["returnShippingFee"])
        - cost
    )
    assert merchant_shipment["cost"] == shipment["cost"]  # the same label, the same price


class _Suggesting:
    """Shopify answering the suggested outcome of a return's lines, and nothing else."""

    def __init__(self, items: str, tax: str, refund: str) -> None:
        def bag(amount: str) -> dict[str, Any]:
            return {"presentmentMoney": {"amount": amount, "currencyCode": "USD"}}

        self.answer = {
            "return": {
                "suggestedFinancialOutcome": {
                    "discountedSubtotal": bag(items),
                    "totalAdditionalFees": bag("0.00"),
                    "totalTax": bag(tax),
                    "financialTransfer": {
                        "__typename": "RefundReturnOutcome",
                        **{"amount": bag(refund)},
                    },
                }
            }
        }

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        return self.answer


def _resolved_with_label_fee() -> Return:
    outcome = ReturnOutcome(
        resolution_type=ResolutionType.REFUND,
        currency="USD",
        items_total=Decimal("20.00"),
        label_fee=Decimal("6.00"),
        refund_amount=Decimal("14.00"),
        pays_in_shopify=True,
    )
    item = ReturnItem(line_item_id="1", quantity=1, reason=ReturnReason.UNWANTED)
    return Return(
        tenant_id="t",
        order_id="1",
        order_number="1001",
        customer_email="c@example.com",
        items=[item],
        return_method=ReturnMethod.PREPAID_LABEL,
        resolution_type=ResolutionType.REFUND,
        outcome=outcome,
    )


async def test_the_tax_paid_with_a_customer_paid_label_is_shopify_s_less_the_label() -> None:
    """Shopify suggests the items and their tax (it does not know our label); the label's cost
    is kept, the tax is paid; a suggestion capped below the label leaves no (negative) tax."""
    record = _resolved_with_label_fee()
    lines = [{"id": "gid://shopify/ReturnLineItem/1", "quantity": 1, "_line_item_id": "1"}]
    whole = _Suggesting(items="20.00", tax="1.60", refund="21.60")
    assert await _check_outcome(whole, record, "gid://r", lines, [], Decimal("14.00")) == Decimal(
        "1.60"
    )
    capped = _Suggesting(items="20.00", tax="1.60", refund="17.00")  # an earlier refund caps it
    assert await _check_outcome(capped, record, "gid://r", lines, [], Decimal("14.00")) == Decimal(
        0
    )
