"""Prepaid labels bought from the carrier simulator: on approval (never inside the mutation),
at the cheapest rate the shop allows, from a QR code carrier for a box-free drop-off, and on
request."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.shipping.desk import RETURN_ADDRESS, Carrier, Shop

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_METHODS = ["CUSTOMER_SHIPS", "PREPAID_LABEL", "DROP_OFF"]


def cheapest(rates: list[dict[str, Any]]) -> dict[str, Any]:
    return min(rates, key=lambda rate: Decimal(rate["rate"]))


def as_money(rate: dict[str, Any]) -> dict[str, str]:
    return {"amount": f"{Decimal(rate['rate']):.2f}", "currencyCode": rate["currency"]}


async def carrier_view(shop: Shop, return_id: str) -> dict[str, Any]:
    """The simulator's summary of the carrier shipment our return recorded."""
    stored = await shop.stored(return_id)
    assert stored.shipment is not None and stored.shipment.carrier_shipment_id is not None
    return await shop.carrier.shipment(stored.shipment.carrier_shipment_id)


async def test_label_bought_after_approval_never_inside_it(
    shop: Shop, carrier: Carrier, sim_http: httpx.AsyncClient
) -> None:
    await shop.set_shipping()
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    pending = created["shipment"]
    assert pending["status"] == "LABEL_PENDING"
    assert (pending["payer"], pending["dropOff"], pending["cost"]) == ("MERCHANT", False, None)
    worker = shop.label_worker()
    assert not await worker.run_once(), "nothing is bought before the return is approved"

    # Every carrier call fails now (50: more calls than an approval could make, so any call
    # shows in the count): the approval must make none, and still succeed.
    await carrier.control.add_fault("error_500", "any", count=50)
    approved = await shop.decide("approveReturn", return_id)
    assert approved["status"] == "APPROVED"
    assert approved["shipment"]["status"] == "LABEL_PENDING"
    assert (approved["shipment"]["attempts"], approved["shipment"]["error"]) == (0, None)
    assert (await carrier.control.faults())["faults"]["any"] == [
        {"kind": "error_500", "count": 50}
    ], "the approval called the carrier"
    assert await carrier.control.shipments() == []
    await carrier.control.clear_faults()

    assert await worker.run_once()
    shipment = await shop.shipment(return_id)
    sim = await carrier_view(shop, return_id)
    rate = sim["shipment"]["selected_rate"]
    assert shipment["status"] == "LABEL_CREATED", shipment
    assert (shipment["carrier"], shipment["service"]) == (rate["carrier"], rate["service"])
    assert shipment["cost"] == as_money(rate)
    assert shipment["trackingNumber"] == sim["tracking_code"]
    assert shipment["trackingUrl"] == sim["shipment"]["tracker"]["public_url"]
    assert shipment["labelUrl"] == sim["shipment"]["postage_label"]["label_pdf_url"]
    assert shipment["purchasedAt"] is not None and shipment["error"] is None
    assert [step["status"] for step in shipment["tracking"]] == ["LABEL_CREATED"]
    assert sim["purchases"] == 1 and sim["buy_attempts"] == 1
    assert (await carrier.control.account())["purchases"] == 1

    label = await sim_http.get(shipment["labelUrl"])
    assert label.status_code == 200
    assert label.content.startswith(b"%PDF")
    assert shipment["trackingNumber"].encode() in label.content

    assert not await worker.run_once(), "a bought label is not bought again"
    assert (await carrier.control.account())["purchases"] == 1


