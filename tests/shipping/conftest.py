"""Fixtures of the return-shipping tests: the carrier (EasyPost) simulator, once per session and
reset before every test, and the app's settings pointed at it.

Every test starts from a clean simulator (`reset`: no shipments, faults or Events; its clock at
now), so purchase counts and refunds read from it are the test's own. The simulator's Events go,
signed, to a path of the session's `webhook_receiver` (tests/simulator_fixtures.py); `Carrier`
relays them byte for byte to the app under test (the ASGI client), as EasyPost would post them.

Sizes: one return per test (two where a comparison needs a second label), one label each; the
trackers follow the simulator's default script, moved by the hours it needs (12, 48, 56), never
by waiting. Each test takes about one to two seconds, most of it the per-test database and app;
the folder stays well under a minute on a busy two-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from app.db import Database
from tests.factories import make_tenant, merchant_headers
from tests.shipping.desk import (
    EASYPOST_KEY,
    WEBHOOK_SECRET,
    Carrier,
    ShiftedClock,
    Shop,
    carrier_settings,
    install_shifted_clock,
)
from tests.simulator_fixtures import WebhookReceiver
from tools.carrier_sim import CarrierSimConfig, CarrierSimControl, CarrierSimulatorServer

# Webhook retry n waits 2**n * 5 ms and a `timeout` fault holds 0.2 s: no test waits on either.
CARRIER_TIME_SCALE = 0.005
CARRIER_FAULT_TIMEOUT = 0.2


@pytest.fixture(scope="session")
def carrier_server() -> Iterator[CarrierSimulatorServer]:
    config = CarrierSimConfig(
        api_keys=(EASYPOST_KEY,),
        webhook_time_scale=CARRIER_TIME_SCALE,
        webhook_max_retries=3,
        fault_timeout_seconds=CARRIER_FAULT_TIMEOUT,
    )
    server = CarrierSimulatorServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def settings(mongo_uri: str, carrier_server: CarrierSimulatorServer) -> Settings:
    return carrier_settings(mongo_uri, carrier_server)


@pytest.fixture
def app_clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    """The app's "now", movable with the simulator's clock (undone after the test)."""
    return install_shifted_clock(monkeypatch)


@pytest.fixture
async def carrier(
    carrier_server: CarrierSimulatorServer,
    sim_http: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
    app_clock: ShiftedClock,
) -> Carrier:
    """The reset simulator, its Events signed with WEBHOOK_SECRET to a receiver path of this
    test's own (answering 200)."""
    control = CarrierSimControl(sim_http, carrier_server.base_url)
    await control.reset()
    path = webhook_receiver.new_path(200)
    await control.set_webhook(webhook_receiver.url(path), WEBHOOK_SECRET)
    return Carrier(carrier_server, control, sim_http, webhook_receiver, path, app_clock)


@pytest.fixture
async def shop(
    client: httpx.AsyncClient, db: Database, settings: Settings, carrier: Carrier
) -> Shop:
    """A tenant not connected to Shopify, its staff's API key, and the carrier."""
    tenant = await make_tenant("labels")
    return Shop(client, settings, carrier, tenant.id, await merchant_headers(tenant.id))
