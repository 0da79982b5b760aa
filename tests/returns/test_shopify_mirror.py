"""Mirroring to Shopify: the intent is recorded with the decision and never blocks it."""

from __future__ import annotations

import httpx
import pytest

from app.db import Database
from app.models import Return, ShopifyIntegration
from app.models.return_request import ReturnStatus
from app.services.returns.shopify_mirror import (
    MirrorAction,
    ReturnMirrorWorker,
    ShopifyGraphQL,
    plan_steps,
)
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers
from tests.returns.builders import create, return_input, shop_order


async def connect(tenant_id: str) -> None:
    await ShopifyIntegration(
        tenant_id=tenant_id, shop_domain=f"{tenant_id}.myshopify.com", access_token="x"
    ).insert()


async def test_plan_brings_shopify_to_our_status(db: Database) -> None:
    tenant = await make_tenant("shop")
    record = await make_return(await make_order(tenant.id, 1), status=ReturnStatus.RESOLVED)
    assert plan_steps(record) == [MirrorAction.REQUEST, MirrorAction.APPROVE, MirrorAction.PROCESS]
    record.shopify_return_id = "gid://shopify/Return/1"
    record.shopify_applied = ["request", "approve"]
    assert plan_steps(record) == [MirrorAction.PROCESS]
    record.status = ReturnStatus.CANCELED
    record.shopify_return_id = None
    assert plan_steps(record) == []


async def test_no_intent_without_a_connected_integration(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.shopify_sync is None


async def test_decisions_record_a_pending_sync_and_still_succeed(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    await connect(tenant.id)
    headers = await merchant_headers(tenant.id)
    order = await shop_order(tenant.id, 1001)
    created = await create(client, tenant.id, return_input(order))
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.shopify_sync is not None
    assert (stored.shopify_sync.status, stored.shopify_sync.action) == ("pending", "request")
    body = await graphql(
        client,
        """mutation($id: ID!) { approveReturn(id: $id) { return { status
            shopifySync { status action } } userErrors { code } } }""",
        {"id": created["return"]["id"]},
        headers,
    )
    approved = body["data"]["approveReturn"]["return"]
    assert approved == {
        "status": "APPROVED",
        "shopifySync": {"status": "PENDING", "action": "approve"},
    }


async def test_worker_records_failure_without_touching_the_decision(db: Database) -> None:
    tenant = await make_tenant("shop")
    await connect(tenant.id)
    record = await make_return(await make_order(tenant.id, 1), status=ReturnStatus.APPROVED)
    await Return.get_pymongo_collection().update_one(
        {"_id": record.id},
        {"$set": {"shopify_sync": {"status": "pending", "action": "approve", "attempts": 0}}},
    )

    async def not_connected(tenant_id: str) -> ShopifyGraphQL | None:
        return None

    worker = ReturnMirrorWorker("test-worker", not_connected)
    assert await worker.run_once() is True
    assert await worker.run_once() is False  # leased / backing off: not picked again at once
    stored = await Return.get(record.id)
    assert stored is not None and stored.status is ReturnStatus.APPROVED
    assert stored.shopify_sync is not None
    assert stored.shopify_sync.status == "pending"
    assert stored.shopify_sync.attempts == 1
    assert stored.shopify_sync.error == "Shopify integration is not connected"


@pytest.mark.skip(
    reason="later: needs an integration installed in our DB against the simulator "
    "(install flow owned by another engineer); then run ReturnMirrorWorker via mirror_workers "
    "and assert the simulator's return goes REQUESTED -> OPEN"
)
async def test_worker_mirrors_to_the_simulator() -> None:
    raise AssertionError("not written yet")
