"""A label purchase that fails: shown on the shipment, retried with back-off, never bought
twice (a lost answer or a worker dying after the purchase reads the carrier's shipment back),
and a final failure that waits until staff fix its cause and ask again."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.models import Return
from app.services.shipping.labels import LabelWorker
from tests.factories import graphql
from tests.shipping.desk import RETURN_ADDRESS, Carrier, Shop, object_id


async def approved_return(shop: Shop) -> str:
    await shop.set_shipping()
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    return return_id


async def carrier_shipments(carrier: Carrier) -> list[dict[str, Any]]:
    return await carrier.control.shipments()


async def test_a_503_on_buy_is_shown_then_the_retry_buys(shop: Shop, carrier: Carrier) -> None:
    return_id = await approved_return(shop)
    await carrier.control.add_fault("error_503", "buy")
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_PENDING"
    assert "503" in shipment["error"], shipment["error"]
    assert shipment["attempts"] == 1
    stored = await shop.stored(return_id)
    assert stored.shipment is not None and stored.shipment.next_attempt_at is not None
    assert stored.shipment.next_attempt_at > utcnow(), "retried after a back-off"
    assert await shop.run_labels() == 0, "not due again before the back-off"

    await shop.make_due(return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED"
    # Bought on the 2nd attempt; the count starts again for a void of this label.
    assert (shipment["error"], shipment["attempts"]) == (None, 0)
    (sim,) = await carrier_shipments(carrier)  # the retry used the shipment it had recorded
    assert sim["purchases"] == 1
    assert sim["tracking_code"] == shipment["trackingNumber"]


async def test_a_purchase_whose_answer_was_lost_is_read_back_not_bought_again(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await approved_return(shop)
    # The carrier buys the label, then the answer is lost (502, no body).
    await carrier.control.add_fault("apply_then_drop", "buy")
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_PENDING" and shipment["error"], shipment
    assert shipment["trackingNumber"] is None
    (sim,) = await carrier_shipments(carrier)
    assert sim["purchases"] == 1  # bought, though we were not told

    await shop.make_due(return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED", shipment
    assert shipment["trackingNumber"] == sim["tracking_code"]
    (sim,) = await carrier_shipments(carrier)
    assert sim["purchases"] == 1
    account = await carrier.control.account()
    assert account["purchases"] == 1
    assert account["charges_total"] == shipment["cost"]["amount"]


async def test_a_worker_dying_after_the_purchase_leaves_one_label(
    shop: Shop, carrier: Carrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    return_id = await approved_return(shop)
    original = LabelWorker._label_bought
    deaths: list[str] = []

    async def dies_once(self: LabelWorker, *args: Any, **kwargs: Any) -> None:
        if not deaths:
            deaths.append(self.worker_id)
            raise RuntimeError("worker killed after buying, before recording")
        await original(self, *args, **kwargs)

    monkeypatch.setattr(LabelWorker, "_label_bought", dies_once)
    with pytest.raises(RuntimeError, match="worker killed"):
        await shop.label_worker("labels-dies").run_once()
    (sim,) = await carrier_shipments(carrier)
    assert sim["purchases"] == 1
    stored = await shop.stored(return_id)
    assert stored.shipment is not None
    assert stored.shipment.status.value == "label_pending"
    assert stored.shipment.lease_owner == "labels-dies"
    assert stored.shipment.carrier_shipment_id == sim["id"]

    successor = shop.label_worker("labels-successor")
    assert not await successor.run_once(), "the dead worker's lease still holds"
    # The lease lapses (as it would after LEASE_SECONDS).
    past = utcnow() - timedelta(seconds=1)
    await Return.get_pymongo_collection().update_one(
        {"_id": object_id(return_id)},
        {"$set": {"shipment.lease_expires_at": past, "shipment.next_attempt_at": past}},
    )
    assert await successor.run_once()
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED", shipment
    assert shipment["trackingNumber"] == sim["tracking_code"]
    (sim,) = await carrier_shipments(carrier)
    assert sim["purchases"] == 1
    assert (await carrier.control.account())["purchases"] == 1


async def mutation_names(shop: Shop) -> set[str]:
    body = await graphql(
        shop.client, '{ __type(name: "Mutation") { fields { name } } }', headers=shop.headers
    )
    return {field["name"] for field in body["data"]["__type"]["fields"]}


async def test_no_return_address_fails_for_good_until_set_and_asked_again(
    shop: Shop, carrier: Carrier
) -> None:
    await shop.set_shipping(returnAddress=None)
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_FAILED"
    error = shipment["error"]
    assert "return address" in error, error
    # A clear error points staff at what exists: any mutation it names is one of the API's.
    named = set(re.findall(r"\b(?:update|create|set)[A-Z]\w*", error))
    assert named <= await mutation_names(shop), f"{error!r} names a mutation the API lacks"
    await shop.make_due(return_id)
    assert await shop.run_labels() == 0, "a final failure is not retried on its own"
    assert await carrier_shipments(carrier) == []

    await shop.set_shipping()  # now with the return address
    asked = await shop.decide("createReturnLabel", return_id)
    assert asked["shipment"]["status"] == "LABEL_PENDING"
    assert asked["shipment"]["error"] is None
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED", shipment
    assert (await carrier.control.account())["purchases"] == 1


async def test_a_label_asked_for_again_ships_to_the_return_address_set_since(
    shop: Shop, carrier: Carrier
) -> None:
    # No rate the shop allows: a final failure after the carrier shipment was made.
    await shop.set_shipping(allowedServices=[{"carrier": "DHL"}])
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_FAILED"
    assert "no allowed rate" in shipment["error"], shipment["error"]

    # Staff fix it, moving returns to another warehouse at the same time, and ask again.
    moved = {**RETURN_ADDRESS, "street1": "500 Depot Rd", "city": "Austin", "province": "TX"}
    moved["zip"] = "73301"
    await shop.set_shipping(returnAddress=moved)
    await shop.decide("createReturnLabel", return_id)
    assert await shop.run_labels() == 1
    assert (await shop.shipment(return_id))["status"] == "LABEL_CREATED"
    stored = await shop.stored(return_id)
    assert stored.shipment is not None and stored.shipment.carrier_shipment_id is not None
    sim = await carrier.shipment(stored.shipment.carrier_shipment_id)
    # A return's addresses are sent as the original shipment's (EasyPost switches them): the
    # shop is `from_address`, the label's recipient.
    to_address = sim["shipment"]["from_address"]
    assert (to_address["street1"], to_address["zip"]) == ("500 Depot Rd", "73301"), (
        "the label goes to the return address the shop has now"
    )
