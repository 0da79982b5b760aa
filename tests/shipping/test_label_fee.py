"""A label the customer pays for comes off the refund: the resolved outcome shows its cost as
`labelFee`, and `refundAmount` is that much lower than for the same return on a merchant-paid
label. A shop not connected to Shopify: only our own arithmetic is at stake."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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
