"""Fixtures for the EasyPost simulator's tests: one simulator for the session, and a fresh
account (API key) per test, so tests never share shipments, faults, webhooks or charges.

Webhooks go to the session's `webhook_receiver` (tests/simulator_fixtures.py, through the root
conftest): each test takes its own path there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.simulator_fixtures import WebhookReceiver
from tools.carrier_sim import CarrierSimConfig, CarrierSimControl, CarrierSimulatorServer

WEBHOOK_SECRET = "s3cr\u00e9t-\ufb01le"  # "é" composed and the "ﬁ" ligature: NFKD changes both
TIME_SCALE = 0.005  # webhook retry n waits 2**n * 5 ms
FAULT_TIMEOUT = 0.3  # a `timeout` fault holds the answer this long before its 504

TO_ADDRESS = {
    "name": "Dana Customer",
    "street1": "179 N Harbor Dr",
    "city": "Redondo Beach",
    "state": "CA",
    "zip": "90277",
    "country": "US",
    "phone": "3105551234",
    "email": "dana@example.com",
}
FROM_ADDRESS = {
    "name": "Returns Dept",
    "company": "Shop & Co (Returns)",
    "street1": "417 Montgomery Street",
    "street2": "5th Floor",
    "city": "New York",
    "state": "NY",
    "zip": "10104",
    "country": "US",
}


@pytest.fixture(scope="session")
def carrier_sim() -> Iterator[CarrierSimulatorServer]:
    config = CarrierSimConfig(
        api_keys=("session-key",),
        webhook_time_scale=TIME_SCALE,
        webhook_max_retries=4,
        fault_timeout_seconds=FAULT_TIMEOUT,
    )
    server = CarrierSimulatorServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def carrier_control(
    carrier_sim: CarrierSimulatorServer, sim_http: httpx.AsyncClient
) -> CarrierSimControl:
    """The control client on the session's `sim_http` client (tests/simulator_fixtures.py)."""
    return CarrierSimControl(sim_http, carrier_sim.base_url)


@dataclass
class EasyPost:
    """A bare EasyPost API client of one account (no retries: tests see every answer)."""

    http: httpx.AsyncClient
    base: str
    api_key: str
    hook_path: str = ""  # the receiver path its Events go to (`hooked`)

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.api_key, "")

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(f"{self.base}{path}", json=body or {}, auth=self._auth())

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"{self.base}{path}", auth=self._auth())

    async def create(self, weight: float = 20, **shipment: Any) -> dict[str, Any]:
        body = {
            "to_address": TO_ADDRESS,
            "from_address": FROM_ADDRESS,
            "parcel": {"weight": weight, "length": 10, "width": 8, "height": 4},
            "is_return": True,
            "reference": "RMA-1001",
        } | shipment
        response = await self.post("/shipments", {"shipment": body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def buy(self, shipment: dict[str, Any], carrier: str = "USPS") -> dict[str, Any]:
        rate = cheapest(shipment, carrier)
        response = await self.post(f"/shipments/{shipment['id']}/buy", {"rate": {"id": rate["id"]}})
        assert response.status_code == 200, response.text
        bought: dict[str, Any] = response.json()
        return bought


def cheapest(shipment: dict[str, Any], carrier: str | None = None) -> dict[str, Any]:
    rates = [r for r in shipment["rates"] if carrier is None or r["carrier"] == carrier]
    return min(rates, key=lambda rate: Decimal(rate["rate"]))


@pytest.fixture
async def easypost(
    carrier_sim: CarrierSimulatorServer,
    carrier_control: CarrierSimControl,
    sim_http: httpx.AsyncClient,
) -> EasyPost:
    """A new account of its own, without a webhook."""
    key = await carrier_control.add_api_key()
    return EasyPost(sim_http, carrier_sim.api_base_url, key)


@pytest.fixture
async def hooked(
    carrier_sim: CarrierSimulatorServer,
    carrier_control: CarrierSimControl,
    sim_http: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> EasyPost:
    """A new account whose Events go, signed with WEBHOOK_SECRET, to a receiver path of its own
    (answering 200)."""
    path = webhook_receiver.new_path(200)
    key = await carrier_control.add_api_key(
        webhook_url=webhook_receiver.url(path), webhook_secret=WEBHOOK_SECRET
    )
    return EasyPost(sim_http, carrier_sim.api_base_url, key, hook_path=path)
