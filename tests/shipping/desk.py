"""What the return-shipping tests do and look at: a shop's staff (GraphQL), its label worker and
webhook processor, and the carrier simulator (its control API, its clock, its Events).

Addresses are fixed so prices are known: the customer ships from 90277 (CA) to the shop's
89501 (NV), a distance of one zone, a 16 oz parcel (one pound). The simulator then offers, by
its price table (tools/carrier_sim/README.md): USPS GroundAdvantage 6.00, USPS Priority 9.75,
FedEx FEDEX_GROUND 10.55, UPS Ground 10.75, FedEx FEDEX_2_DAY 21.30, UPS 2ndDayAir 22.05 and
USPS Express 29.90. The tests compare with the rates the simulator shows, not with this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from bson import ObjectId

import app.clock as app_clock
from app.carriers.easypost import EasyPostClient
from app.config import Settings
from app.models import Order, Return, WebhookEvent
from app.models.order import Address
from app.services.shipping.labels import LabelWorker
from app.services.webhooks.processing import WebhookProcessor
from tests.conftest import make_settings
from tests.factories import graphql
from tests.returns.builders import line, portal, return_input, shop_order
from tests.simulator_fixtures import ReceivedWebhook, WebhookReceiver
from tools.carrier_sim import CarrierSimControl, CarrierSimulatorServer

EASYPOST_KEY = "sim-easypost-key"
# "é" composed and the "ﬁ" ligature: NFKD changes both, so the simulator and the app must
# normalise the secret alike for any signature to match.
WEBHOOK_SECRET = "wh-s\u00e9cret-\ufb01le"
WEBHOOK_PATH = "/api/webhooks/easypost"

CUSTOMER_ADDRESS = Address(
    name="Dana Customer",
    address1="179 N Harbor Dr",
    city="Redondo Beach",
    province="California",
    province_code="CA",
    zip="90277",
    country="United States",
    country_code="US",
    phone="3105551234",
)
RETURN_ADDRESS: dict[str, Any] = {
    "name": "Returns Dept",
    "street1": "1 Warehouse Way",
    "city": "Reno",
    "province": "NV",
    "zip": "89501",
    "countryCode": "US",
}

SHIPMENT = """status carrier service trackingNumber trackingUrl labelUrl qrCodeUrl
  cost { amount currencyCode } payer dropOff error attempts tracking { status at message }
  voidRequested purchasedAt deliveredAt voidedAt shopifyReverseDeliveryId"""
RETURN = f"""id status returnMethod shopifyReturnId shipment {{ {SHIPMENT} }}
  history {{ actor fromStatus toStatus }}
  outcome {{ itemsTotal {{ amount currencyCode }} restockingFee {{ amount }}
    returnShippingFee {{ amount }} labelFee {{ amount currencyCode }}
    refundAmount {{ amount currencyCode }} }}"""
CREATE_RETURN = """mutation ($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id status } userErrors { field code message } } }"""
VIEW = f"query ($id: ID!) {{ return(id: $id) {{ {RETURN} }} }}"
UPDATE_POLICY = """mutation ($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  tenant { returnPolicy { allowedMethods shipping {
    returnAddress { name street1 city province zip countryCode }
    allowedServices { carrier service } labelPayer labelTiming receiveOnDelivery
    parcelWeightOz } } }
  userErrors { field code message } } }"""


def carrier_settings(
    mongo_uri: str, carrier_server: CarrierSimulatorServer, **extra: Any
) -> Settings:
    """The app's settings with the carrier simulator as EasyPost (and `extra` on top)."""
    return make_settings(
        mongo_uri,
        easypost_api_key=EASYPOST_KEY,
        easypost_api_base_url=carrier_server.api_base_url,
        easypost_webhook_secret=WEBHOOK_SECRET,
        **extra,
    )


def object_id(return_gid: str) -> ObjectId:
    """The return's ObjectId from its global id (`gid://returns-management/Return/<id>`)."""
    return ObjectId(return_gid.rsplit("/", 1)[-1])


