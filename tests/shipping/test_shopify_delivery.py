"""Shopify shows the prepaid label: the mirror attaches the label and its tracking to the
Shopify return's reverse fulfillment order (a reverse delivery), once, and records its id."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Return
from app.services.returns.shopify_mirror import MirrorAction, mirror_requeue
from tests.returns.sim_shop import open_shop
from tests.returns.test_shopify_mirror import run_mirror
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
