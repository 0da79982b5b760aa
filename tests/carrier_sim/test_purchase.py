"""Buying labels (PDF, QR code, tracker), at most once; faults around the purchase; refunds."""

from __future__ import annotations

import io
import re
import struct
import time
from decimal import Decimal

import httpx
import segno
from PIL import Image

from tools.carrier_sim import CarrierSimControl

from .conftest import FAULT_TIMEOUT, FROM_ADDRESS, TO_ADDRESS, EasyPost, cheapest
from .pdf_check import read_pdf
from .test_api import assert_easypost_error

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def qr_modules(png: bytes, size: int, border: int = 4) -> list[list[bool]]:
    """The dark/light modules of a QR code PNG with `size` modules a side (and its quiet
    zone of `border` modules), read from the pixels."""
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"  # the first chunk, right after the signature and its length
    width, height = (int(value) for value in struct.unpack(">II", png[16:24]))
    assert width == height
    scale = width // (size + 2 * border)
    assert scale >= 1 and scale * (size + 2 * border) == width, "whole pixels per module"
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (width, height)
    pixels: bytes = image.convert("L").tobytes()

    def dark(row: int, col: int) -> bool:
        x = (border + col) * scale + scale // 2
        y = (border + row) * scale + scale // 2
        return pixels[y * width + x] < 128

    return [[dark(row, col) for col in range(size)] for row in range(size)]


