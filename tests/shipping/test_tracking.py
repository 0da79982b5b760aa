"""The carrier's tracking Events, as the simulator signs and sends them, posted to
`/api/webhooks/easypost` byte for byte: the shipment moves forward only, a delivered parcel
receives its return, and forged, stale, repeated or late Events change nothing.

The simulator's clock moves the trackers (default script: in transit after 12 h, out for
delivery after 48 h, delivered after 56 h); the app's clock moves with it (`Carrier.advance`),
since the app refuses Events stamped more than five minutes ahead of its own time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from app.models import WebhookEvent
from tests.shipping.desk import (
    Carrier,
    Shop,
    post_event,
    stored_events,
    tracker_status,
)
from tools.carrier_sim import sign_easypost_webhook


async def bought_and_announced(shop: Shop, carrier: Carrier, **settings: Any) -> str:
    """A return with its label bought, the label's `tracker.created` Event applied."""
    await shop.set_shipping(**settings)
    return_id, _ = await shop.bought()
    relayed = await shop.relay_and_process()
    assert [(tracker_status(item), code) for item, code in relayed] == [("pre_transit", 200)]
    assert (await shop.shipment(return_id))["status"] == "LABEL_CREATED"
    return return_id


async def test_tracking_to_delivered_receives_the_return(shop: Shop, carrier: Carrier) -> None:
    return_id = await bought_and_announced(shop, carrier)
    steps = [
        (12, "in_transit", "IN_TRANSIT"),
        (36, "out_for_delivery", "OUT_FOR_DELIVERY"),
        (8, "delivered", "DELIVERED"),
    ]
    last: dict[str, Any] = {}
    for hours, carrier_status, ours in steps:
        await carrier.advance(hours)
        relayed = await shop.relay_and_process()
        assert [(tracker_status(item), code) for item, code in relayed] == [(carrier_status, 200)]
        last = orjson.loads(relayed[0][0].body)
        view = await shop.view(return_id)
        assert view["shipment"]["status"] == ours, view["shipment"]
        if ours != "DELIVERED":
            assert view["status"] == "APPROVED"

    shipment = view["shipment"]
    assert [update["status"] for update in shipment["tracking"]] == [
        "LABEL_CREATED",
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
    ]
    assert all(update["message"] for update in shipment["tracking"][1:])
    assert shipment["deliveredAt"] is not None
    assert _instant(shipment["deliveredAt"]) == _instant(last["result"]["updated_at"])
    assert view["status"] == "RECEIVED"
    received = view["history"][-1]
    assert (received["actor"], received["fromStatus"], received["toStatus"]) == (
        "carrier",
        "APPROVED",
        "RECEIVED",
    )
    events = await stored_events()
    assert len(events) == 4
    assert {event["topic"] for event in events} == {
        "easypost/tracker.created",
        "easypost/tracker.updated",
    }
    assert all(event["processed"] and not event["dead"] for event in events)


