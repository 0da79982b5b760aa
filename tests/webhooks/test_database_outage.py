"""Database stopped: deliveries get 503; after a restart Shopify's retries land, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tests.webhooks.served_app import (
    connect_tenant,
    eventually,
    raw_database,
    served_app,
    subscribe,
)
from tools.devdb import EmbeddedDatabase
from tools.shopify_sim import InstalledShop, SimulatorConfig, SimulatorControl, SimulatorServer

# Retry n waits 2**n * 80 ms: eight retries span ~20 s plus the 503s themselves, room for the
# database's restart on a busy machine (~10 s was the margin before).
TIME_SCALE = 0.08


@pytest.fixture
def patient_simulator() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        api_key=SIM_API_KEY,
        api_secret=SIM_API_SECRET,
        default_orders=0,
        webhook_time_scale=TIME_SCALE,
    )
    server = SimulatorServer(config).start()
    yield server
    server.stop()


@pytest.fixture
async def control(patient_simulator: SimulatorServer) -> AsyncIterator[SimulatorControl]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        yield SimulatorControl(http, patient_simulator.base_url, SIM_API_KEY, SIM_API_SECRET)


async def test_deliveries_during_an_outage_get_503_and_land_after_restart(
    tmp_path: Path, control: SimulatorControl, patient_simulator: SimulatorServer
) -> None:
    storage = tmp_path / "db"
    database_server = EmbeddedDatabase(storage_path=storage).start()
    port = database_server.port
    try:
        settings = make_settings(
            database_server.uri,
            shopify_admin_base_url=patient_simulator.admin_base_template,
            shopify_api_key=SIM_API_KEY,
            shopify_api_secret=SIM_API_SECRET,
            run_background_jobs=True,
            mongodb_timeout_ms=500,
        )
        async with raw_database(settings) as database, served_app(settings) as app_server:
            shop = await control.create_shop(orders=0)
            assert isinstance(shop, InstalledShop)
            tenant_id = await connect_tenant(database, settings, shop)
            await subscribe(control, shop, app_server.base_url, "ORDERS_CREATE")

            before = await control.create_order(shop.domain)
            # Settled first: a stop between the order write and the completion would leave
            # the event leased (rightly) until its lease expires, which this test need not wait.
            await eventually(
                lambda: database["webhook_events"].find_one(
                    {"tenant_id": tenant_id, "processed": True}
                ),
                10,
            )

            await asyncio.to_thread(database_server.stop)
            during = await control.create_order(shop.domain)

            async def refused() -> list[dict[str, Any]]:
                deliveries = (await control.deliveries(shop.domain))["deliveries"]
                return [d for d in deliveries if d.get("status_code") == 503]

            await eventually(refused, 10, 0.05)
            database_server = await asyncio.to_thread(
                EmbeddedDatabase(port=port, storage_path=storage).start
            )

            assert (await control.settle(shop.domain, timeout=30))["settled"]
            attempts = [
                d
                for d in (await control.deliveries(shop.domain))["deliveries"]
                if d.get("event_id") == during["event"]["event_id"]
            ]
            assert attempts[0]["status_code"] == 503 and attempts[-1]["status_code"] == 200

            async def both_applied() -> bool:
                events = await database["webhook_events"].find({"tenant_id": tenant_id}).to_list()
                return len(events) == 2 and all(e["processed"] for e in events)

            await eventually(both_applied, 30, 0.1)
            ids = {
                doc["shopify_id"] async for doc in database["orders"].find({"tenant_id": tenant_id})
            }
            assert ids == {
                before["order"]["id"].rsplit("/", 1)[-1],
                during["order"]["id"].rsplit("/", 1)[-1],
            }
    finally:
        database_server.stop()
