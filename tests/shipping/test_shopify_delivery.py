"""Shopify shows the prepaid label: the mirror attaches the label and its tracking to the
Shopify return's reverse fulfillment order (a reverse delivery), once, and records its id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Return
from app.services.integration.session import admin_client_for
from app.services.returns.shopify_mirror import (
    UNCONFIRMED_DELIVERY,
    MirrorAction,
    ReturnMirrorWorker,
    mirror_requeue,
)
from app.shopify.documents.returns import RETURN_REVERSE_DELIVERIES, REVERSE_DELIVERY_CREATE
from tests.returns.sim_shop import open_shop
from tests.returns.test_shopify_mirror import (
    HeldCall,
    direct,
    make_retry_due,
    run_mirror,
    serving,
)
from tests.shipping.desk import Carrier, Shop, carrier_settings, object_id
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.carrier_sim import CarrierSimulatorServer
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(
    mongo_uri: str, simulator: SimulatorServer, carrier_server: CarrierSimulatorServer
) -> Settings:
    """The app pointed at both simulators."""
    return carrier_settings(
        mongo_uri,
        carrier_server,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
        shopify_admin_base_url=simulator.admin_base_template,
    )


async def test_the_label_is_on_one_reverse_delivery_in_shopify(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    carrier: Carrier,
) -> None:
    opened = await open_shop(client, settings, simulator, sim_control, sim_http)
    shop = Shop(client, settings, carrier, opened.tenant.tenant_id, opened.headers)
    await shop.set_shipping()
    created = await shop.request(opened.order)  # one of the order's two units
    return_id = str(created["id"])
    await shop.decide("approveReturn", return_id)
    await run_mirror(settings, sim_http)  # requested and approved in Shopify: no label yet
    view = await shop.view(return_id)
    shopify_return_id = view["shopifyReturnId"]
    assert shopify_return_id is not None, view
    assert await sim_control.reverse_deliveries(opened.tenant.domain, shopify_return_id) == []

    # The label bought afterwards queues the mirror's delivery step.
    assert await shop.run_labels() == 1
    shipment = await shop.shipment(return_id)
    assert shipment["status"] == "LABEL_CREATED"
    assert await run_mirror(settings, sim_http) >= 1
    view = await shop.view(return_id)
    deliveries = await sim_control.reverse_deliveries(opened.tenant.domain, shopify_return_id)
    assert len(deliveries) == 1, deliveries
    (delivery,) = deliveries
    assert view["shipment"]["shopifyReverseDeliveryId"] == delivery["id"]
    assert delivery["tracking"]["tracking_number"] == shipment["trackingNumber"]
    assert delivery["tracking"]["tracking_url"] == shipment["trackingUrl"]
    assert delivery["label_url"] == shipment["labelUrl"]
    assert sum(line["quantity"] for line in delivery["line_items"]) == 1

    # Nothing left to do: another run changes nothing.
    await run_mirror(settings, sim_http)
    assert len(await sim_control.reverse_deliveries(opened.tenant.domain, shopify_return_id)) == 1

    # The step runs again as after a lost answer (the delivery's id never recorded): the
    # delivery Shopify has with our tracking number is adopted, not made twice.
    await Return.get_pymongo_collection().update_one(
        {"_id": object_id(return_id)},
        {
            "$set": {
                "shipment.shopify_reverse_delivery_id": None,
                **mirror_requeue(MirrorAction.DELIVERY, utcnow() - timedelta(seconds=1)),
            }
        },
    )
    assert await run_mirror(settings, sim_http) >= 1
    again = await sim_control.reverse_deliveries(opened.tenant.domain, shopify_return_id)
    assert [found["id"] for found in again] == [delivery["id"]]
    view = await shop.view(return_id)
    assert view["shipment"]["shopifyReverseDeliveryId"] == delivery["id"]


@dataclass
class Labelled:
    """A return of one unit, requested and approved in Shopify, whose label was just bought
    (the mirror's delivery step queued, not yet run)."""

    shop: Shop
    tenant_id: str
    domain: str
    return_id: str
    shopify_return_id: str


@pytest.fixture
async def labelled(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    carrier: Carrier,
) -> Labelled:
    opened = await open_shop(client, settings, simulator, sim_control, sim_http)
    shop = Shop(client, settings, carrier, opened.tenant.tenant_id, opened.headers)
    await shop.set_shipping()
    return_id = str((await shop.request(opened.order))["id"])
    await shop.decide("approveReturn", return_id)
    await run_mirror(settings, sim_http)
    shopify_return_id = (await shop.view(return_id))["shopifyReturnId"]
    assert await shop.run_labels() == 1
    return Labelled(
        shop, opened.tenant.tenant_id, opened.tenant.domain, return_id, shopify_return_id
    )


async def test_a_delivery_still_on_its_way_is_not_sent_again_by_the_next_lease_holder(
    labelled: Labelled,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """A worker's lease ran out while its reverseDeliveryCreateWithShipping waited for Shopify;
    the worker that took the return over found no delivery with our tracking number yet and
    sent one too: Shopify showed the label twice. It waits for the first instead."""
    shop, return_id = labelled.shop, labelled.return_id
    domain, shopify_return_id = labelled.domain, labelled.shopify_return_id

    held = HeldCall(
        await admin_client_for(labelled.tenant_id, settings, sim_http),
        REVERSE_DELIVERY_CREATE,
    )
    first = asyncio.create_task(ReturnMirrorWorker("slow", serving(held)).run_once())
    await asyncio.wait_for(held.sending.wait(), 10)
    await make_retry_due(str(object_id(return_id)))  # the slow worker's lease runs out
    assert await ReturnMirrorWorker("next", direct(settings, sim_http)).run_once()
    assert await sim_control.reverse_deliveries(domain, shopify_return_id) == []
    record = await Return.get(object_id(return_id))
    assert record is not None and record.shopify_sync is not None
    assert record.shopify_sync.status == "pending"
    assert "never sent twice" in (record.shopify_sync.error or "")

    held.let_through.set()
    await first
    [delivery] = await sim_control.reverse_deliveries(domain, shopify_return_id)
    await make_retry_due(str(object_id(return_id)))
    await run_mirror(settings, sim_http)
    assert [
        found["id"] for found in await sim_control.reverse_deliveries(domain, shopify_return_id)
    ] == [delivery["id"]]
    view = await shop.view(return_id)
    assert view["shipment"]["shopifyReverseDeliveryId"] == delivery["id"]


async def test_a_refund_never_waits_for_a_delivery_still_on_its_way(
    labelled: Labelled,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """An earlier attempt recorded the label's delivery moments ago and Shopify shows none yet;
    the return was received and resolved meanwhile. The refund goes out now, the delivery is not
    sent a second time, and the shipment says it was not confirmed (a processed return takes no
    delivery later, so it is never looked for again)."""
    shop, return_id = labelled.shop, labelled.return_id
    domain, shopify_return_id = labelled.domain, labelled.shopify_return_id
    await Return.get_pymongo_collection().update_one(
        {"_id": object_id(return_id)},
        {"$set": {"shipment.shopify_delivery_requested_at": utcnow()}},
    )
    await shop.decide("markReturnReceived", return_id)
    await shop.decide("resolveReturn", return_id)

    await run_mirror(settings, sim_http)
    record = await shop.stored(return_id)
    assert record.refund is not None
    assert record.shopify_sync is not None and record.shopify_sync.status == "synced"
    assert record.shipment is not None
    assert record.shipment.shopify_delivery_error == UNCONFIRMED_DELIVERY
    assert record.shipment.shopify_reverse_delivery_id is None
    assert await sim_control.reverse_deliveries(domain, shopify_return_id) == []


async def test_a_worker_whose_lease_ran_out_before_it_recorded_sends_nothing_and_fails_nothing(
    labelled: Labelled,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """A worker stalled between looking for the delivery and recording its send, past its
    lease: it sends nothing, and the return is claimable again at once (the attempt counts, so
    a push that always outlasts its lease ends), and the next worker attaches the label once."""
    shop, return_id = labelled.shop, labelled.return_id
    domain, shopify_return_id = labelled.domain, labelled.shopify_return_id
    before = (await shop.stored(return_id)).shopify_sync
    assert before is not None

    held = HeldCall(
        await admin_client_for(labelled.tenant_id, settings, sim_http),
        RETURN_REVERSE_DELIVERIES,
    )
    stalled = asyncio.create_task(ReturnMirrorWorker("stalled", serving(held)).run_once())
    await asyncio.wait_for(held.sending.wait(), 10)
    await make_retry_due(str(object_id(return_id)))  # its lease runs out
    held.let_through.set()
    await stalled
    assert await sim_control.reverse_deliveries(domain, shopify_return_id) == []
    after = (await shop.stored(return_id)).shopify_sync
    assert after is not None and after.status == "pending"
    assert after.attempts == before.attempts + 1
    assert after.lease_expires_at is not None and after.lease_expires_at <= utcnow()

    await run_mirror(settings, sim_http)
    assert len(await sim_control.reverse_deliveries(domain, shopify_return_id)) == 1
