"""End to end: the simulator delivers signed webhooks over HTTP to our uvicorn-served app,
whose background runner applies them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.simulator_fixtures import (  # noqa: F401 - fixtures
    SIM_API_KEY,
    SIM_API_SECRET,
    sim_control,
    sim_http,
    sim_shop,
    simulator,
)
from tests.webhooks.served_app import (
    connect_tenant,
    eventually,
    raw_database,
    served_app,
    subscribe,
)
from tools.shopify_sim import InstalledShop, SimulatorControl, SimulatorServer, ThreadedASGIServer


@pytest.fixture
def live_settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:  # noqa: F811
    return make_settings(
        mongo_uri,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
        run_background_jobs=True,
    )


@pytest.fixture
async def live(live_settings: Settings) -> AsyncIterator[tuple[ThreadedASGIServer, Any]]:
    async with raw_database(live_settings) as database, served_app(live_settings) as server:
        yield server, database


Live = tuple[ThreadedASGIServer, Any]


def _number(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


async def test_created_and_updated_order_appears_after_the_worker_runs(
    live: Live,
    live_settings: Settings,
    sim_control: SimulatorControl,  # noqa: F811
    sim_shop: InstalledShop,  # noqa: F811
) -> None:
    server, database = live
    tenant_id = await connect_tenant(database, live_settings, sim_shop)
    await subscribe(sim_control, sim_shop, server.base_url, "ORDERS_CREATE", "ORDERS_UPDATED")

    created = await sim_control.create_order(sim_shop.domain, email="e2e.buyer@example.com")
    order_id = _number(created["order"]["id"])

    async def stored(tags: list[str] | None = None) -> Any:
        doc = await database["orders"].find_one({"tenant_id": tenant_id, "shopify_id": order_id})
        return doc if doc and (tags is None or doc["tags"] == tags) else None

    order = await eventually(stored)
    assert order["name"] == created["order"]["name"]
    assert order["email"] == "e2e.buyer@example.com"

    await sim_control.update_order(sim_shop.domain, created["order"]["id"], tags=["vip", "gift"])
    order = await eventually(lambda: stored(["gift", "vip"]))

    async def settled() -> list[dict[str, Any]]:
        # Both deliveries stored and processed (the order can show the update before its own
        # delivery is stored: an orders/create processed late meets the newer order).
        events = await database["webhook_events"].find({"tenant_id": tenant_id}).to_list()
        both = len(events) == 2 and all(e["processed"] for e in events)
        return events if both else []

    events = await eventually(settled)
    assert sorted(e["topic"] for e in events) == ["orders/create", "orders/updated"]
    assert all(e["attempts"] == 1 for e in events)


async def test_five_concurrent_duplicates_make_one_event_and_one_order(
    live: Live,
    live_settings: Settings,
    sim_control: SimulatorControl,  # noqa: F811
    sim_shop: InstalledShop,  # noqa: F811
) -> None:
    server, database = live
    tenant_id = await connect_tenant(database, live_settings, sim_shop)
    await subscribe(sim_control, sim_shop, server.base_url, "ORDERS_CREATE")
    created = await sim_control.create_order(
        sim_shop.domain, deliver={"duplicates": 5, "concurrent": True}
    )
    assert (await sim_control.settle(sim_shop.domain))["settled"]
    deliveries = (await sim_control.deliveries(sim_shop.domain))["deliveries"]
    attempts = [d for d in deliveries if d.get("kind") == "attempt"]
    assert len(attempts) == 5 and all(d["status_code"] == 200 for d in attempts)

    async def processed() -> list[dict[str, Any]]:
        events = await database["webhook_events"].find({"tenant_id": tenant_id}).to_list()
        return events if events and all(e["processed"] for e in events) else []

    [event] = await eventually(processed)
    assert event["attempts"] == 1
    orders = (
        await database["orders"]
        .find({"tenant_id": tenant_id, "shopify_id": _number(created["order"]["id"])})
        .to_list()
    )
    assert len(orders) == 1


async def test_out_of_order_deliveries_end_with_the_newest_order(
    live: Live,
    live_settings: Settings,
    sim_control: SimulatorControl,  # noqa: F811
    sim_shop: InstalledShop,  # noqa: F811
) -> None:
    server, database = live
    tenant_id = await connect_tenant(database, live_settings, sim_shop)
    await subscribe(sim_control, sim_shop, server.base_url, "ORDERS_CREATE", "ORDERS_UPDATED")
    domain = sim_shop.domain
    # orders/create is held back and arrives after the first orders/updated.
    created = await sim_control.create_order(domain, deliver={"hold": True})
    gid = created["order"]["id"]
    await sim_control.update_order(domain, gid, tags=["first"])
    # An older update held back until after a newer one.
    await sim_control.update_order(domain, gid, tags=["second"], deliver={"hold": True})
    newest = await sim_control.update_order(domain, gid, tags=["third"])
    assert (await sim_control.settle(domain, release=True))["settled"]

    async def all_processed() -> bool:
        events = await database["webhook_events"].find({"tenant_id": tenant_id}).to_list()
        return len(events) == 4 and all(e["processed"] for e in events)

    await eventually(all_processed)
    order = await database["orders"].find_one({"tenant_id": tenant_id, "shopify_id": _number(gid)})
    assert order is not None and order["tags"] == ["third"]
    assert order["updated_at"].isoformat().startswith(newest["order"]["updatedAt"][:19])
    sent = [e["topic"] for e in (await sim_control.deliveries(domain))["events"]]
    assert sent == ["orders/create", "orders/updated", "orders/updated", "orders/updated"]


async def test_compliance_redact_over_http_scrubs_the_customer(
    live: Live,
    live_settings: Settings,
    sim_control: SimulatorControl,  # noqa: F811
) -> None:
    server, database = live
    shop = await sim_control.create_shop(orders=0)
    assert isinstance(shop, InstalledShop)
    tenant_id = await connect_tenant(database, live_settings, shop)
    await subscribe(sim_control, shop, server.base_url, "ORDERS_CREATE")
    email = "redact.me.e2e@example.com"
    created = await sim_control.create_order(shop.domain, email=email)
    order_id = _number(created["order"]["id"])
    await eventually(
        lambda: database["orders"].find_one({"tenant_id": tenant_id, "shopify_id": order_id})
    )
    answer = await sim_control.compliance(
        shop.domain,
        "customers/redact",
        email=email,
        compliance_url=f"{server.base_url}/api/webhooks/{{topic}}",
    )
    assert answer["payload"]["customer"]["email"] == email

    async def redacted() -> Any:
        events = await database["webhook_events"].find({"tenant_id": tenant_id}).to_list()
        return len(events) == 2 and all(e["processed"] for e in events)

    await eventually(redacted)
    order = await database["orders"].find_one({"tenant_id": tenant_id, "shopify_id": order_id})
    assert order["email"].endswith("@redacted.invalid")
    for name in await database.list_collection_names():
        async for doc in database[name].find({}):
            assert email not in repr(doc).lower(), name
