"""What a write path acknowledged survives a database crash the instant after.

Each test performs one operation through the service, kills the database as soon as the call
returns (or at the step inside it where a crash hurts most) and restarts it on its data. With
unjournaled writes (`w: 1`) these tests lose the acknowledged write every time: SecantusDB, like
mongod, flushes its journal in the background.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from pymongo.errors import PyMongoError

from app.migrations.runner import MigrationRunner
from app.models import Return, SchemaMigration
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnReason, ReturnStatus
from app.services.integration.token_cipher import TokenCipher
from app.services.returns import ledger
from app.services.returns.create import RequestedItem, ReturnRequest, create_return
from app.services.returns.ledger import reserved_units
from app.services.returns.transitions import approve_return, decline_return
from app.services.webhooks.ingest import build_event_document, persist_event
from app.services.webhooks.processing import WebhookProcessor
from tests.factories import make_tenant
from tests.faults.conftest import crash
from tests.returns.builders import line, shop_order
from tools.chaos.environment import Stack

CLIENT_IP = "203.0.113.20"
LOCK_SECONDS = 0.6  # a short migration lease, so the test does not wait a minute


def _request(order: Any, quantity: int = 1) -> ReturnRequest:
    return ReturnRequest(
        order_id=order.shopify_id,
        customer_email=order.email or "",
        return_method=ReturnMethod.CUSTOMER_SHIPS,
        resolution_type=ResolutionType.REFUND,
        items=[RequestedItem(order.line_items[0].id, quantity, ReturnReason.DEFECTIVE)],
    )


async def test_an_acknowledged_return_and_its_reservation_survive_a_crash(stack: Stack) -> None:
    tenant = await make_tenant("durable")
    order = await shop_order(tenant.id, 1001, [line(2)])
    created = await create_return(tenant.id, _request(order), CLIENT_IP)
    assert created.record is not None
    await crash(stack)
    stored = await stack.raw["returns"].find_one({"_id": created.record.id})
    assert stored is not None and stored["status"] == ReturnStatus.REQUESTED.value
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 1}


async def test_a_crash_inside_create_return_leaves_neither_the_return_nor_its_units(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("midway")
    order = await shop_order(tenant.id, 1002, [line(1)])
    insert = Return.insert

    async def insert_then_crash(self: Return, *args: Any, **kwargs: Any) -> Return:
        await insert(self, *args, **kwargs)  # reserved and inserted, not yet committed
        await stack.kill_database()
        raise ConnectionError("the database died before the commit")

    monkeypatch.setattr(Return, "insert", insert_then_crash)
    with pytest.raises(ConnectionError):
        await create_return(tenant.id, _request(order), CLIENT_IP)
    await stack.restart_database()
    monkeypatch.setattr(Return, "insert", insert)
    assert await stack.raw["returns"].count_documents({"tenant_id": tenant.id}) == 0
    assert (await reserved_units(tenant.id, order.order_number)).get(order.line_items[0].id, 0) == 0
    # The customer's retry finds the unit free.
    retried = await create_return(tenant.id, _request(order), CLIENT_IP)
    assert retried.record is not None, retried.user_errors


async def test_an_acknowledged_decision_and_its_history_survive_a_crash(stack: Stack) -> None:
    tenant = await make_tenant("decided")
    order = await shop_order(tenant.id, 1003, [line(2)])
    created = await create_return(tenant.id, _request(order), CLIENT_IP)
    assert created.record is not None
    approved = await approve_return(tenant.id, str(created.record.id), "staff@example.com")
    assert approved.record is not None
    await crash(stack)
    stored = await stack.raw["returns"].find_one({"_id": created.record.id})
    assert stored is not None and stored["status"] == ReturnStatus.APPROVED.value
    assert [entry["to_status"] for entry in stored["history"]] == ["requested", "approved"]


async def test_an_acknowledged_decline_gives_its_units_back_across_a_crash(stack: Stack) -> None:
    tenant = await make_tenant("declined")
    order = await shop_order(tenant.id, 1004, [line(1)])
    created = await create_return(tenant.id, _request(order), CLIENT_IP)
    assert created.record is not None
    declined = await decline_return(tenant.id, str(created.record.id), "staff", "worn")
    assert declined.record is not None
    await crash(stack)
    stored = await stack.raw["returns"].find_one({"_id": created.record.id})
    assert stored is not None and stored["status"] == ReturnStatus.DECLINED.value
    assert not stored.get("ledger_release_pending")
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 0}


async def test_a_processed_webhook_event_and_its_order_survive_a_crash(stack: Stack) -> None:
    domain = await stack.new_shop(orders=1)
    tenant_id = await stack.install_in_process(domain)
    record = stack.simulator_orders(domain)[0]
    body = orjson.dumps(stack.rest_order_payload(domain, record))
    headers = {
        "x-shopify-topic": "orders/create",
        "x-shopify-shop-domain": domain,
        "x-shopify-event-id": "durable-event-1",
    }
    await persist_event(build_event_document("orders/create", headers, body))
    assert await WebhookProcessor(stack.settings, "durability").process_one()
    await crash(stack)
    event = await stack.raw["webhook_events"].find_one({"event_id": "durable-event-1"})
    assert event is not None and event["processed"] is True
    assert await stack.raw["orders"].count_documents({"tenant_id": tenant_id}) == 1


async def test_a_crash_between_a_migration_and_its_record_is_repaired_by_rerunning(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's client (durable writes), as `rms db migrate` uses it.
    app_db = SchemaMigration.get_pymongo_collection().database
    runner = MigrationRunner(app_db, lock_seconds=LOCK_SECONDS)
    records = runner._records
    insert_one = records.insert_one

    async def crash_before_recording(*args: Any, **kwargs: Any) -> Any:
        await stack.kill_database()
        return await insert_one(*args, **kwargs)

    monkeypatch.setattr(records, "insert_one", crash_before_recording)
    with pytest.raises(PyMongoError):
        await runner.migrate()
    await stack.restart_database()
    monkeypatch.undo()
    # The failed migrator could not release its lock: it lapses after the short lease.
    assert await stack.raw["schema_migrations_lock"].count_documents({}) == 1
    await asyncio.sleep(LOCK_SECONDS)
    rerun = MigrationRunner(app_db, lock_seconds=LOCK_SECONDS)
    await rerun.migrate()
    assert await rerun.current_version() == rerun.latest_version
    await crash(stack)
    assert await MigrationRunner(stack.raw).current_version() == rerun.latest_version


async def test_an_install_the_callback_confirmed_survives_a_crash(tmp_path: Path) -> None:
    async with Stack(tmp_path / "install", serve_app=True) as served:
        domain = await served.new_shop(orders=0)
        tenant_id = await served.install_through_the_app(domain)  # the callback answered 302
        await crash(served)
        tenant = await served.raw["tenants"].find_one({"_id": tenant_id})
        integration = await served.raw["integrations_shopify"].find_one({"tenant_id": tenant_id})
        assert tenant is not None and integration is not None
        assert integration["status"] == "connected"
        token = TokenCipher(served.settings.encryption_keys).decrypt(integration["access_token"])
        answer = await served.http.post(
            served.simulator.graphql_url(domain, served.settings.shopify_api_version),
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": token},
        )
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        assert await served.raw["sync_jobs"].count_documents({"tenant_id": tenant_id}) == 1


async def test_a_crash_inside_a_release_leaves_it_to_the_sweeper_exactly_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("release")
    order = await shop_order(tenant.id, 1005, [line(1)])
    created = await create_return(tenant.id, _request(order), CLIENT_IP)
    assert created.record is not None
    give_back = ledger.release

    async def crash_then_give_back(*args: Any, **kwargs: Any) -> None:
        await stack.kill_database()  # the flag is cleared in this transaction, not committed
        await give_back(*args, **kwargs)

    monkeypatch.setattr(ledger, "release", crash_then_give_back)
    with pytest.raises(PyMongoError):
        await decline_return(tenant.id, str(created.record.id), "staff", "worn")
    await stack.restart_database()
    monkeypatch.setattr(ledger, "release", give_back)
    stored = await stack.raw["returns"].find_one({"_id": created.record.id})
    assert stored is not None and stored["status"] == ReturnStatus.DECLINED.value
    assert stored["ledger_release_pending"] is True  # the status change landed, the release not
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 1}
    monkeypatch.setattr(ledger, "RELEASE_GRACE_SECONDS", 0.0)
    assert await ledger.release_pending_units() == 1
    assert await ledger.release_pending_units() == 0
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 0}
