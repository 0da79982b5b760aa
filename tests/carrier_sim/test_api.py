"""The EasyPost API subset: authentication, shipments with predictable rates, validation,
accounts kept apart, EasyPost's error shape."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import httpx

from tools.carrier_sim import CarrierSimControl, CarrierSimulatorServer

from .conftest import FROM_ADDRESS, TO_ADDRESS, EasyPost, cheapest

SHIPMENT = {"to_address": TO_ADDRESS, "from_address": FROM_ADDRESS, "parcel": {"weight": 20}}


def assert_easypost_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "errors"}
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["errors"], list)
    return error


async def test_requests_without_a_valid_api_key_are_refused(
    carrier_sim: CarrierSimulatorServer, sim_http: httpx.AsyncClient, easypost: EasyPost
) -> None:
    url = f"{carrier_sim.api_base_url}/shipments"
    missing = await sim_http.post(url, json={"shipment": SHIPMENT})
    assert_easypost_error(missing, 401, "APIKEY.REQUIRED")
    wrong = await sim_http.post(url, json={"shipment": SHIPMENT}, auth=("nope", ""))
    assert_easypost_error(wrong, 401, "APIKEY.INACTIVE")
    assert wrong.headers["www-authenticate"].startswith("Basic")

    bearer = await sim_http.post(
        url, json={"shipment": SHIPMENT}, headers={"Authorization": f"Bearer {easypost.api_key}"}
    )
    assert bearer.status_code == 201


async def test_a_deactivated_key_is_refused(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    assert (await easypost.post("/shipments", {"shipment": SHIPMENT})).status_code == 201
    await carrier_control.deactivate_api_key(easypost.api_key)
    refused = await easypost.post("/shipments", {"shipment": SHIPMENT})
    assert_easypost_error(refused, 401, "APIKEY.INACTIVE")


async def test_a_shipment_has_easypost_shape_and_predictable_rates(easypost: EasyPost) -> None:
    shipment = await easypost.create(weight=20)  # 20 oz: 2 billed pounds
    assert shipment["object"] == "Shipment"
    assert shipment["id"].startswith("shp_") and len(shipment["id"]) == 4 + 32
    assert shipment["mode"] == "test"
    assert shipment["is_return"] is True
    assert shipment["reference"] == "RMA-1001"
    assert shipment["status"] == "unknown"
    for key in ("selected_rate", "postage_label", "tracking_code", "tracker", "refund_status"):
        assert shipment[key] is None, key
    assert shipment["forms"] == []
    assert shipment["to_address"]["id"].startswith("adr_")
    assert shipment["to_address"]["street1"] == TO_ADDRESS["street1"]
    assert shipment["from_address"]["company"] == FROM_ADDRESS["company"]
    assert shipment["parcel"]["id"].startswith("prcl_")
    assert shipment["parcel"]["weight"] == 20.0
    assert shipment["created_at"].endswith("Z")

    offered = {(r["carrier"], r["service"]): r for r in shipment["rates"]}
    assert set(offered) == {
        ("USPS", "GroundAdvantage"),
        ("USPS", "Priority"),
        ("USPS", "Express"),
        ("UPS", "Ground"),
        ("UPS", "2ndDayAir"),
        ("FedEx", "FEDEX_GROUND"),
        ("FedEx", "FEDEX_2_DAY"),
    }
    for rate in shipment["rates"]:
        assert rate["object"] == "Rate" and rate["id"].startswith("rate_")
        assert rate["shipment_id"] == shipment["id"]
        assert rate["currency"] == "USD"
        assert isinstance(rate["rate"], str)
        assert Decimal(rate["rate"]) == Decimal(rate["rate"]).quantize(Decimal("0.01"))
        assert rate["rate"] == str(Decimal(rate["rate"]))  # always two decimals: "7.50"
    # zip 10104 -> 90277: distance 8; 2 pounds; GroundAdvantage 4.75 + 2 * 0.85 + 8 * 0.40
    assert offered[("USPS", "GroundAdvantage")]["rate"] == "9.65"
    assert offered[("UPS", "Ground")]["rate"] == "15.65"  # 9.15 + 2 * 1.05 + 8 * 0.55
    assert offered[("FedEx", "FEDEX_2_DAY")]["rate"] == "31.95"  # 17.85 + 4.50 + 9.60
    assert cheapest(shipment)["service"] == "GroundAdvantage"
    assert offered[("USPS", "Express")]["delivery_days"] == 1


async def test_prices_follow_weight_and_distance(easypost: EasyPost) -> None:
    near = await easypost.create(weight=16, to_address=TO_ADDRESS | {"zip": "10001"})
    far = await easypost.create(weight=16.5)  # 17 oz: 2 pounds, distance 8
    assert cheapest(near, "USPS")["rate"] == "5.60"  # 4.75 + 1 * 0.85 + 0
    assert cheapest(far, "USPS")["rate"] == "9.65"


async def test_invalid_shipments_are_refused_and_nothing_is_created(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    no_street = TO_ADDRESS | {"street1": ""}
    no_zip = {key: value for key, value in FROM_ADDRESS.items() if key != "zip"}
    response = await easypost.post(
        "/shipments",
        {"shipment": {"to_address": no_street, "from_address": no_zip, "parcel": {"weight": 0}}},
    )
    error = assert_easypost_error(response, 422, "PARAMETER.REQUIRED")
    fields = {item["field"] for item in error["errors"]}
    assert fields == {"to_address.street1", "from_address.zip", "parcel.weight"}
    assert "to_address.street1" in error["message"]

    bad_country = SHIPMENT | {"to_address": TO_ADDRESS | {"country": "USA"}}
    response = await easypost.post("/shipments", {"shipment": bad_country})
    assert_easypost_error(response, 422, "PARAMETER.INVALID")
    response = await easypost.post(
        "/shipments", {"shipment": SHIPMENT | {"parcel": {"weight": "-3"}}}
    )
    assert_easypost_error(response, 422, "PARAMETER.INVALID")
    response = await easypost.post("/shipments", {"shipment": SHIPMENT | {"parcel": None}})
    assert_easypost_error(response, 422, "PARAMETER.REQUIRED")
    assert_easypost_error(await easypost.post("/shipments", {}), 422, "PARAMETER.REQUIRED")

    assert await carrier_control.shipments(api_key=easypost.api_key) == []


async def test_another_accounts_shipment_is_unknown(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    shipment = await easypost.create()
    mine = await easypost.get(f"/shipments/{shipment['id']}")
    assert mine.status_code == 200 and mine.json()["id"] == shipment["id"]

    other = EasyPost(easypost.http, easypost.base, await carrier_control.add_api_key())
    assert_easypost_error(await other.get(f"/shipments/{shipment['id']}"), 404, "NOT_FOUND")
    bought = await other.post(
        f"/shipments/{shipment['id']}/buy", {"rate": {"id": shipment["rates"][0]["id"]}}
    )
    assert_easypost_error(bought, 404, "NOT_FOUND")
    assert_easypost_error(await easypost.get("/shipments/shp_unknown"), 404, "NOT_FOUND")
    assert_easypost_error(await easypost.get("/addresses"), 404, "NOT_FOUND")


async def test_retrieve_faults_answer_easypost_errors(
    easypost: EasyPost, carrier_control: CarrierSimControl
) -> None:
    shipment = await easypost.create()
    await carrier_control.add_fault("error_503", "retrieve", api_key=easypost.api_key)
    await carrier_control.add_fault("error_500", "any", api_key=easypost.api_key)
    path = f"/shipments/{shipment['id']}"
    assert_easypost_error(await easypost.get(path), 503, "SERVICE.UNAVAILABLE")
    assert_easypost_error(await easypost.get(path), 500, "INTERNAL_SERVER_ERROR")
    assert (await easypost.get(path)).status_code == 200
    assert (await carrier_control.faults(api_key=easypost.api_key))["faults"] == {}


def test_the_package_imports_nothing_from_the_service() -> None:
    code = (
        "import sys, tools.carrier_sim\n"
        "leaked = [m for m in sys.modules if m == 'app' or m.startswith('app.')]\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