async def test_buying_a_label(easypost: EasyPost, sim_http: httpx.AsyncClient) -> None:
    shipment = await easypost.create()
    rate = cheapest(shipment)
    bought = await easypost.buy(shipment)

    assert bought["id"] == shipment["id"]
    assert bought["status"] == "unknown"
    assert bought["selected_rate"]["id"] == rate["id"]
    code = bought["tracking_code"]
    assert re.fullmatch(r"9400\d{18}", code), code
    label = bought["postage_label"]
    assert label["object"] == "PostageLabel" and label["id"].startswith("pl_")
    assert label["label_file_type"] == "application/pdf"
    assert label["label_date"].endswith("Z")
    assert label["label_url"] == label["label_pdf_url"]
    assert [fee["type"] for fee in bought["fees"]] == ["LabelFee", "PostageFee"]
    assert Decimal(bought["fees"][1]["amount"]) == Decimal(rate["rate"])

    tracker = bought["tracker"]
    assert tracker["object"] == "Tracker" and tracker["id"].startswith("trk_")
    assert tracker["status"] == "pre_transit"
    assert tracker["tracking_code"] == code
    assert tracker["carrier"] == "USPS"
    assert tracker["shipment_id"] == shipment["id"]
    assert tracker["public_url"].endswith(f"/track/{code}")
    assert [d["status"] for d in tracker["tracking_details"]] == ["pre_transit"]
    assert tracker["tracking_details"][0]["object"] == "TrackingDetail"
    assert tracker["est_delivery_date"].endswith("Z")

    # the files are public (no API key), like EasyPost's storage links
    pdf = await sim_http.get(label["label_url"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    texts = read_pdf(pdf.content)
    for expected in ("USPS", rate["service"], code, TO_ADDRESS["street1"], TO_ADDRESS["name"]):
        assert expected in texts, expected
    assert FROM_ADDRESS["company"] in texts  # "&" and parentheses survive the escaping
    assert "New York, NY 10104" in texts
    # buying makes no QR code: that is a Form asked for afterwards
    assert bought["forms"] == []

    page = await sim_http.get(tracker["public_url"])
    assert page.status_code == 200 and code in page.text and "pre_transit" in page.text

    fetched = await easypost.get(f"/trackers/{tracker['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == tracker
    again = await easypost.get(f"/shipments/{shipment['id']}")
    assert again.json()["postage_label"] == label


def label_sides(texts: list[str]) -> tuple[list[str], list[str]]:
    """The label's text lines under FROM: and under SHIP TO: (up to the tracking number)."""
    sender_at, recipient_at = texts.index("FROM:"), texts.index("SHIP TO:")
    return texts[sender_at + 1 : recipient_at], texts[recipient_at + 1 : texts.index("TRACKING #")]


async def test_a_return_label_ships_from_the_customer_to_the_shop(
    easypost: EasyPost, sim_http: httpx.AsyncClient
) -> None:
    # as EasyPost wants it: the outbound shipment's addresses (from the shop, to the customer)
    shipment = await easypost.create(
        to_address=TO_ADDRESS, from_address=FROM_ADDRESS, is_return=True
    )
    assert shipment["is_return"] is True
    # the Shipment's addresses are answered as sent
    assert shipment["to_address"]["name"] == TO_ADDRESS["name"]
    assert shipment["from_address"]["name"] == FROM_ADDRESS["name"]
    bought = await easypost.buy(shipment)

    pdf = await sim_http.get(bought["postage_label"]["label_url"])
    sender, recipient = label_sides(read_pdf(pdf.content))
    assert TO_ADDRESS["name"] in sender and TO_ADDRESS["street1"] in sender
    assert "Redondo Beach, CA 90277" in sender
    assert FROM_ADDRESS["name"] in recipient and FROM_ADDRESS["company"] in recipient
    assert "New York, NY 10104" in recipient
    assert not set(recipient) & {TO_ADDRESS["name"], TO_ADDRESS["street1"]}

    # the parcel travels the same way: picked up at the customer's, delivered at the shop
    tracker = bought["tracker"]
    assert tracker["carrier_detail"]["origin_location"] == "Redondo Beach CA 90277"
    assert tracker["carrier_detail"]["destination_location"] == "New York NY 10104"
    assert tracker["tracking_details"][0]["tracking_location"]["zip"] == "90277"


async def test_an_outbound_label_ships_as_addressed(
    easypost: EasyPost, sim_http: httpx.AsyncClient
) -> None:
    shipment = await easypost.create(is_return=False)
    bought = await easypost.buy(shipment)
    pdf = await sim_http.get(bought["postage_label"]["label_url"])
    sender, recipient = label_sides(read_pdf(pdf.content))
    assert FROM_ADDRESS["name"] in sender and "New York, NY 10104" in sender
    assert TO_ADDRESS["name"] in recipient and "Redondo Beach, CA 90277" in recipient
    assert bought["tracker"]["carrier_detail"]["origin_location"] == "New York NY 10104"
    # switching the addresses does not change the price: distance is symmetric
    returned = await easypost.create(is_return=True)
    assert [r["rate"] for r in returned["rates"]] == [r["rate"] for r in shipment["rates"]]


async def test_a_qr_code_form_for_a_bought_usps_label(
    easypost: EasyPost, sim_http: httpx.AsyncClient
) -> None:
    bought = await easypost.buy(await easypost.create(), "USPS")
    code = bought["tracking_code"]
    body = {"form": {"type": "label_qr_code"}}
    response = await easypost.post(f"/shipments/{bought['id']}/forms", body)
    assert response.status_code == 200, response.text
    shipment = response.json()
    assert shipment["object"] == "Shipment" and shipment["id"] == bought["id"]
    assert shipment["tracking_code"] == code
    (form,) = shipment["forms"]
    assert form["object"] == "Form" and form["id"].startswith("form_")
    assert form["form_type"] == "label_qr_code"
    png = await sim_http.get(form["form_url"])  # public, like the label
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    expected = segno.make(code, error="m", micro=False)
    assert qr_modules(png.content, len(expected.matrix)) == [
        [bool(module) for module in row] for row in expected.matrix
    ]

    # the shipment keeps it, and asking again gives the same one form
    fetched = await easypost.get(f"/shipments/{bought['id']}")
    assert fetched.json()["forms"] == [form]
    again = await easypost.post(f"/shipments/{bought['id']}/forms", body)
    assert again.status_code == 200 and again.json()["forms"] == [form]


async def test_qr_code_forms_are_refused_where_easypost_refuses_them(
    easypost: EasyPost,
) -> None:
    body = {"form": {"type": "label_qr_code"}}
    ups = await easypost.buy(await easypost.create(), "UPS")
    assert re.fullmatch(r"1Z[0-9A-Z]{16}", ups["tracking_code"])
    assert ups["forms"] == []
    refused = await easypost.post(f"/shipments/{ups['id']}/forms", body)
    error = assert_easypost_error(refused, 422, "FORM.UNSUPPORTED")
    assert "UPS" in error["message"]
    fedex = await easypost.buy(await easypost.create(), "FedEx")
    assert re.fullmatch(r"\d{12}", fedex["tracking_code"])
    refused = await easypost.post(f"/shipments/{fedex['id']}/forms", body)
    assert_easypost_error(refused, 422, "FORM.UNSUPPORTED")
    assert (await easypost.get(f"/shipments/{ups['id']}")).json()["forms"] == []

    unbought = await easypost.create()
    refused = await easypost.post(f"/shipments/{unbought['id']}/forms", body)
    assert_easypost_error(refused, 422, "SHIPMENT.POSTAGE.REQUIRED")
    assert (await easypost.get(f"/shipments/{unbought['id']}")).json()["forms"] == []

    usps = await easypost.buy(await easypost.create(), "USPS")
    path = f"/shipments/{usps['id']}/forms"
    assert_easypost_error(await easypost.post(path, {}), 422, "PARAMETER.REQUIRED")
    wrong = {"form": {"type": "rma_qr_code"}}
    assert_easypost_error(await easypost.post(path, wrong), 422, "PARAMETER.INVALID")
    missing = await easypost.post("/shipments/shp_0123456789abcdef0123456789abcdef/forms", body)
    assert_easypost_error(missing, 404, "NOT_FOUND")
    codes = {ups["tracking_code"], fedex["tracking_code"], usps["tracking_code"]}
    assert len(codes) == 3


async def test_form_faults(easypost: EasyPost, carrier_control: CarrierSimControl) -> None:
    bought = await easypost.buy(await easypost.create(), "USPS")
    path = f"/shipments/{bought['id']}/forms"
    body = {"form": {"type": "label_qr_code"}}
    await carrier_control.add_fault("error_503", "form", api_key=easypost.api_key)
    assert_easypost_error(await easypost.post(path, body), 503, "SERVICE.UNAVAILABLE")
    assert (await easypost.get(f"/shipments/{bought['id']}")).json()["forms"] == []
    await carrier_control.add_fault("apply_then_drop", "form", api_key=easypost.api_key)
    dropped = await easypost.post(path, body)
    assert dropped.status_code == 502 and dropped.content == b""
    (form,) = (await easypost.get(f"/shipments/{bought['id']}")).json()["forms"]
    assert form["form_type"] == "label_qr_code"


async def test_buying_twice_is_refused_and_charged_once(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    shipment = await easypost.create()
    first = await easypost.buy(shipment)
    other_rate = shipment["rates"][-1]["id"]
    again = await easypost.post(f"/shipments/{shipment['id']}/buy", {"rate": {"id": other_rate}})
    assert_easypost_error(again, 422, "SHIPMENT.POSTAGE.EXISTS")

    (summary,) = await carrier_control.shipments(api_key=easypost.api_key)
    assert summary["purchases"] == 1
    assert summary["buy_attempts"] == 2
    assert summary["tracking_code"] == first["tracking_code"]
    account = await carrier_control.account(easypost.api_key)
    assert account["purchases"] == 1
    assert account["charges_total"] == first["selected_rate"]["rate"]


async def test_buying_needs_a_rate_of_the_shipment(easypost: EasyPost) -> None:
    shipment = await easypost.create()
    elsewhere = await easypost.create()
    path = f"/shipments/{shipment['id']}/buy"
    refused = await easypost.post(path, {"rate": {"id": elsewhere["rates"][0]["id"]}})
    assert_easypost_error(refused, 422, "SHIPMENT.RATE.INVALID")
    assert_easypost_error(await easypost.post(path, {}), 422, "PARAMETER.REQUIRED")
    assert (await easypost.get(f"/shipments/{shipment['id']}")).json()["postage_label"] is None


async def test_a_dropped_answer_still_bought_the_label(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    shipment = await easypost.create()
    await carrier_control.add_fault("apply_then_drop", "buy", api_key=easypost.api_key)
    rate = cheapest(shipment)
    lost = await easypost.post(f"/shipments/{shipment['id']}/buy", {"rate": {"id": rate["id"]}})
    assert lost.status_code == 502
    assert lost.content == b""

    reread = (await easypost.get(f"/shipments/{shipment['id']}")).json()
    assert reread["postage_label"]["label_url"]
    assert reread["selected_rate"]["id"] == rate["id"]
    retried = await easypost.post(f"/shipments/{shipment['id']}/buy", {"rate": {"id": rate["id"]}})
    assert_easypost_error(retried, 422, "SHIPMENT.POSTAGE.EXISTS")
    account = await carrier_control.account(easypost.api_key)
    assert (account["purchases"], account["charges_total"]) == (1, rate["rate"])


async def test_failed_and_timed_out_buys_buy_nothing(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    shipment = await easypost.create()
    rate = {"rate": {"id": cheapest(shipment)["id"]}}
    path = f"/shipments/{shipment['id']}/buy"
    await carrier_control.add_fault("error_500", "buy", api_key=easypost.api_key)
    await carrier_control.add_fault("timeout", "buy", api_key=easypost.api_key)
    assert_easypost_error(await easypost.post(path, rate), 500, "INTERNAL_SERVER_ERROR")
    started = time.monotonic()
    assert_easypost_error(await easypost.post(path, rate), 504, "GATEWAY_TIMEOUT")
    assert time.monotonic() - started >= FAULT_TIMEOUT
    assert (await carrier_control.account(easypost.api_key))["purchases"] == 0
    assert (await easypost.post(path, rate)).status_code == 200


async def test_refunding_an_unused_label(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    bought = await easypost.buy(await easypost.create())
    path = f"/shipments/{bought['id']}/refund"
    refunded = await easypost.post(path)
    assert refunded.status_code == 200
    assert refunded.json()["refund_status"] == "submitted"
    assert (await carrier_control.account(easypost.api_key))["refunds_total"] == "0.00"
    assert_easypost_error(await easypost.post(path), 422, "SHIPMENT.REFUND.UNAVAILABLE")

    await carrier_control.advance(0)
    reread = (await easypost.get(f"/shipments/{bought['id']}")).json()
    assert reread["refund_status"] == "refunded"
    account = await carrier_control.account(easypost.api_key)
    assert account["refunds_total"] == bought["selected_rate"]["rate"]
    assert account["net_total"] == "0.00"
    (event,) = await carrier_control.events(
        api_key=easypost.api_key, description="refund.successful"
    )
    assert event["payload"]["result"]["shipment_id"] == bought["id"]
    # a voided label never moves
    await carrier_control.advance(100)
    assert (await easypost.get(f"/trackers/{bought['tracker']['id']}")).json()[
        "status"
    ] == "pre_transit"


async def test_a_used_or_missing_label_cannot_be_refunded(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    unbought = await easypost.create()
    refused = await easypost.post(f"/shipments/{unbought['id']}/refund")
    assert_easypost_error(refused, 422, "SHIPMENT.REFUND.UNAVAILABLE")

    bought = await easypost.buy(await easypost.create())
    await carrier_control.set_tracker_status(bought["tracker"]["id"], "in_transit")
    refused = await easypost.post(f"/shipments/{bought['id']}/refund")
    error = assert_easypost_error(refused, 422, "SHIPMENT.REFUND.UNAVAILABLE")
    assert "in_transit" in error["message"]
    assert (await easypost.get(f"/shipments/{bought['id']}")).json()["refund_status"] is None
