"""A decision never frees a running mirror's lease (no duplicate Shopify returns), decline/cancel
releases units exactly once even across a crash, an interrupted create leaves neither the return
nor its units, and the ledger's queries have their indexes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.clock import utcnow
from app.db import Database
from app.models import Order, Return, ShopifyIntegration
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnReason, ReturnStatus
from app.services.returns.create import RequestedItem, ReturnRequest, create_return
from app.services.returns.ledger import (
    LedgerReleaseSweeper,
    release_pending_units,
    release_return_units,
    reserved_units,
)
from app.services.returns.shopify_mirror import (
    ReturnMirrorWorker,
    ShopifyGraphQL,
)
from app.services.returns.transitions import approve_return, cancel_return, decline_return
from app.shopify.documents.returns import RETURN_APPROVE, RETURN_REQUEST, RETURNABLE_FULFILLMENTS
from tests.factories import make_order, make_return, make_tenant
from tests.returns.builders import create, line, return_input, shop_order


async def connect(tenant_id: str) -> None:
    await ShopifyIntegration(
        tenant_id=tenant_id, shop_domain=f"{tenant_id}.myshopify.com", access_token="x"
    ).insert()


class FakeShopify:
    """Just enough of the Admin API for request + approve; `returnRequest` can be held open."""

    def __init__(self, line_id: str) -> None:
        self.line_id = line_id
        self.requests = 0
        self.approvals = 0
        self.inside_request = asyncio.Event()
        self.finish_request = asyncio.Event()
        self.finish_request.set()
        self.on_returnable: Any = None
        self.on_request: Any = None

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        if query == RETURNABLE_FULFILLMENTS:
            if self.on_returnable is not None:
                await self.on_returnable()
            item = {
                "quantity": 5,
                "fulfillmentLineItem": {
                    "id": "gid://shopify/FulfillmentLineItem/1",
                    "lineItem": {"id": f"gid://shopify/LineItem/{self.line_id}"},
                },
            }
            return {
                "returnableFulfillments": {
                    "nodes": [{"returnableFulfillmentLineItems": {"nodes": [item]}}],
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                }
            }
        if query == RETURN_REQUEST:
            self.requests += 1
            number = self.requests
            self.inside_request.set()
            if self.on_request is not None:
                await self.on_request()
            await self.finish_request.wait()
            created = {"id": f"gid://shopify/Return/{number}", "status": "REQUESTED"}
            return {"returnRequest": {"return": created, "userErrors": []}}
        if query == RETURN_APPROVE:
            self.approvals += 1
            approved = {"id": variables["input"]["id"], "status": "OPEN"}
            return {"returnApproveRequest": {"return": approved, "userErrors": []}}
        raise AssertionError(f"unexpected query {query}")


async def pending_request(db: Database) -> tuple[Return, FakeShopify]:
    """A connected tenant's new return whose `request` has not reached Shopify yet."""
    tenant = await make_tenant("shop")
    await connect(tenant.id)
    order = await make_order(tenant.id, 1)
    record = await make_return(order)
    await Return.get_pymongo_collection().update_one(
        {"_id": record.id},
        {"$set": {"shopify_sync": {"status": "pending", "action": "request", "attempts": 0}}},
    )
    return record, FakeShopify(order.line_items[0].id)


def worker(name: str, api: FakeShopify) -> ReturnMirrorWorker:
    async def client_for(tenant_id: str) -> ShopifyGraphQL | None:
        return api

    return ReturnMirrorWorker(name, client_for)


async def stored(record: Return) -> Return:
    found = await Return.get(record.id)
    assert found is not None
    return found


