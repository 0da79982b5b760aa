"""A sync never brings back the personal data of a customer erased by customers/redact."""

from __future__ import annotations

import httpx

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Customer, Order
from app.models.sync_job import SyncStatus, SyncType
from app.services.sync.jobs import queue_sync
from tests.sync.helpers import connect_shop, make_worker, reload, run_queued, sim_orders
from tools.shopify_sim import SimulatorControl, SimulatorServer


async def test_orders_of_a_redacted_customer_are_stored_redacted(
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=30)
    with_customer = [o for o in sim_orders(simulator, shop.domain) if o.get("customer")]
    erased_gid = with_customer[0]["customer"]["id"]
    erased_id = erased_gid.rsplit("/", 1)[-1]
    real_email = (with_customer[0].get("email") or "").lower()
    await Customer(
        tenant_id=shop.tenant_id,
        shopify_id=erased_id,
        email="redacted-x@redacted.invalid",
        updated_at=utcnow(),
        redacted_at=utcnow(),
    ).insert()

    queued = await queue_sync(shop.tenant_id, SyncType.FULL, 365)
    assert queued.job is not None
    await run_queued(make_worker(settings, sim_http))
    job = await reload(queued.job)
    assert job.status == SyncStatus.COMPLETED, job.error

    theirs = await Order.find({"tenant_id": shop.tenant_id, "customer.id": erased_id}).to_list()
    assert theirs
    for order in theirs:
        assert order.redacted_at is not None
        assert order.email is not None
        assert order.email.endswith("@redacted.invalid")
        assert order.shipping_address is None
        assert order.customer is not None
        assert order.customer.first_name is None
    raw = str(
        await Order.get_pymongo_collection()
        .find({"tenant_id": shop.tenant_id, "customer.id": erased_id})
        .to_list()
    )
    assert not real_email or real_email not in raw.lower()
    stored = await Customer.find_one({"tenant_id": shop.tenant_id, "shopify_id": erased_id})
    assert stored is not None
    assert stored.email == "redacted-x@redacted.invalid"
    others = await Order.find({"tenant_id": shop.tenant_id, "redacted_at": None}).count()
    assert others == len(sim_orders(simulator, shop.domain)) - len(theirs)