def shipping_input(**changes: Any) -> dict[str, Any]:
    """ShippingSettingsInput: a return address, any carrier, merchant-paid, bought on
    approval, received on delivery; `changes` on top (`returnAddress=None` leaves it out)."""
    base: dict[str, Any] = {
        "returnAddress": RETURN_ADDRESS,
        "allowedServices": [],
        "labelPayer": "MERCHANT",
        "labelTiming": "ON_APPROVAL",
        "receiveOnDelivery": True,
        "parcelWeightOz": "16",
    }
    return base | changes


class ShiftedClock(app_clock._ServerTime):
    """The app's "now" (the database server's clock) moved by `offset`: set to the carrier
    simulator's offset, the app lives at the simulated time its Events are stamped with."""

    def __init__(self, reading: tuple[datetime, float] | None) -> None:
        super().__init__()
        self.reading = reading
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset


def install_shifted_clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    shifted = ShiftedClock(app_clock._SERVER_TIME.reading)
    monkeypatch.setattr(app_clock, "_SERVER_TIME", shifted)
    return shifted


async def post_event(
    client: httpx.AsyncClient, body: bytes, signature: str | None
) -> httpx.Response:
    """A delivery to the app's carrier webhook, as EasyPost's agent sends it."""
    headers = {"Content-Type": "application/json", "User-Agent": "EasyPost WebHook Agent 1.0"}
    if signature is not None:
        headers["X-Hmac-Signature"] = signature
    return await client.post(WEBHOOK_PATH, content=body, headers=headers)


def tracker_status(item: ReceivedWebhook) -> str:
    status: str = orjson.loads(item.body)["result"]["status"]
    return status


@dataclass
class Carrier:
    """The reset carrier simulator of one test, and its Events as the receiver got them."""

    server: CarrierSimulatorServer
    control: CarrierSimControl
    http: httpx.AsyncClient
    receiver: WebhookReceiver
    path: str
    clock: ShiftedClock
    relayed: int = field(default=0)

    def easypost(self) -> EasyPostClient:
        return EasyPostClient(self.http, self.server.api_base_url, EASYPOST_KEY)

    async def advance(self, hours: float) -> dict[str, Any]:
        """Move the simulator's clock (trackers move, Events go out), and the app's with it."""
        moved = await self.control.advance(hours)
        offset = (await self.control.clock())["offset_hours"]
        self.clock.offset = timedelta(hours=float(offset))
        return moved

    async def new_deliveries(self) -> list[ReceivedWebhook]:
        """Every Event delivery not taken yet, in the order the receiver got them (after the
        simulator has finished sending)."""
        await self.control.settle()
        fresh = self.receiver.at(self.path)[self.relayed :]
        self.relayed += len(fresh)
        return fresh

    async def relay(self, client: httpx.AsyncClient) -> list[tuple[ReceivedWebhook, int]]:
        """Post the new deliveries to the app byte for byte, with the simulator's signature;
        each with the app's status code."""
        relayed = []
        for item in await self.new_deliveries():
            response = await post_event(client, item.body, item.headers.get("x-hmac-signature"))
            relayed.append((item, response.status_code))
        return relayed

    async def shipment(self, carrier_shipment_id: str) -> dict[str, Any]:
        """The simulator's summary of a shipment: `purchases`, `buy_attempts`, `charged`,
        `refund_status`, `selected_rate`, `tracking_code`, `tracker_id`, and `shipment`."""
        return await self.control.shipment(carrier_shipment_id)