async def test_a_decision_during_a_push_does_not_free_the_lease(db: Database) -> None:
    record, api = await pending_request(db)
    api.finish_request.clear()
    first = asyncio.create_task(worker("worker-a", api).run_once())
    await asyncio.wait_for(api.inside_request.wait(), 5)

    # The merchant approves while worker A is inside `returnRequest`.
    approved = await approve_return(record.tenant_id, str(record.id), "staff:1")
    assert approved.record is not None and approved.record.status is ReturnStatus.APPROVED
    sync = (await stored(record)).shopify_sync
    assert sync is not None and (sync.status, sync.action, sync.attempts) == (
        "pending",
        "approve",
        0,
    )
    assert sync.lease_owner == "worker-a" and sync.lease_expires_at is not None

    second = worker("worker-b", api)
    assert await second.run_once() is False  # A still holds the lease: nothing to claim

    api.finish_request.set()
    assert await asyncio.wait_for(first, 5) is True
    # A's settle saw the newer decision: it left the sync pending and dropped its lease at once.
    after_a = await stored(record)
    assert after_a.shopify_return_id == "gid://shopify/Return/1"
    assert after_a.shopify_sync is not None and after_a.shopify_sync.status == "pending"
    assert after_a.shopify_sync.lease_expires_at is None

    assert await second.run_once() is True  # picks up the approval without waiting
    final = await stored(record)
    assert final.shopify_sync is not None and final.shopify_sync.status == "synced"
    assert final.shopify_return_id == "gid://shopify/Return/1"
    assert final.shopify_applied == ["request", "approve"]
    assert (api.requests, api.approvals) == (1, 1)


async def test_an_id_recorded_meanwhile_is_used_not_requested_again(db: Database) -> None:
    record, api = await pending_request(db)

    async def other_attempt_recorded_it() -> None:
        await Return.get_pymongo_collection().update_one(
            {"_id": record.id},
            {
                "$set": {"shopify_return_id": "gid://shopify/Return/other"},
                "$addToSet": {"shopify_applied": "request"},
            },
        )

    api.on_returnable = other_attempt_recorded_it
    assert await worker("worker-a", api).run_once() is True
    final = await stored(record)
    assert api.requests == 0
    assert final.shopify_return_id == "gid://shopify/Return/other"
    assert final.shopify_sync is not None and final.shopify_sync.status == "synced"


async def test_a_request_never_overwrites_a_recorded_shopify_id(db: Database) -> None:
    record, api = await pending_request(db)

    async def other_attempt_recorded_it() -> None:
        await Return.get_pymongo_collection().update_one(
            {"_id": record.id}, {"$set": {"shopify_return_id": "gid://shopify/Return/other"}}
        )

    api.on_request = other_attempt_recorded_it  # after our re-read, before our answer
    assert await worker("worker-a", api).run_once() is True
    final = await stored(record)
    assert final.shopify_return_id == "gid://shopify/Return/other"
    assert final.shopify_sync is not None and final.shopify_sync.status == "pending"
    assert "duplicate" in (final.shopify_sync.error or "")


async def test_a_decision_on_a_return_without_a_sync_records_a_whole_intent(db: Database) -> None:
    tenant = await make_tenant("shop")
    record = await make_return(await make_order(tenant.id, 1))  # before the integration existed
    await connect(tenant.id)
    result = await approve_return(tenant.id, str(record.id), "staff:1")
    assert result.record is not None and result.record.shopify_sync is not None
    sync = result.record.shopify_sync
    assert (sync.status, sync.action, sync.attempts, sync.lease_owner) == (
        "pending",
        "approve",
        0,
        None,
    )


async def test_a_decision_after_a_failed_push_is_claimed_without_the_back_off(
    db: Database,
) -> None:
    record, api = await pending_request(db)

    async def not_connected(tenant_id: str) -> ShopifyGraphQL | None:
        return None

    failing = ReturnMirrorWorker("worker-a", not_connected)
    assert await failing.run_once() is True
    assert await failing.run_once() is False  # backing off
    assert (await approve_return(record.tenant_id, str(record.id), "staff:1")).record is not None
    assert await worker("worker-b", api).run_once() is True  # the new decision goes now
    final = await stored(record)
    assert final.shopify_sync is not None and final.shopify_sync.status == "synced"
    assert (api.requests, api.approvals) == (1, 1)


# Ledger release ------------------------------------------------------------------------------
async def reserved_return(client: httpx.AsyncClient) -> tuple[str, Order, str]:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(2)])
    created = await create(client, tenant.id, return_input(order))
    assert created["return"] is not None
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 1}
    return tenant.id, order, str(created["return"]["id"])


