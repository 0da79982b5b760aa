"""Trackers moving on the simulated clock, and their Events: signed as EasyPost signs them,
in order, retried, and the delivery faults (duplicate, reorder, forged, failed attempts)."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.simulator_fixtures import ReceivedWebhook, WebhookReceiver
from tools.carrier_sim import CarrierSimControl, ScriptStep, sign_easypost_webhook

from .conftest import WEBHOOK_SECRET, EasyPost


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def verified(item: ReceivedWebhook) -> bool:
    """Verify as a receiver must: over the raw bytes, the secret NFKD-normalised."""
    key = unicodedata.normalize("NFKD", WEBHOOK_SECRET).encode()
    expected = "hmac-sha256-hex=" + hmac.new(key, item.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(item.headers.get("x-hmac-signature", ""), expected)


def events_at(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    return [orjson.loads(item.body) for item in receiver.at(path)]


async def bought_and_announced(hooked: EasyPost, receiver: WebhookReceiver) -> dict[str, Any]:
    """Buy a label and wait for its `tracker.created` Event."""
    bought = await hooked.buy(await hooked.create())
    (created,) = await receiver.wait_for(hooked.hook_path, 1)
    assert orjson.loads(created.body)["description"] == "tracker.created"
    return bought


async def test_clock_advance_sends_signed_events_in_order(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    bought = await bought_and_announced(hooked, webhook_receiver)
    with webhook_receiver.lock:  # the next POST is refused once: the later Events must wait
        webhook_receiver.scripts[path] = [500, 200]
    moved = await carrier_control.advance(60)
    mine = [e for e in moved["events"] if e["chain"] == bought["tracker"]["id"]]
    assert len(mine) == 3

    everything = await webhook_receiver.wait_for(path, 5)
    assert [orjson.loads(item.body)["result"]["status"] for item in everything] == [
        "pre_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    received = [item for item in everything if item.status == 200]
    assert len(received) == 4
    events = [orjson.loads(item.body) for item in received]
    assert [e["description"] for e in events] == ["tracker.created"] + ["tracker.updated"] * 3
    assert [e["result"]["status"] for e in events] == [
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert [e["previous_attributes"] for e in events] == [
        {},
        {"status": "pre_transit"},
        {"status": "in_transit"},
        {"status": "out_for_delivery"},
    ]
    assert len({e["id"] for e in events}) == 4
    for event, item in zip(events, received, strict=True):
        assert event["object"] == "Event" and event["id"].startswith("evt_")
        assert event["mode"] == "test" and event["status"] == "pending"
        assert event["result"]["object"] == "Tracker"
        assert event["result"]["id"] == bought["tracker"]["id"]
        assert item.headers["content-type"] == "application/json"
        assert "EasyPost" in item.headers["user-agent"]
        assert verified(item)
        assert item.headers["x-hmac-signature"] == sign_easypost_webhook(item.body, WEBHOOK_SECRET)
        # NFKD matters: keyed by the secret's plain UTF-8 bytes, the signature differs
        plain = hmac.new(WEBHOOK_SECRET.encode(), item.body, hashlib.sha256).hexdigest()
        assert item.headers["x-hmac-signature"] != f"hmac-sha256-hex={plain}"

    purchased = when(bought["tracker"]["created_at"])
    details = events[-1]["result"]["tracking_details"]
    assert [d["status"] for d in details] == [
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert [when(d["datetime"]) - purchased for d in details[1:]] == [
        timedelta(hours=12),
        timedelta(hours=48),
        timedelta(hours=56),
    ]
    # a return (the fixtures' shipments are): picked up at the customer's, delivered at the shop
    assert details[0]["tracking_location"]["zip"] == "90277"
    assert details[-1]["tracking_location"]["zip"] == "10104"
    shipment = (await hooked.get(f"/shipments/{bought['id']}")).json()
    assert shipment["status"] == "delivered"
    assert shipment["tracker"]["status"] == "delivered"

    await carrier_control.settle()
    (last,) = await carrier_control.deliveries(event_id=events[-1]["id"])
    assert last["state"] == "delivered"
    recorded = await carrier_control.events(api_key=hooked.api_key)
    assert recorded[-1]["completed_urls"] == [last["url"]]


async def test_a_refused_delivery_is_retried(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    with webhook_receiver.lock:
        webhook_receiver.scripts[path] = [500, 503, 200]
    await hooked.buy(await hooked.create())
    received = await webhook_receiver.wait_for(path, 3)
    assert [item.status for item in received] == [500, 503, 200]
    assert len({item.body for item in received}) == 1  # the same bytes every time
    assert all(verified(item) for item in received)
    await carrier_control.settle()
    (delivery,) = await carrier_control.deliveries(api_key=hooked.api_key)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["state"] == "delivered"


async def test_a_receiver_that_never_answers_2xx_is_given_up(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    with webhook_receiver.lock:
        webhook_receiver.scripts[path] = [500]
    await hooked.buy(await hooked.create())
    await carrier_control.settle()
    (delivery,) = await carrier_control.deliveries(api_key=hooked.api_key)
    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == 5  # the first and webhook_max_retries=4 more
    assert len(webhook_receiver.at(path)) == 5


async def test_failed_attempts_fault(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    await carrier_control.add_webhook_fault("fail_n", 2, api_key=hooked.api_key)
    await hooked.buy(await hooked.create())
    await carrier_control.settle()
    (delivery,) = await carrier_control.deliveries(api_key=hooked.api_key)
    attempts = delivery["attempts"]
    assert [a["ok"] for a in attempts] == [False, False, True]
    assert attempts[0]["error"] and attempts[0]["status_code"] is None
    assert len(webhook_receiver.at(hooked.hook_path)) == 1


async def test_duplicate_fault_sends_the_same_event_twice(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    await carrier_control.add_webhook_fault("duplicate", api_key=hooked.api_key)
    await hooked.buy(await hooked.create())
    first, second = await webhook_receiver.wait_for(hooked.hook_path, 2)
    assert first.body == second.body
    assert verified(first) and verified(second)


async def test_reorder_fault_sends_an_event_after_the_next_one(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    await bought_and_announced(hooked, webhook_receiver)
    await carrier_control.add_webhook_fault("reorder", api_key=hooked.api_key)
    await carrier_control.advance(13)  # in_transit: held back
    await carrier_control.settle()
    assert len(webhook_receiver.at(path)) == 1
    held = [
        d for d in await carrier_control.deliveries(api_key=hooked.api_key) if d["state"] == "held"
    ]
    assert len(held) == 1

    await carrier_control.advance(36)  # out_for_delivery, then the held in_transit
    await webhook_receiver.wait_for(path, 3)
    statuses = [e["result"]["status"] for e in events_at(webhook_receiver, path)]
    assert statuses == ["pre_transit", "out_for_delivery", "in_transit"]


async def test_forged_fault_precedes_an_event_with_a_badly_signed_copy(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    await bought_and_announced(hooked, webhook_receiver)
    await carrier_control.add_webhook_fault("forged", status="delivered", api_key=hooked.api_key)
    await carrier_control.advance(12)
    _, forged, genuine = await webhook_receiver.wait_for(path, 3)
    assert not verified(forged)
    assert forged.headers["x-hmac-signature"].startswith("hmac-sha256-hex=")
    assert orjson.loads(forged.body)["result"]["status"] == "delivered"
    assert verified(genuine)
    assert orjson.loads(genuine.body)["result"]["status"] == "in_transit"
    assert orjson.loads(forged.body)["id"] == orjson.loads(genuine.body)["id"]
    await carrier_control.settle()
    flagged = [d for d in await carrier_control.deliveries(api_key=hooked.api_key) if d["forged"]]
    assert len(flagged) == 1 and len(flagged[0]["attempts"]) == 1


async def test_an_event_can_be_resent_late(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    await bought_and_announced(hooked, webhook_receiver)
    (event,) = await carrier_control.events(api_key=hooked.api_key)
    await carrier_control.resend_event(event["id"])
    first, again = await webhook_receiver.wait_for(hooked.hook_path, 2)
    assert first.body == again.body
    assert verified(again)


async def test_scripts_and_status_jumps(
    hooked: EasyPost, webhook_receiver: WebhookReceiver, carrier_control: CarrierSimControl
) -> None:
    path = hooked.hook_path
    bought = await bought_and_announced(hooked, webhook_receiver)
    tracker_id = bought["tracker"]["id"]
    await carrier_control.set_tracker_script(
        tracker_id, [(6, "in_transit"), ScriptStep(30, "failure", message="Address not found")]
    )
    await carrier_control.advance(31)
    await webhook_receiver.wait_for(path, 3)
    tracker = (await hooked.get(f"/trackers/{tracker_id}")).json()
    assert tracker["status"] == "failure"
    assert tracker["tracking_details"][-1]["message"] == "Address not found"

    jumped = await carrier_control.set_tracker_status(tracker_id, "return_to_sender")
    assert jumped["tracker"]["status"] == "return_to_sender"
    assert [e["description"] for e in jumped["events"]] == ["tracker.updated"]
    await webhook_receiver.wait_for(path, 4)
    statuses = [e["result"]["status"] for e in events_at(webhook_receiver, path)]
    assert statuses == ["pre_transit", "in_transit", "failure", "return_to_sender"]
    shown = await carrier_control.tracker(tracker_id)
    assert shown["script_stopped"] is True

    unchanged = await carrier_control.set_tracker_status(tracker_id, "return_to_sender")
    assert unchanged["events"] == []


async def test_unknown_statuses_are_refused(
    easypost: EasyPost, carrier_control: CarrierSimControl, sim_http: httpx.AsyncClient
) -> None:
    bought = await easypost.buy(await easypost.create())
    response = await sim_http.post(
        f"{carrier_control.base_url}/_sim/trackers/{bought['tracker']['id']}/status",
        json={"status": "teleported"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PARAMETER.INVALID"


async def test_events_without_a_secret_go_unsigned(
    carrier_control: CarrierSimControl, webhook_receiver: WebhookReceiver, easypost: EasyPost
) -> None:
    path = webhook_receiver.new_path(200)
    await carrier_control.set_webhook(webhook_receiver.url(path), api_key=easypost.api_key)
    await easypost.buy(await easypost.create())
    (item,) = await webhook_receiver.wait_for(path, 1)
    assert "x-hmac-signature" not in item.headers


@pytest.mark.parametrize("secret", ["plain-ascii", "\u212bngstr\u00f6m", "caf\u0065\u0301"])
def test_signature_helper_normalises_the_secret(secret: str) -> None:
    body = b'{"description":"tracker.updated"}'
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    assert sign_easypost_webhook(body, secret) == f"hmac-sha256-hex={digest}"
    assert digest == digest.lower()
