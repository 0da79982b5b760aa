"""Staff switch a return's method (`changeReturnMethod`): away from a label, the label is voided
and none is bought any more; to a label method, one is planned and bought once approved; a label
already bought or moving is not switched over silently."""

from __future__ import annotations

from typing import Any

from tests.factories import graphql
from tests.shipping.desk import Carrier, Shop

CHANGE = """mutation ($id: ID!, $method: ReturnMethod!) {
  changeReturnMethod(id: $id, returnMethod: $method) {
    return { returnMethod shipment { status voidRequested dropOff } }
    userErrors { field code message } } }"""


async def change(shop: Shop, return_id: str, method: str) -> dict[str, Any]:
    body = await graphql(shop.client, CHANGE, {"id": return_id, "method": method}, shop.headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["changeReturnMethod"]
    return payload


async def test_away_from_a_label_voids_it_and_buys_no_other(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping()
    return_id, _ = await shop.bought()
    changed = await change(shop, return_id, "CUSTOMER_SHIPS")
    assert changed["userErrors"] == []
    assert changed["return"]["returnMethod"] == "CUSTOMER_SHIPS"
    assert changed["return"]["shipment"]["voidRequested"] is True
    assert await shop.run_labels() == 1  # the void
    assert (await shop.shipment(return_id))["status"] == "VOIDED"
    assert (await carrier.control.account())["purchases"] == 1


async def test_away_before_the_purchase_buys_nothing(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping()
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    assert (await change(shop, return_id, "CUSTOMER_SHIPS"))["userErrors"] == []
    await shop.decide("approveReturn", return_id)  # approved afterwards: still no purchase
    await shop.run_labels()
    assert (await shop.shipment(return_id))["status"] == "VOIDED"
    assert (await carrier.control.account())["purchases"] == 0


async def test_to_a_label_method_plans_the_label_bought_once_approved(
    shop: Shop, carrier: Carrier
) -> None:
    await shop.set_shipping(methods=["CUSTOMER_SHIPS", "PREPAID_LABEL", "DROP_OFF"])
    created = await shop.request(await shop.order(), method="CUSTOMER_SHIPS")
    return_id = str(created["id"])
    assert created["shipment"] is None
    changed = await change(shop, return_id, "DROP_OFF")
    assert changed["userErrors"] == []
    assert changed["return"]["shipment"] == {
        "status": "LABEL_PENDING",
        "voidRequested": False,
        "dropOff": True,
    }
    await shop.decide("approveReturn", return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED"
    assert shipment["qrCodeUrl"] is not None  # a drop-off: a QR-code carrier


async def test_a_bought_or_moving_label_is_not_switched_over(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping(methods=["CUSTOMER_SHIPS", "PREPAID_LABEL", "DROP_OFF"])
    return_id, _ = await shop.bought()
    refused = await change(shop, return_id, "DROP_OFF")
    assert [error["code"] for error in refused["userErrors"]] == ["LABEL_NOT_AVAILABLE"]
    assert "bought already" in refused["userErrors"][0]["message"]
    assert (await shop.view(return_id))["returnMethod"] == "PREPAID_LABEL"