async def test_a_crash_before_the_release_is_finished_by_the_sweeper(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, order, return_id = await reserved_return(client)

    async def crash(*args: Any) -> bool:
        raise RuntimeError("process died between the status update and the release")

    with monkeypatch.context() as patch:
        patch.setattr("app.services.returns.transitions.release_return_units", crash)
        with pytest.raises(RuntimeError):
            await cancel_return(tenant_id, return_id, "staff:1")
    record = await Return.find_one({"tenant_id": tenant_id})
    assert record is not None and record.status is ReturnStatus.CANCELED
    assert record.ledger_release_pending is True
    line_id = order.line_items[0].id
    assert await reserved_units(tenant_id, order.order_number) == {line_id: 1}

    assert await release_pending_units() == 0  # too recent: the request may still release it
    await Return.get_pymongo_collection().update_one(
        {"_id": record.id}, {"$set": {"updated_at": utcnow() - timedelta(minutes=2)}}
    )
    assert await LedgerReleaseSweeper().run_once() is False
    assert await reserved_units(tenant_id, order.order_number) == {line_id: 0}
    assert await release_pending_units() == 0  # done once, never again
    assert await reserved_units(tenant_id, order.order_number) == {line_id: 0}


async def test_the_status_update_marks_the_release_and_it_happens_once(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, order, return_id = await reserved_return(client)
    marked: list[bool] = []
    original = release_return_units

    async def observe(return_id: Any, tenant: str) -> bool:
        raw = await Return.get_pymongo_collection().find_one({"_id": return_id})
        assert raw is not None
        marked.append(bool(raw.get("ledger_release_pending")))
        # Two releases racing: exactly one gives the units back.
        results = await asyncio.gather(original(return_id, tenant), original(return_id, tenant))
        assert sorted(results) == [False, True]
        return True

    monkeypatch.setattr("app.services.returns.transitions.release_return_units", observe)
    declined = await decline_return(tenant_id, return_id, "staff:1", "Worn")
    assert declined.record is not None and declined.record.status is ReturnStatus.DECLINED
    assert marked == [True]
    assert await reserved_units(tenant_id, order.order_number) == {order.line_items[0].id: 0}
    raw = await Return.get_pymongo_collection().find_one({"tenant_id": tenant_id})
    assert raw is not None and raw["ledger_release_pending"] is False


# createReturn interrupted ----------------------------------------------------------------------
def request_for(order: Order) -> ReturnRequest:
    return ReturnRequest(
        order_id=order.shopify_id,
        customer_email=order.email or "",
        return_method=ReturnMethod.CUSTOMER_SHIPS,
        resolution_type=ResolutionType.REFUND,
        items=[RequestedItem(order.line_items[0].id, 1, ReturnReason.DEFECTIVE)],
    )


@pytest.mark.parametrize("applied", [True, False])
async def test_an_interrupted_create_leaves_neither_the_return_nor_its_units(
    db: Database, monkeypatch: pytest.MonkeyPatch, applied: bool
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001, [line(2)])
    original = Return.insert

    async def interrupted(self: Return, *args: Any, **kwargs: Any) -> Return:
        if applied:
            await original(self, *args, **kwargs)  # written inside the transaction, uncommitted
        raise asyncio.CancelledError

    monkeypatch.setattr(Return, "insert", interrupted)
    with pytest.raises(asyncio.CancelledError):
        await create_return(tenant.id, request_for(order), "203.0.113.9")
    count = await Return.get_pymongo_collection().count_documents({"tenant_id": tenant.id})
    assert count == 0
    held = await reserved_units(tenant.id, order.order_number)
    assert held.get(order.line_items[0].id, 0) == 0
    monkeypatch.setattr(Return, "insert", original)
    retried = await create_return(tenant.id, request_for(order), "203.0.113.9")
    assert retried.record is not None and not retried.user_errors
    assert await reserved_units(tenant.id, order.order_number) == {order.line_items[0].id: 1}


# Indexes -----------------------------------------------------------------------------------
async def test_ledger_queries_have_covering_indexes(db: Database) -> None:
    info = await Return.get_pymongo_collection().index_information()
    keys = {name: [field for field, _ in spec["key"]] for name, spec in info.items()}
    assert ["tenant_id", "order_number", "status", "ledger_reserved"] in keys.values()
    pending = [name for name, fields in keys.items() if fields[0] == "ledger_release_pending"]
    assert len(pending) == 1
    assert info[pending[0]]["partialFilterExpression"] == {"ledger_release_pending": True}
