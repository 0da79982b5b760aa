"""Topic handlers: uninstall, customers/redact, customers/data_request, shop/redact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import json_util

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import (
    ApiKey,
    Customer,
    CustomerDataExport,
    Order,
    Return,
    ShopifyIntegration,
    SyncJob,
    Tenant,
    WebhookEvent,
)
from app.models.integration import IntegrationStatus
from app.models.sync_job import SyncStatus, SyncType
from app.services.auth import issue_api_key
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import make_return, make_tenant
from tests.webhooks.helpers import order_payload, store_event

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0)
SHOP = "rms34.myshopify.com"
TENANT = "tenant-rms34"


async def _process(settings: Settings) -> int:
    return await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()


async def _integration(**fields: Any) -> ShopifyIntegration:
    integration = ShopifyIntegration(
        tenant_id=TENANT,
        shop_domain=SHOP,
        access_token="gAAAA-cipher",
        refresh_token="gAAAA-refresh",
        expires_at=utcnow() + timedelta(hours=1),
        installed_at=utcnow() - timedelta(days=10),
        **fields,
    )
    await integration.insert()
    return integration


async def test_app_uninstalled_drops_tokens_and_cancels_active_jobs(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    await _integration()
    running = SyncJob(tenant_id=TENANT, type=SyncType.FULL, status=SyncStatus.RUNNING)
    await running.insert()
    done = SyncJob(
        tenant_id=TENANT, type=SyncType.INCREMENTAL, status=SyncStatus.COMPLETED, active=None
    )
    await done.insert()
    await store_event("app/uninstalled", {"id": 1, "domain": SHOP})
    await _process(settings)
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None
    assert integration.status == IntegrationStatus.UNINSTALLED
    assert integration.uninstalled_at is not None
    assert integration.access_token is None and integration.refresh_token is None
    jobs = {job.id: job for job in await SyncJob.find({"tenant_id": TENANT}).to_list()}
    assert jobs[running.id].status == SyncStatus.CANCELED
    assert jobs[running.id].error == "app uninstalled" and jobs[running.id].active is None
    assert jobs[done.id].status == SyncStatus.COMPLETED
    [event] = await WebhookEvent.find({}).to_list()
    assert event.processed


async def test_a_late_uninstall_from_before_a_reinstall_is_ignored(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    await _integration()
    await store_event("app/uninstalled", {"id": 1}, triggered_at=utcnow() - timedelta(days=11))
    await _process(settings)
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None and integration.status == IntegrationStatus.CONNECTED
    assert integration.access_token == "gAAAA-cipher"


def _all_raw_documents(dump: dict[str, list[dict[str, Any]]]) -> str:
    return json_util.dumps(dump).lower()


async def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    names = await db.db.list_collection_names()
    return {name: [doc async for doc in db.db[name].find({})] for name in names}


async def test_customer_redaction_leaves_no_trace_in_any_collection(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    customer_id = 7_300_000_000_001
    pii = {
        "email": "grace.hopper@navy.example",
        "first": "Gracelyn",
        "last": "Hopperstein",
        "phone": "+15557654321",
        "street": "12 Analytical Engine Row",
        "zip": "NW1 6XE",
    }
    kept_other = order_payload(
        number=1002,
        email="someone.else@example.com",
        phone=None,
        first_name="Other",
        street="1 Elsewhere Lane",
        zip_code="99999",
        last_name="Person",
    )
    first = order_payload(
        number=1001,
        customer_id=customer_id,
        email=pii["email"].upper(),
        first_name=pii["first"],
        last_name=pii["last"],
        phone=pii["phone"],
    )
    for payload in (first, kept_other):
        await store_event("orders/create", payload)
    await _process(settings)
    order = await Order.find_one({"tenant_id": TENANT, "shopify_id": str(first["id"])})
    assert order is not None and order.email == pii["email"]
    await make_return(order)
    # A data export made before the redaction must go too.
    data_request = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": pii["email"], "phone": pii["phone"]},
        "orders_requested": [first["id"]],
        "data_request": {"id": 9001},
    }
    await store_event("customers/data_request", data_request)
    await _process(settings)
    assert await CustomerDataExport.find({}).count() == 1

    redact = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": pii["email"], "phone": pii["phone"]},
        "orders_to_redact": [first["id"]],
    }
    await store_event("customers/redact", redact)
    await _process(settings)

    dump = _all_raw_documents(await _dump(db))
    for value in pii.values():
        assert value.lower() not in dump, value
    # The return record stays, under a stable pseudonym; the other customer is untouched.
    [kept_return] = await Return.find({"tenant_id": TENANT}).to_list()
    redacted_order = await Order.find_one({"tenant_id": TENANT, "shopify_id": str(first["id"])})
    assert redacted_order is not None and redacted_order.customer is not None
    assert kept_return.customer_email == redacted_order.email
    assert kept_return.customer_email.startswith("redacted-")
    assert kept_return.customer_email.endswith("@redacted.invalid")
    assert redacted_order.customer.first_name is None and redacted_order.shipping_address is None
    assert "someone.else@example.com" in dump
    customer = await Customer.find_one({"tenant_id": TENANT, "shopify_id": str(customer_id)})
    assert customer is not None and customer.redacted_at is not None

    # A late, stale or newer order event of the redacted customer stores nothing personal.
    newer = order_payload(
        order_id=first["id"],
        number=1001,
        customer_id=customer_id,
        email=pii["email"],
        first_name=pii["first"],
        last_name=pii["last"],
        phone=pii["phone"],
        updated_at=utcnow(),
    )
    await store_event("orders/updated", newer)
    await _process(settings)
    dump = _all_raw_documents(await _dump(db))
    for value in pii.values():
        assert value.lower() not in dump, value
    events = await WebhookEvent.find({}).to_list()
    assert all(event.processed for event in events)


async def test_data_request_exports_what_we_hold_about_the_customer(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    customer_id = 7_300_000_000_002
    mine = order_payload(number=1001, customer_id=customer_id, email="ada@example.com")
    other = order_payload(number=1002, email="bob@example.com")
    for payload in (mine, other):
        await store_event("orders/create", payload)
    await _process(settings)
    order = await Order.find_one({"tenant_id": TENANT, "shopify_id": str(mine["id"])})
    assert order is not None
    await make_return(order)
    request = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": "ada@example.com", "phone": None},
        "orders_requested": [mine["id"]],
        "data_request": {"id": 9002},
    }
    await store_event("customers/data_request", request)
    await store_event("customers/data_request", request)  # a second delivery, another event id
    await _process(settings)
    [export] = await CustomerDataExport.find({"tenant_id": TENANT}).to_list()
    assert export.data_request_id == "9002" and export.customer_id == str(customer_id)
    assert [o["shopify_id"] for o in export.orders] == [str(mine["id"])]
    assert len(export.returns) == 1 and export.returns[0]["customer_email"] == "ada@example.com"
    assert export.customer is not None and export.customer["email"] == "ada@example.com"


async def test_shop_redact_deletes_the_tenant_and_all_its_data(
    settings: Settings, db: Database
) -> None:
    await make_tenant("rms34")
    await make_tenant("other")
    await _integration(status=IntegrationStatus.UNINSTALLED)
    await issue_api_key(TENANT, name="x")
    await SyncJob(tenant_id=TENANT, type=SyncType.FULL).insert()
    await store_event("orders/create", order_payload(number=1001))
    await store_event("orders/create", order_payload(number=1001), shop="other.myshopify.com")
    await _process(settings)
    order = await Order.find_one({"tenant_id": TENANT})
    assert order is not None
    await make_return(order)
    redact = await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    for model in (Order, Customer, Return, SyncJob, ShopifyIntegration, ApiKey):
        assert await model.find({"tenant_id": TENANT}).count() == 0, model.__name__
    assert await Tenant.get(TENANT) is None
    [kept] = await WebhookEvent.find({"shop_domain": SHOP}).to_list()
    assert kept.event_id == redact["event_id"] and kept.processed
    # The other shop keeps everything.
    assert await Tenant.get("tenant-other") is not None
    assert await Order.find({"tenant_id": "tenant-other"}).count() == 1
    # Orders arriving afterwards for the deleted shop are ignored.
    await store_event("orders/updated", order_payload(number=1003))
    await _process(settings)
    assert await Order.find({"tenant_id": TENANT}).count() == 0
