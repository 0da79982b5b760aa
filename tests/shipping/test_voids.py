"""Canceling a return voids its unused label at the carrier (refunded); a label whose parcel
already moved is kept, and the shipment says why."""

from __future__ import annotations

from typing import Any

from tests.shipping.desk import Carrier, Shop, tracker_status


async def carrier_shipment(shop: Shop, return_id: str) -> dict[str, Any]:
    stored = await shop.stored(return_id)
    assert stored.shipment is not None and stored.shipment.carrier_shipment_id is not None
    return await shop.carrier.shipment(stored.shipment.carrier_shipment_id)


async def announced(shop: Shop) -> str:
    """A return with its label bought and the label's `tracker.created` Event applied."""
    await shop.set_shipping()
    return_id, _ = await shop.bought()
    relayed = await shop.relay_and_process()
    assert [tracker_status(item) for item, _ in relayed] == ["pre_transit"]
    return return_id


async def test_cancel_voids_an_unused_label(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping()
    return_id, bought = await shop.bought()
    canceled = await shop.decide("cancelReturn", return_id)
    assert canceled["status"] == "CANCELED"
    assert canceled["shipment"]["voidRequested"] is True
    assert canceled["shipment"]["status"] == "LABEL_CREATED"

    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "VOIDED", shipment
    assert shipment["voidedAt"] is not None
    assert (shipment["voidRequested"], shipment["error"]) == (False, None)
    assert shipment["trackingNumber"] == bought["trackingNumber"]
    sim = await carrier_shipment(shop, return_id)
    assert sim["refund_status"] == "submitted"
    assert await shop.run_labels() == 0

    await carrier.advance(1)  # the carrier completes the refund
    assert (await carrier_shipment(shop, return_id))["refund_status"] == "refunded"
    account = await carrier.control.account()
    assert account["charges_total"] == account["refunds_total"] == bought["cost"]["amount"]


async def test_cancel_before_the_purchase_buys_nothing(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping()
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    canceled = await shop.decide("cancelReturn", return_id)
    assert canceled["shipment"]["voidRequested"] is True
    await shop.run_labels()
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "VOIDED"
    assert shipment["trackingNumber"] is None
    assert await carrier.control.shipments() == []


async def test_a_label_already_in_transit_is_not_voided_and_the_error_says_so(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await announced(shop)
    await carrier.advance(12)
    await shop.relay_and_process()
    assert (await shop.shipment(return_id))["status"] == "IN_TRANSIT"

    canceled = await shop.decide("cancelReturn", return_id)
    assert canceled["status"] == "CANCELED"
    await shop.run_labels()
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "IN_TRANSIT"
    assert (shipment["voidRequested"], shipment["voidedAt"]) == (False, None)
    assert (await carrier_shipment(shop, return_id))["refund_status"] is None
    assert shipment["error"] is not None, "the canceled return's label was kept: say why"
    assert "in_transit" in shipment["error"] or "in transit" in shipment["error"]


async def test_a_parcel_moving_before_the_void_keeps_its_label_and_the_error_says_so(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await announced(shop)
    canceled = await shop.decide("cancelReturn", return_id)
    assert canceled["shipment"]["voidRequested"] is True
    # The parcel moves before the worker voids; its Event has not reached us yet.
    await carrier.advance(12)

    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED"
    assert (shipment["voidRequested"], shipment["voidedAt"]) == (False, None)
    assert "not voided" in shipment["error"] and "in_transit" in shipment["error"], shipment
    assert (await carrier_shipment(shop, return_id))["refund_status"] is None
    assert await shop.run_labels() == 0, "the carrier's refusal is final"

    relayed = await shop.relay_and_process()
    assert [(tracker_status(item), code) for item, code in relayed] == [("in_transit", 200)]
    assert (await shop.shipment(return_id))["status"] == "IN_TRANSIT"
