"""Topic handlers: uninstall, customers/redact, customers/data_request, shop/redact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from bson import json_util

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import (
    DOCUMENT_MODELS,
    ApiKey,
    Customer,
    CustomerDataExport,
    JournalBarrier,
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
from app.services.integration.integrations import mark_uninstalled
from app.services.integration.token_cipher import TokenCipher
from app.services.operations.alerts import AlertState, DiskUsage, evaluate_alerts
from app.services.returns.portal_attempts import record_failure
from app.services.webhooks.handlers.app_uninstalled import STALE_UNINSTALL
from app.services.webhooks.handlers.compliance import SHOP_REDACT_REFUSED
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import graphql, make_return, merchant_headers
from tests.webhooks.helpers import (
    ConnectedShop,
    connect_shop,
    install_app,
    order_payload,
    shop_payload,
    store_event,
)
from tools.shopify_sim import SimulatorControl

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0)
SHOP = "rms34.myshopify.com"
TENANT = "tenant-rms34"


async def _process(settings: Settings) -> int:
    return await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()


async def _integration() -> ShopifyIntegration:
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None
    return integration


async def _only_result(topic: str) -> str | None:
    [event] = await WebhookEvent.find({"topic": topic}).to_list()
    assert event.processed, event
    return event.result


async def test_app_uninstalled_drops_tokens_and_cancels_active_jobs(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    running = SyncJob(tenant_id=TENANT, type=SyncType.FULL, status=SyncStatus.RUNNING)
    await running.insert()
    done = SyncJob(
        tenant_id=TENANT, type=SyncType.INCREMENTAL, status=SyncStatus.COMPLETED, active=None
    )
    await done.insert()
    await sim_control.uninstall(SHOP)  # Shopify revokes the tokens, then sends the event
    await store_event("app/uninstalled", shop_payload(SHOP))
    await _process(settings)
    integration = await _integration()
    assert integration.status == IntegrationStatus.UNINSTALLED
    assert integration.uninstalled_at is not None
    assert integration.access_token is None and integration.refresh_token is None
    jobs = {job.id: job for job in await SyncJob.find({"tenant_id": TENANT}).to_list()}
    assert jobs[running.id].status == SyncStatus.CANCELED
    assert jobs[running.id].error == "app uninstalled" and jobs[running.id].active is None
    assert jobs[done.id].status == SyncStatus.COMPLETED
    assert await _only_result("app/uninstalled") == "uninstalled: jobs_canceled=1"


async def test_a_late_uninstall_from_before_a_reinstall_is_ignored(
    settings: Settings, shop: ConnectedShop
) -> None:
    stored = (await _integration()).access_token
    await store_event(
        "app/uninstalled", shop_payload(SHOP), triggered_at=utcnow() - timedelta(days=11)
    )
    await _process(settings)
    integration = await _integration()
    assert integration.status == IntegrationStatus.CONNECTED
    assert integration.access_token == stored


async def test_a_replayed_uninstall_with_a_fresh_timestamp_leaves_a_reinstalled_shop_connected(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    """X-Shopify-Triggered-At is not signed: the replay claims to be newer than the reinstall.
    Shopify, asked with the current token, says the app is installed."""
    await sim_control.uninstall(SHOP)
    captured = shop_payload(SHOP)
    await store_event("app/uninstalled", captured)
    await _process(settings)
    assert (await _integration()).status == IntegrationStatus.UNINSTALLED
    await install_app(sim_control, settings, SHOP)  # the merchant reinstalls
    reinstalled = await _integration()

    await store_event("app/uninstalled", captured, triggered_at=utcnow())  # the replay
    await _process(settings)
    integration = await _integration()
    assert integration.status == IntegrationStatus.CONNECTED
    assert integration.access_token == reinstalled.access_token
    results = [e.result for e in await WebhookEvent.find({}).sort("received_at").to_list()]
    assert results[-1] == STALE_UNINSTALL


async def test_an_uninstall_is_not_applied_while_shopify_cannot_be_asked(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    await sim_control.uninstall(SHOP)
    await store_event("app/uninstalled", shop_payload(SHOP))
    # Nothing listens there: every check fails to connect, as when Shopify is unreachable.
    unreachable = settings.model_copy(
        update={"shopify_admin_base_url": "http://127.0.0.1:9/{shop}"}
    )
    policy = ProcessingPolicy(max_attempts=3, retry_base_seconds=60)
    assert await WebhookProcessor(unreachable, "down", policy=policy).process_one()
    [event] = await WebhookEvent.find({}).to_list()
    assert not event.processed and not event.dead
    assert event.error is not None and "Shopify could not be asked" in event.error
    integration = await _integration()
    assert integration.status == IntegrationStatus.CONNECTED and integration.access_token

    # Shopify answers again: the revoked token is refused, so the uninstall is real.
    await WebhookEvent.get_pymongo_collection().update_many(
        {}, {"$set": {"next_attempt_at": utcnow()}}
    )
    await _process(settings)
    assert (await _integration()).status == IntegrationStatus.UNINSTALLED


async def test_an_uninstall_after_a_token_expired_asks_with_a_refreshed_one(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    """An expired access token answers 401 even while installed: the refresh decides."""
    await sim_control.expire_tokens(SHOP)
    await store_event("app/uninstalled", shop_payload(SHOP))
    await _process(settings)
    integration = await _integration()
    assert integration.status == IntegrationStatus.CONNECTED
    assert integration.token_refreshed_at is not None
    assert await _only_result("app/uninstalled") == STALE_UNINSTALL


def _all_raw_documents(dump: dict[str, list[dict[str, Any]]]) -> str:
    return json_util.dumps(dump).lower()


async def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    names = await db.db.list_collection_names()
    return {name: [doc async for doc in db.db[name].find({})] for name in names}


async def test_customer_redaction_leaves_no_trace_in_any_collection(
    settings: Settings, db: Database, shop: ConnectedShop
) -> None:
    customer_id = 7_300_000_000_001
    pii = {
        "email": "grace.hopper@navy.example",
        "first": "Gracelyn",
        "last": "Hopperstein",
        "phone": "+15557654321",
        "street": "12 Analytical Engine Row",
        "zip": "NW1 6XE",
    }
    kept_other = shop.order(
        number=1002,
        email="someone.else@example.com",
        phone=None,
        first_name="Other",
        street="1 Elsewhere Lane",
        zip_code="99999",
        last_name="Person",
    )
    first = shop.order(
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
    settings: Settings, shop: ConnectedShop
) -> None:
    customer_id = 7_300_000_000_002
    mine = shop.order(number=1001, customer_id=customer_id, email="ada@example.com")
    other = shop.order(number=1002, email="bob@example.com")
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
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    other = await connect_shop(sim_control, settings, "other.myshopify.com")
    await store_event("orders/create", shop.order(number=1001))
    await store_event("orders/create", other.order(number=1001), shop=other.domain)
    await _process(settings)
    order = await Order.find_one({"tenant_id": TENANT})
    assert order is not None
    await make_return(order)
    await issue_api_key(TENANT, name="x")
    await SyncJob(tenant_id=TENANT, type=SyncType.FULL).insert()
    await record_failure(TENANT, "203.0.113.9")  # a customer's address
    assert (await mark_uninstalled(TENANT)).changed  # 48 hours later, shop/redact comes
    redact = await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    # Every collection keyed by tenant, so that one added later cannot be forgotten here; kept:
    # the redact event itself, and transaction tokens (no data, deleted by TTL within the hour).
    for model in DOCUMENT_MODELS:
        if "tenant_id" in model.model_fields and model not in (WebhookEvent, JournalBarrier):
            collection = model.get_pymongo_collection()
            assert await collection.count_documents({"tenant_id": TENANT}) == 0, model.__name__
    assert await Tenant.get(TENANT) is None
    [kept] = await WebhookEvent.find({"shop_domain": SHOP}).to_list()
    assert kept.event_id == redact["event_id"] and kept.processed
    # The other shop keeps everything.
    assert await Tenant.get(other.tenant_id) is not None
    assert await Order.find({"tenant_id": other.tenant_id}).count() == 1
    # Orders arriving afterwards for the deleted shop are ignored.
    await store_event("orders/updated", shop.order(number=1003))
    await _process(settings)
    assert await Order.find({"tenant_id": TENANT}).count() == 0


async def test_shop_redact_erases_a_shop_whose_uninstall_never_reached_us(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    """The app was uninstalled in Shopify but our app/uninstalled went dead (Shopify unreachable
    for hours): still connected here. Shopify refusing the stored token settles it."""
    await store_event("orders/create", shop.order(number=1001))
    await _process(settings)
    await sim_control.uninstall(SHOP)  # its delivery to us is lost
    await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    assert await _only_result("shop/redact") != SHOP_REDACT_REFUSED
    assert await Tenant.get(TENANT) is None
    assert await Order.find({"tenant_id": TENANT}).count() == 0


async def test_shop_redact_for_a_connected_shop_whose_refresh_lapsed_erases_nothing(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    """A captured shop/redact replayed while the shop has the app, its access token expired and
    its refresh token lapsed: a refused refresh is no proof of an uninstall (it was taken for
    one, and the shop erased), so the redaction is refused and the shop keeps everything."""
    await store_event("orders/create", shop.order(number=1001))
    await _process(settings)
    await sim_control.expire_tokens(SHOP)
    lapsed = TokenCipher(settings.encryption_keys).encrypt("shprt_lapsed")
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": TENANT},
        {"$set": {"refresh_token": lapsed, "expires_at": utcnow() - timedelta(minutes=5)}},
    )
    await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    assert await _only_result("shop/redact") == SHOP_REDACT_REFUSED
    assert await Tenant.get(TENANT) is not None
    assert await Order.find({"tenant_id": TENANT}).count() == 1
    assert (await _integration()).status == IntegrationStatus.CONNECTED


async def test_shop_redact_for_a_connected_shop_whose_token_a_refresh_cures_erases_nothing(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    """Shopify answers 401 to a stored token that should still be valid (retired early, or
    rotated by another worker a moment ago) but refreshes it: no revocation, nothing erased."""
    await store_event("orders/create", shop.order(number=1001))
    await _process(settings)
    await sim_control.expire_tokens(SHOP)  # our record still says valid for an hour
    await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    assert await _only_result("shop/redact") == SHOP_REDACT_REFUSED
    assert await Tenant.get(TENANT) is not None
    assert await Order.find({"tenant_id": TENANT}).count() == 1


async def test_shop_redact_for_a_connected_shop_is_refused_kept_and_alerted(
    settings: Settings, shop: ConnectedShop
) -> None:
    """Shopify sends shop/redact 48 hours after an uninstall, never to a connected shop."""
    await store_event("orders/create", shop.order(number=1001))
    await issue_api_key(TENANT, name="x")
    await _process(settings)
    await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)

    assert await _only_result("shop/redact") == SHOP_REDACT_REFUSED
    assert await Tenant.get(TENANT) is not None
    assert (await _integration()).status == IntegrationStatus.CONNECTED
    assert await Order.find({"tenant_id": TENANT}).count() == 1
    assert await ApiKey.find({"tenant_id": TENANT}).count() == 1
    alerts = await evaluate_alerts(
        settings, request_window=None, pool_usage=None, disk_usage=lambda _: DiskUsage(100, 1, 99)
    )
    [alert] = [a for a in alerts if a.name == "shop_redact_refused"]
    assert alert.state is AlertState.FIRING and alert.value == 1


def _scopes_body(previous: list[str], current: list[str]) -> dict[str, Any]:
    return {
        "id": 1,
        "previous": previous,
        "current": current,
        "updated_at": "2026-03-01T10:00:00+00:00",
        "shop_id": 1,
    }


async def test_scopes_update_stores_what_shopify_grants_now_and_names_what_is_missing(
    settings: Settings,
    shop: ConnectedShop,
    sim_control: SimulatorControl,
    client: httpx.AsyncClient,
) -> None:
    await sim_control.change_scopes(SHOP, "read_orders,read_returns")  # the merchant took some
    # The body claims more than Shopify grants: the handler stores Shopify's answer, not it.
    body = _scopes_body(["read_orders"], ["read_orders", "read_customers", "write_returns"])
    await store_event("app/scopes_update", body)
    await _process(settings)

    assert (await _integration()).scopes == ["read_orders", "read_returns"]
    result = await _only_result("app/scopes_update")
    assert (
        result == "scopes read_orders,read_returns; missing required: read_customers, write_returns"
    )
    headers = await merchant_headers(TENANT)
    answer = await graphql(client, "{ shopifyIntegration { missingScopes } }", headers=headers)
    assert answer["data"]["shopifyIntegration"]["missingScopes"] == [
        "read_customers",
        "write_returns",
    ]


async def test_scopes_update_for_a_shop_that_is_not_connected_changes_nothing(
    settings: Settings, shop: ConnectedShop, sim_control: SimulatorControl
) -> None:
    await sim_control.uninstall(SHOP)
    await store_event("app/uninstalled", shop_payload(SHOP))
    await _process(settings)
    before = (await _integration()).scopes
    await store_event("app/scopes_update", _scopes_body([], ["read_orders"]))
    await _process(settings)
    assert await _only_result("app/scopes_update") == "ignored: the shop is not connected"
    assert (await _integration()).scopes == before