class Shop:
    """A tenant not connected to Shopify: its staff (GraphQL with an API key), its customer
    (the portal), and the background work the tests run by hand."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        carrier: Carrier,
        tenant_id: str,
        headers: dict[str, str],
    ) -> None:
        self.client = client
        self.settings = settings
        self.carrier = carrier
        self.tenant_id = tenant_id
        self.headers = headers
        self._orders = 1000

    # Settings -----------------------------------------------------------------------------
    async def update_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        body = await graphql(self.client, UPDATE_POLICY, {"input": policy}, self.headers)
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["updateReturnPolicy"]
        assert payload["userErrors"] == [], payload
        return payload

    async def set_shipping(self, *, methods: list[str] | None = None, **changes: Any) -> None:
        policy: dict[str, Any] = {"shipping": shipping_input(**changes)}
        if methods is not None:
            policy["allowedMethods"] = methods
        await self.update_policy(policy)

    # The customer ---------------------------------------------------------------------------
    async def order(
        self, *, price: str = "40.00", address: Address | None = CUSTOMER_ADDRESS
    ) -> Order:
        self._orders += 1
        order = await shop_order(self.tenant_id, self._orders, [line(price=price)])
        order.shipping_address = address
        await order.save()
        return order

    async def request(
        self, order: Order, method: str = "PREPAID_LABEL", resolution: str = "REFUND"
    ) -> dict[str, Any]:
        """The customer asks for a return of one unit (the portal); staff's view of it."""
        data = return_input(order, method=method, resolution=resolution)
        body = await graphql(self.client, CREATE_RETURN, {"input": data}, portal(self.tenant_id))
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["createReturn"]
        assert payload["userErrors"] == [], payload
        return await self.view(str(payload["return"]["id"]))

    # Staff ----------------------------------------------------------------------------------
    async def act(self, mutation: str, return_id: str) -> dict[str, Any]:
        """A merchant mutation taking the return's id; its payload (`return`, `userErrors`)."""
        body = await graphql(
            self.client,
            f"""mutation ($id: ID!) {{ {mutation}(id: $id) {{
                return {{ {RETURN} }} userErrors {{ field code message }} }} }}""",
            {"id": return_id},
            self.headers,
        )
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"][mutation]
        return payload

    async def decide(self, mutation: str, return_id: str) -> dict[str, Any]:
        payload = await self.act(mutation, return_id)
        assert payload["userErrors"] == [], payload
        found: dict[str, Any] = payload["return"]
        return found

    async def view(self, return_id: str) -> dict[str, Any]:
        body = await graphql(self.client, VIEW, {"id": return_id}, self.headers)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["return"]
        return found

    async def shipment(self, return_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self.view(return_id))["shipment"]
        return found

    async def stored(self, return_id: str) -> Return:
        found = await Return.find_one({"_id": object_id(return_id), "tenant_id": self.tenant_id})
        assert found is not None
        return found

    # Background work ------------------------------------------------------------------------
    def label_worker(self, worker_id: str = "labels-test-1") -> LabelWorker:
        return LabelWorker(worker_id, self.carrier.easypost)

    async def run_labels(self, worker: LabelWorker | None = None) -> int:
        """Run a label worker until nothing is due; how many purchases or voids it claimed."""
        worker = worker or self.label_worker()
        runs = 0
        while await worker.run_once():
            runs += 1
        return runs

    async def make_due(self, return_id: str) -> None:
        """The retry of a failed purchase falls due now (instead of after its back-off)."""
        past = app_clock.utcnow() - timedelta(seconds=1)
        updated = await Return.get_pymongo_collection().update_one(
            {"_id": object_id(return_id)}, {"$set": {"shipment.next_attempt_at": past}}
        )
        assert updated.matched_count == 1

    async def process_events(self) -> int:
        """The ordinary webhook processor, until no event is due."""
        return await WebhookProcessor(self.settings, "shipping-test-events").run_until_idle()

    async def relay_and_process(self) -> list[tuple[ReceivedWebhook, int]]:
        relayed = await self.carrier.relay(self.client)
        await self.process_events()
        return relayed

    async def bought(
        self, order: Order | None = None, **request: Any
    ) -> tuple[str, dict[str, Any]]:
        """A return asked for, approved and its label bought: (id, shipment)."""
        created = await self.request(order or await self.order(), **request)
        return_id = str(created["id"])
        await self.decide("approveReturn", return_id)
        assert await self.run_labels() == 1
        shipment = await self.shipment(return_id)
        assert shipment["status"] == "LABEL_CREATED", shipment
        return return_id, shipment


async def stored_events() -> list[dict[str, Any]]:
    """Every carrier event the app stored (`webhook_events`)."""
    found: list[dict[str, Any]] = (
        await WebhookEvent.get_pymongo_collection().find({"shop_domain": "easypost"}).to_list(None)
    )
    return found