async def test_the_cheapest_allowed_rate_is_bought(shop: Shop, carrier: Carrier) -> None:
    # Each carrier's cheap service is left out: the cheapest of all (USPS) and of UPS and FedEx
    # (their ground services) must not be bought. 40 oz: a weight other than the default.
    allowed = [
        {"carrier": "UPS", "service": "2ndDayAir"},
        {"carrier": "FedEx", "service": "FEDEX_2_DAY"},
    ]
    payload = await shop.update_policy(
        {
            "shipping": {
                "returnAddress": RETURN_ADDRESS,
                "allowedServices": allowed,
                "parcelWeightOz": "40",
            }
        }
    )
    settings = payload["tenant"]["returnPolicy"]["shipping"]
    assert settings["allowedServices"] == allowed
    assert Decimal(settings["parcelWeightOz"]) == 40
    assert settings["returnAddress"]["zip"] == "89501"

    return_id, shipment = await shop.bought()
    sim = await carrier_view(shop, return_id)
    rates = sim["shipment"]["rates"]
    wanted = cheapest(
        [
            rate
            for rate in rates
            if {"carrier": rate["carrier"], "service": rate["service"]} in allowed
        ]
    )
    assert Decimal(cheapest(rates)["rate"]) < Decimal(wanted["rate"]), "the restriction mattered"
    assert sim["shipment"]["selected_rate"]["id"] == wanted["id"]
    assert (shipment["carrier"], shipment["service"]) == (wanted["carrier"], wanted["service"])
    assert shipment["cost"] == as_money(wanted)
    assert Decimal(str(sim["shipment"]["parcel"]["weight"])) == 40


async def test_drop_off_buys_from_a_qr_code_carrier(
    shop: Shop, carrier: Carrier, sim_http: httpx.AsyncClient
) -> None:
    # FedEx is cheaper than USPS Express, but only USPS gives a QR code (EasyPost's
    # `label_qr_code` form, asked for after the purchase).
    await shop.set_shipping(
        methods=ALL_METHODS,
        allowedServices=[{"carrier": "FedEx"}, {"carrier": "USPS", "service": "Express"}],
    )
    return_id, shipment = await shop.bought(method="DROP_OFF")
    sim = await carrier_view(shop, return_id)
    rates = sim["shipment"]["rates"]
    allowed = [r for r in rates if r["carrier"] == "FedEx" or r["service"] == "Express"]
    assert cheapest(allowed)["carrier"] == "FedEx"
    wanted = cheapest([rate for rate in rates if rate["service"] == "Express"])
    assert shipment["dropOff"] is True
    assert (shipment["carrier"], shipment["service"]) == ("USPS", "Express")
    assert shipment["cost"] == as_money(wanted)
    forms = sim["shipment"]["forms"]
    assert [form["form_type"] for form in forms] == ["label_qr_code"]
    assert shipment["qrCodeUrl"] == forms[0]["form_url"]
    qr = await sim_http.get(shipment["qrCodeUrl"])
    assert qr.status_code == 200
    assert qr.content.startswith(PNG_SIGNATURE)


async def test_drop_off_without_an_allowed_qr_code_carrier_fails_clearly(
    shop: Shop, carrier: Carrier
) -> None:
    await shop.set_shipping(methods=ALL_METHODS, allowedServices=[{"carrier": "FedEx"}])
    created = await shop.request(await shop.order(), method="DROP_OFF")
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_FAILED"
    assert "drop-off" in shipment["error"] and "FedEx" in shipment["error"], shipment["error"]
    assert (await carrier.control.account())["purchases"] == 0


async def test_a_label_on_request_waits_until_asked_for(shop: Shop, carrier: Carrier) -> None:
    await shop.set_shipping(labelTiming="ON_REQUEST")
    created = await shop.request(await shop.order())
    return_id = str(created["id"])
    assert created["shipment"]["status"] == "AWAITING_REQUEST"
    await shop.decide("approveReturn", return_id)
    assert await shop.run_labels() == 0
    assert await carrier.control.shipments() == []

    asked = await shop.decide("createReturnLabel", return_id)
    assert asked["shipment"]["status"] == "LABEL_PENDING"
    assert await shop.run_labels() == 1
    assert (await shop.shipment(return_id))["status"] == "LABEL_CREATED"

    again = await shop.act("createReturnLabel", return_id)
    assert [error["code"] for error in again["userErrors"]] == ["LABEL_NOT_AVAILABLE"]
    assert (await carrier.control.account())["purchases"] == 1