def _instant(stamp: str) -> str:
    """A timestamp to the second, whatever its zone spelling."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S")


async def test_delivered_without_receive_on_delivery_stays_approved(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await bought_and_announced(shop, carrier, receiveOnDelivery=False)
    await carrier.advance(60)
    relayed = await shop.relay_and_process()
    assert [(tracker_status(item), code) for item, code in relayed] == [
        ("in_transit", 200),
        ("out_for_delivery", 200),
        ("delivered", 200),
    ]
    view = await shop.view(return_id)
    assert view["shipment"]["status"] == "DELIVERED"
    assert view["status"] == "APPROVED"
    assert [entry["toStatus"] for entry in view["history"]] == ["REQUESTED", "APPROVED"]


async def test_forged_events_are_refused_and_nothing_is_stored(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await bought_and_announced(shop, carrier)
    # The simulator sends someone else's copy first: claims "delivered", wrong signature.
    await carrier.control.add_webhook_fault("forged", status="delivered")
    await carrier.advance(12)
    deliveries = await carrier.new_deliveries()
    assert [tracker_status(item) for item in deliveries] == ["delivered", "in_transit"]
    forged, real = deliveries
    before = len(await stored_events())
    response = await post_event(shop.client, forged.body, forged.headers.get("x-hmac-signature"))
    assert response.status_code == 401
    assert len(await stored_events()) == before

    # A body changed on the way (another id, so no duplicate check could hide it), under the
    # real Event's signature; unsigned; signed with another secret.
    signature = real.headers["x-hmac-signature"]
    tampered = orjson.loads(real.body)
    tampered["id"] = "evt_tampered0001"
    tampered["result"]["status"] = "delivered"
    tampered_body = orjson.dumps(tampered)
    for body, header in (
        (tampered_body, signature),
        (real.body, None),
        (real.body, ""),
        (real.body, sign_easypost_webhook(real.body, "not-the-secret")),
        (real.body, signature.removeprefix("hmac-sha256-hex=")),
    ):
        response = await post_event(shop.client, body, header)
        assert response.status_code == 401, (header, response.text)
    assert len(await stored_events()) == before

    response = await post_event(shop.client, real.body, signature)
    assert response.status_code == 200
    assert len(await stored_events()) == before + 1
    await shop.process_events()
    view = await shop.view(return_id)
    assert view["shipment"]["status"] == "IN_TRANSIT"
    assert view["status"] == "APPROVED"


async def test_stale_and_future_events_are_refused_and_nothing_is_stored(
    shop: Shop, carrier: Carrier
) -> None:
    return_id = await bought_and_announced(shop, carrier)
    before = len(await stored_events())

    # Stamped 12 h ahead of the app's clock (the simulator moved, the app did not).
    await carrier.control.advance(12)
    (ahead,) = await carrier.new_deliveries()
    assert tracker_status(ahead) == "in_transit"
    signature = ahead.headers["x-hmac-signature"]
    response = await post_event(shop.client, ahead.body, signature)
    assert response.status_code == 401, response.text
    assert len(await stored_events()) == before

    # The same genuine delivery replayed more than three days after it was made.
    stamped = 12.0
    carrier.clock.offset = timedelta(hours=stamped + 72 + 1)
    response = await post_event(shop.client, ahead.body, signature)
    assert response.status_code == 401, response.text
    assert len(await stored_events()) == before

    # Within the window (the app's clock at the simulator's), the very same bytes are taken.
    carrier.clock.offset = timedelta(hours=stamped)
    response = await post_event(shop.client, ahead.body, signature)
    assert response.status_code == 200, response.text
    assert len(await stored_events()) == before + 1
    await shop.process_events()
    assert (await shop.shipment(return_id))["status"] == "IN_TRANSIT"


async def test_a_duplicate_event_is_stored_and_applied_once(shop: Shop, carrier: Carrier) -> None:
    return_id = await bought_and_announced(shop, carrier)
    await carrier.control.add_webhook_fault("duplicate")
    await carrier.advance(12)
    relayed = await carrier.relay(shop.client)
    assert [(tracker_status(item), code) for item, code in relayed] == [
        ("in_transit", 200),
        ("in_transit", 200),
    ]
    first, again = (orjson.loads(item.body) for item, _ in relayed)
    assert first["id"] == again["id"]
    # ... and once more, late, byte for byte.
    await carrier.control.resend_event(first["id"])
    assert [code for _, code in await carrier.relay(shop.client)] == [200]

    stored = await WebhookEvent.get_pymongo_collection().count_documents(
        {"shop_domain": "easypost", "event_id": first["id"]}
    )
    assert stored == 1
    await shop.process_events()
    shipment = await shop.shipment(return_id)
    assert [update["status"] for update in shipment["tracking"]] == ["LABEL_CREATED", "IN_TRANSIT"]


async def test_in_transit_after_delivered_changes_nothing(shop: Shop, carrier: Carrier) -> None:
    return_id = await bought_and_announced(shop, carrier)
    stored = await shop.stored(return_id)
    assert stored.shipment is not None and stored.shipment.tracker_id is not None
    # The in-transit Event is held back until the tracker's next one (delivered) has gone.
    await carrier.control.add_webhook_fault("reorder")
    await carrier.advance(12)
    await carrier.control.set_tracker_status(stored.shipment.tracker_id, "delivered")
    deliveries = await carrier.new_deliveries()
    assert [tracker_status(item) for item in deliveries] == ["delivered", "in_transit"]

    delivered, late = deliveries
    response = await post_event(shop.client, delivered.body, delivered.headers["x-hmac-signature"])
    assert response.status_code == 200
    await shop.process_events()
    after_delivery = await shop.view(return_id)
    assert after_delivery["shipment"]["status"] == "DELIVERED"
    assert after_delivery["status"] == "RECEIVED"

    response = await post_event(shop.client, late.body, late.headers["x-hmac-signature"])
    assert response.status_code == 200
    assert await shop.process_events() == 1
    view = await shop.view(return_id)
    assert view["shipment"] == after_delivery["shipment"]
    assert view["status"] == "RECEIVED"
    assert len(view["history"]) == len(after_delivery["history"])
    late_id = orjson.loads(late.body)["id"]
    event = await WebhookEvent.get_pymongo_collection().find_one({"event_id": late_id})
    assert event is not None and event["processed"] and event["error"] is None
