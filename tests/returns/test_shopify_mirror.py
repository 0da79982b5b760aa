"""Mirroring to Shopify: the intent is recorded with the decision and never blocks it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.jobs.returns_mirror import workers as mirror_workers
from app.jobs.runner import BackgroundRunner
from app.models import Order, Return, ShopifyIntegration
from app.models.return_request import ReturnStatus
from app.services.integration.session import admin_client_for
from app.services.returns import shopify_mirror
from app.services.returns.shopify_mirror import (
    MirrorAction,
    ReturnMirrorWorker,
    ShopifyGraphQL,
    claimable,
    mirror_intent,
    plan_steps,
)
from app.shopify.documents.returns import RETURN_REQUEST, RETURNABLE_FULFILLMENTS
from tests.factories import (
    graphql,
    index_keys,
    make_order,
    make_return,
    make_tenant,
    merchant_headers,
)
from tests.returns.builders import (
    SimTenant,
    connect_sim_tenant,
    create,
    return_input,
    returnable_variants,
    shop_order,
    sim_returns,
    sim_settings,
    sim_synced_order,
)
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """Every test here runs the app pointed at the simulator."""
    return sim_settings(mongo_uri, simulator)


DECISIONS = {
    "approve": "approveReturn(id: $id)",
    "decline": 'declineReturn(id: $id, reason: "Worn")',
    "receive": "markReturnReceived(id: $id)",
    "resolve": "resolveReturn(id: $id)",
    "cancel": "cancelReturn(id: $id)",
}


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], action: str, return_id: str
) -> dict[str, Any]:
    """A merchant decision through GraphQL; asserts it succeeded and returns the return."""
    body = await graphql(
        client,
        f"""mutation($id: ID!) {{ {DECISIONS[action]} {{
            return {{ id status shopifyReturnId shopifySync {{ status action error }} }}
            userErrors {{ code message }} }} }}""",
        {"id": return_id},
        headers,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload
    found: dict[str, Any] = payload["return"]
    return found


async def run_mirror(settings: Settings, http: httpx.AsyncClient) -> int:
    """Run one mirror worker (as the job registry wires it) until nothing is claimable."""
    worker = next(
        found
        for found in mirror_workers(settings, http, "test-mirror")
        if isinstance(found, ReturnMirrorWorker)
    )
    runs = 0
    while await worker.run_once():
        runs += 1
    return runs


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


async def _approved_waiting_for_the_mirror() -> Return:
    """An approved return of a connected tenant, its approval queued for the mirror."""
    tenant = await make_tenant("shop")
    await connect(tenant.id)
    record = await make_return(await make_order(tenant.id, 1), status=ReturnStatus.APPROVED)
    await Return.get_pymongo_collection().update_one(
        {"_id": record.id},
        {"$set": {"shopify_sync": {"status": "pending", "action": "approve", "attempts": 0}}},
    )
    return record


async def not_connected(tenant_id: str) -> ShopifyGraphQL | None:
    """A client factory that finds the integration disconnected."""
    return None


async def test_worker_records_failure_without_touching_the_decision(db: Database) -> None:
    record = await _approved_waiting_for_the_mirror()

    worker = ReturnMirrorWorker("test-worker", not_connected)
    assert await worker.run_once() is True
    assert await worker.run_once() is False  # leased / backing off: not picked again at once
    stored = await Return.get(record.id)
    assert stored is not None and stored.status is ReturnStatus.APPROVED
    assert stored.shopify_sync is not None
    assert stored.shopify_sync.status == "pending"
    assert stored.shopify_sync.attempts == 1
    assert stored.shopify_sync.error == "Shopify integration is not connected"


async def test_approval_is_mirrored_to_the_simulator(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    [variant] = returnable_variants(simulator, tenant.domain)
    order = await sim_synced_order(
        sim_control, settings, sim_http, tenant, [{"variant_id": variant, "quantity": 2}]
    )
    headers = await merchant_headers(tenant.tenant_id)
    created = await create(client, tenant.tenant_id, return_input(order))
    assert created["userErrors"] == [] and created["return"] is not None
    return_id = created["return"]["id"]
    approved = await decide(client, headers, "approve", return_id)
    assert approved["status"] == "APPROVED"

    await run_mirror(settings, sim_http)

    stored = await Return.find_one({"tenant_id": tenant.tenant_id})
    assert stored is not None and stored.shopify_sync is not None
    assert stored.shopify_sync.status == "synced", stored.shopify_sync
    assert stored.shopify_return_id is not None
    [mirrored] = await sim_returns(sim_control, tenant.domain)
    assert mirrored["id"] == stored.shopify_return_id
    assert mirrored["status"] == "OPEN"
    assert mirrored["order_id"] == order.admin_graphql_api_id
    assert [(line["line_item_id"], line["quantity"]) for line in mirrored["line_items"]] == [
        (f"gid://shopify/LineItem/{order.line_items[0].id}", 1)
    ]


RETURN_ON_SHOPIFY = """
query ($id: ID!) { return(id: $id) { id status totalQuantity decline { reason note }
  returnLineItems(first: 10) { nodes { quantity processedQuantity returnReason } } } }
"""


async def shopify_view(control: SimulatorControl, tenant: SimTenant, gid: str) -> dict[str, Any]:
    """A return as Shopify's Admin GraphQL `return(id)` shows it."""
    response = await control.graphql(tenant.shop, RETURN_ON_SHOPIFY, {"id": gid})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["data"]["return"]
    return found


async def stored_return(return_id: str) -> Return:
    found = await Return.get(PydanticObjectId(return_id))
    assert found is not None and found.shopify_sync is not None
    return found


async def make_retry_due(return_id: str) -> None:
    """Time passes: the failed push's back-off is over."""
    await Return.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(return_id)},
        {"$set": {"shopify_sync.lease_expires_at": utcnow() - timedelta(seconds=1)}},
    )


async def file_returns(
    client: httpx.AsyncClient, tenant: SimTenant, order: Order, count: int
) -> list[str]:
    """One customer return (portal) per line of `order`, for the first `count` lines."""
    ids = []
    for item in order.line_items[:count]:
        created = await create(client, tenant.tenant_id, return_input(order, [(item.id, 1)]))
        assert created["userErrors"] == [] and created["return"] is not None, created
        ids.append(str(created["return"]["id"]))
    return ids


async def test_every_decision_reaches_shopify(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain, 4)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    declined, resolved, canceled, withdrawn = await file_returns(client, tenant, order, 4)

    # Decided before the worker ever ran: request + decision in one push.
    await decide(client, headers, "decline", declined)
    for action in ("approve", "receive", "resolve"):
        await decide(client, headers, action, resolved)
    await decide(client, headers, "cancel", withdrawn)
    await decide(client, headers, "approve", canceled)
    await run_mirror(settings, sim_http)
    # Canceled after Shopify saw it approved.
    after = await decide(client, headers, "cancel", canceled)
    assert after["shopifySync"] == {"status": "PENDING", "action": "cancel", "error": None}
    await run_mirror(settings, sim_http)

    expected = {declined: "DECLINED", resolved: "CLOSED", canceled: "CANCELED"}
    for return_id, status in expected.items():
        record = await stored_return(return_id)
        assert record.shopify_sync is not None and record.shopify_sync.status == "synced"
        assert record.shopify_sync.error is None
        assert record.shopify_return_id is not None
        view = await shopify_view(sim_control, tenant, record.shopify_return_id)
        assert view["status"] == status, (return_id, view)
    declined_view = await shopify_view(
        sim_control, tenant, (await stored_return(declined)).shopify_return_id or ""
    )
    assert declined_view["decline"] == {"reason": "OTHER", "note": "Worn"}
    resolved_view = await shopify_view(
        sim_control, tenant, (await stored_return(resolved)).shopify_return_id or ""
    )
    assert resolved_view["returnLineItems"]["nodes"] == [
        {"quantity": 1, "processedQuantity": 1, "returnReason": "DEFECTIVE"}
    ]
    # Withdrawn before Shopify heard of it: nothing to mirror, nothing created.
    record = await stored_return(withdrawn)
    assert record.shopify_return_id is None and record.shopify_sync is not None
    assert record.shopify_sync.status == "synced"
    assert len(await sim_returns(sim_control, tenant.domain)) == 3


async def test_shopify_outage_delays_the_mirror_but_not_the_decision(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    [return_id] = await file_returns(client, tenant, order, 1)
    await sim_control.set_faults(tenant.domain, error_rate=1.0, error_status=503)

    approved = await decide(client, headers, "approve", return_id)
    assert approved["status"] == "APPROVED"
    assert await run_mirror(settings, sim_http) == 1  # tried once, then backs off

    record = await stored_return(return_id)
    assert record.status is ReturnStatus.APPROVED
    sync = record.shopify_sync
    assert sync is not None and sync.status == "pending" and sync.attempts == 1
    assert sync.error is not None and "503" in sync.error
    assert sync.lease_expires_at is not None and sync.lease_expires_at > utcnow()
    assert record.shopify_return_id is None
    state = await sim_control.shop_state(tenant.domain)
    assert state["counters"]["faults_5xx"] >= 1 and state["returns"] == []

    await sim_control.reset_faults(tenant.domain)
    assert await run_mirror(settings, sim_http) == 0  # not due yet
    await make_retry_due(return_id)
    assert await run_mirror(settings, sim_http) == 1

    record = await stored_return(return_id)
    assert record.shopify_sync is not None
    assert (record.shopify_sync.status, record.shopify_sync.error) == ("synced", None)
    assert record.shopify_sync.attempts == 2
    [mirrored] = await sim_returns(sim_control, tenant.domain)
    assert (mirrored["id"], mirrored["status"]) == (record.shopify_return_id, "OPEN")


REQUEST_ON_SHOPIFY = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status } userErrors { message } } }
"""
APPROVE_ON_SHOPIFY = """
mutation ($id: ID!) { returnApproveRequest(input: {id: $id}) {
  return { id status } userErrors { message } } }
"""


async def test_a_line_shopify_will_not_return_is_a_recorded_failure(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    [return_id] = await file_returns(client, tenant, order, 1)
    # The unit was already returned in Shopify's admin: Shopify has nothing left to return.
    response = await sim_control.graphql(
        tenant.shop,
        REQUEST_ON_SHOPIFY,
        {
            "input": {
                "orderId": order.admin_graphql_api_id,
                "returnLineItems": [
                    {
                        "lineItemId": f"gid://shopify/LineItem/{order.line_items[0].id}",
                        "quantity": 1,
                    }
                ],
            }
        },
    )
    assert response.json()["data"]["returnRequest"]["userErrors"] == []

    await decide(client, headers, "approve", return_id)
    assert await run_mirror(settings, sim_http) == 1

    record = await stored_return(return_id)
    assert record.status is ReturnStatus.APPROVED and record.shopify_return_id is None
    assert record.shopify_sync is not None and record.shopify_sync.status == "failed"
    assert record.shopify_sync.error == (
        f"line item {order.line_items[0].id} is not returnable on Shopify (0 of 1 returnable)"
    )
    assert len(await sim_returns(sim_control, tenant.domain)) == 1  # only the admin's


async def test_shopify_user_errors_are_a_recorded_failure(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    [return_id] = await file_returns(client, tenant, order, 1)
    await run_mirror(settings, sim_http)  # Shopify now holds the request
    record = await stored_return(return_id)
    assert record.shopify_return_id is not None
    # Someone approves it in Shopify's admin; the merchant declines it in ours.
    response = await sim_control.graphql(
        tenant.shop, APPROVE_ON_SHOPIFY, {"id": record.shopify_return_id}
    )
    assert response.json()["data"]["returnApproveRequest"]["userErrors"] == []
    declined = await decide(client, headers, "decline", return_id)
    assert declined["status"] == "DECLINED"

    assert await run_mirror(settings, sim_http) == 1

    record = await stored_return(return_id)
    assert record.status is ReturnStatus.DECLINED
    assert record.shopify_sync is not None and record.shopify_sync.status == "failed"
    assert record.shopify_sync.error == (
        "returnDeclineRequest: Return is not declined. "
        "Only returns with status REQUESTED can be declined."
    )
    view = await shopify_view(sim_control, tenant, record.shopify_return_id or "")
    assert view["status"] == "OPEN"
    assert await run_mirror(settings, sim_http) == 0  # not retried: the answer would not change


async def test_a_step_shopify_already_took_counts_as_done(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    [return_id] = await file_returns(client, tenant, order, 1)
    await run_mirror(settings, sim_http)
    record = await stored_return(return_id)
    assert record.shopify_return_id is not None
    # As if an earlier approve reached Shopify but its answer was lost.
    response = await sim_control.graphql(
        tenant.shop, APPROVE_ON_SHOPIFY, {"id": record.shopify_return_id}
    )
    assert response.json()["data"]["returnApproveRequest"]["userErrors"] == []
    await decide(client, headers, "approve", return_id)

    assert await run_mirror(settings, sim_http) == 1

    record = await stored_return(return_id)
    assert record.shopify_sync is not None
    assert (record.shopify_sync.status, record.shopify_sync.error) == ("synced", None)
    assert record.shopify_applied == ["request", "approve"]
    view = await shopify_view(sim_control, tenant, record.shopify_return_id or "")
    assert view["status"] == "OPEN"


class _AnswerLost:
    """An Admin client whose first `returnRequest` reaches Shopify but whose answer is lost (a
    timeout after Shopify applied it, or the worker dying before it records the id)."""

    def __init__(self, inner: ShopifyGraphQL) -> None:
        self.inner = inner
        self.lost = False

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        data = await self.inner.execute(query, variables, may_repeat=may_repeat)
        if query is RETURN_REQUEST and not self.lost:
            self.lost = True
            raise httpx.ReadTimeout("the answer to returnRequest never arrived")
        return data


async def test_a_request_whose_answer_was_lost_is_adopted_not_sent_again(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    headers = await merchant_headers(tenant.tenant_id)
    [return_id] = await file_returns(client, tenant, order, 1)
    await decide(client, headers, "approve", return_id)
    clients: list[_AnswerLost] = []

    async def client_for(tenant_id: str) -> ShopifyGraphQL:
        if not clients:
            clients.append(_AnswerLost(await admin_client_for(tenant_id, settings, sim_http)))
        return clients[0]

    worker = ReturnMirrorWorker("lost-answer", client_for)
    assert await worker.run_once()
    record = await stored_return(return_id)
    assert record.shopify_return_id is None and record.shopify_sync is not None
    assert record.shopify_sync.status == "pending"  # a timeout is retried
    await make_retry_due(return_id)
    assert await worker.run_once()

    record = await stored_return(return_id)
    assert record.shopify_sync is not None
    assert (record.shopify_sync.status, record.shopify_sync.error) == ("synced", None)
    on_shopify = [r for r in await sim_returns(sim_control, tenant.domain)]
    assert len(on_shopify) == 1, on_shopify
    assert record.shopify_return_id == on_shopify[0]["id"]
    view = await shopify_view(sim_control, tenant, record.shopify_return_id or "")
    assert view["status"] == "OPEN"


def direct(
    settings: Settings, http: httpx.AsyncClient
) -> Callable[[str], Awaitable[ShopifyGraphQL]]:
    """A mirror worker's client factory: the shop's Admin client, straight to the simulator."""

    async def client_for(tenant_id: str) -> ShopifyGraphQL:
        return await admin_client_for(tenant_id, settings, http)

    return client_for


def serving(api: Any) -> Callable[[str], Awaitable[ShopifyGraphQL]]:
    """A mirror worker's client factory that always hands out `api` (a wrapped client)."""

    async def client_for(tenant_id: str) -> ShopifyGraphQL:
        served: ShopifyGraphQL = api
        return served

    return client_for


class HeldCall:
    """An Admin client whose `held` document (`returnRequest` unless told) waits to be let
    through: a worker whose call is still on its way to Shopify (its lease may run out
    meanwhile)."""

    def __init__(self, inner: ShopifyGraphQL, held: str = RETURN_REQUEST) -> None:
        self.inner = inner
        self.held = held
        self.sending = asyncio.Event()
        self.let_through = asyncio.Event()

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        if query is self.held:
            self.sending.set()
            await self.let_through.wait()
        return await self.inner.execute(query, variables, may_repeat=may_repeat)


async def test_a_request_still_on_its_way_is_not_sent_again_by_the_next_lease_holder(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """A worker's lease ran out while its returnRequest waited for Shopify; the worker that
    takes the return over finds the request recorded and nothing on Shopify yet. Sending one
    too made two Shopify returns of the same units (one then adopted here as a second return:
    a chaos run's 'ledger 2 < 3 in active returns'). It waits for the first instead."""
    tenant, return_id = await _sim_return(client, settings, simulator, sim_control, sim_http)
    held = HeldCall(await admin_client_for(tenant.tenant_id, settings, sim_http))

    held_client = serving(held)

    direct_client = direct(settings, sim_http)

    first = asyncio.create_task(ReturnMirrorWorker("slow", held_client).run_once())
    await asyncio.wait_for(held.sending.wait(), 10)
    await make_retry_due(return_id)  # the slow worker's lease runs out
    assert await ReturnMirrorWorker("next", direct_client).run_once()
    assert await sim_returns(sim_control, tenant.domain) == []
    record = await stored_return(return_id)
    assert record.shopify_sync is not None and record.shopify_sync.status == "pending"
    assert "never sent twice" in (record.shopify_sync.error or "")
    assert record.shopify_sync.attempts == 1  # waiting is no failure: the attempt is given back

    held.let_through.set()
    await first
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    await make_retry_due(return_id)
    await ReturnMirrorWorker("next", direct_client).run_once()
    record = await stored_return(return_id)
    assert record.shopify_return_id == on_shopify["id"]
    assert record.shopify_sync is not None and record.shopify_sync.status == "synced"
    assert len(await sim_returns(sim_control, tenant.domain)) == 1


async def test_a_request_recorded_but_never_sent_is_sent_once_it_cannot_be_on_its_way(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """The lines were recorded, then the worker or the database died before the request went
    out: Shopify has nothing. Once `SEND_IN_FLIGHT` has passed no earlier send can still
    arrive, and the request is sent (it is not waited for forever)."""
    tenant, return_id = await _sim_return(client, settings, simulator, sim_control, sim_http)
    recorded_at = utcnow() - shopify_mirror.SEND_IN_FLIGHT - timedelta(seconds=1)
    await Return.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(return_id)},
        {
            "$set": {
                "shopify_requested_lines": [
                    {
                        "fulfillment_line_item_id": "gid://shopify/FulfillmentLineItem/1",
                        "quantity": 1,
                    }
                ],
                "shopify_requested_at": recorded_at,
            }
        },
    )

    direct_client = direct(settings, sim_http)

    assert await ReturnMirrorWorker("after-crash", direct_client).run_once()
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    record = await stored_return(return_id)
    assert record.shopify_return_id == on_shopify["id"]
    assert record.shopify_sync is not None and record.shopify_sync.status == "synced"


class _HeldQuery(HeldCall):
    """An Admin client whose reads of what the order still has to return wait to be let
    through: a worker stalled before it records its request (its lease may run out)."""

    def __init__(self, inner: ShopifyGraphQL) -> None:
        super().__init__(inner)
        self.requests_sent = 0

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        if query is RETURNABLE_FULFILLMENTS:
            self.sending.set()
            await self.let_through.wait()
        if query is RETURN_REQUEST:
            self.requests_sent += 1
        return await self.inner.execute(query, variables, may_repeat=may_repeat)


async def _sim_return(
    client: httpx.AsyncClient,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> tuple[SimTenant, str]:
    """A tenant on a simulator shop and one requested return of a one-unit order line."""
    tenant = await connect_sim_tenant(sim_control, settings)
    lines = [
        {"variant_id": v, "quantity": 1} for v in returnable_variants(simulator, tenant.domain)
    ]
    order = await sim_synced_order(sim_control, settings, sim_http, tenant, lines)
    [return_id] = await file_returns(client, tenant, order, 1)
    return tenant, return_id


async def test_a_worker_whose_lease_ran_out_before_it_recorded_its_request_sends_none(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """Stalled between looking for an earlier request and recording its own, a worker lost its
    lease; the next one recorded its request and is waiting for Shopify's answer. The first
    one's record (and so its send) is refused: one request, one Shopify return."""
    tenant, return_id = await _sim_return(client, settings, simulator, sim_control, sim_http)
    stalled = _HeldQuery(await admin_client_for(tenant.tenant_id, settings, sim_http))
    sending = HeldCall(await admin_client_for(tenant.tenant_id, settings, sim_http))

    stalled_client = serving(stalled)

    sending_client = serving(sending)

    first = asyncio.create_task(ReturnMirrorWorker("stalled", stalled_client).run_once())
    await asyncio.wait_for(stalled.sending.wait(), 10)
    await make_retry_due(return_id)  # the stalled worker's lease runs out
    second = asyncio.create_task(ReturnMirrorWorker("next", sending_client).run_once())
    await asyncio.wait_for(sending.sending.wait(), 10)  # recorded, on its way
    stalled.let_through.set()
    await first
    assert stalled.requests_sent == 0
    sending.let_through.set()
    await second
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    record = await stored_return(return_id)
    assert record.shopify_return_id == on_shopify["id"]


async def test_a_return_canceled_while_its_request_is_on_its_way_is_canceled_on_shopify(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """The customer canceled while the request waited for Shopify (the worker's lease ran
    out). The next worker neither settles it as never sent nor sends one: it waits, then finds
    the Shopify return the request made and cancels it there, so no Shopify return keeps
    units our ledger gave back (and none is adopted as a second return)."""
    tenant, return_id = await _sim_return(client, settings, simulator, sim_control, sim_http)
    headers = await merchant_headers(tenant.tenant_id)
    held = HeldCall(await admin_client_for(tenant.tenant_id, settings, sim_http))

    held_client = serving(held)

    direct_client = direct(settings, sim_http)

    first = asyncio.create_task(ReturnMirrorWorker("slow", held_client).run_once())
    await asyncio.wait_for(held.sending.wait(), 10)
    await decide(client, headers, "cancel", return_id)
    await make_retry_due(return_id)
    assert await ReturnMirrorWorker("next", direct_client).run_once()
    record = await stored_return(return_id)
    assert record.shopify_sync is not None and record.shopify_sync.status == "pending"
    assert await sim_returns(sim_control, tenant.domain) == []

    held.let_through.set()
    await first
    await make_retry_due(return_id)
    assert await ReturnMirrorWorker("next", direct_client).run_once()
    record = await stored_return(return_id)
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    assert record.shopify_return_id == on_shopify["id"]
    assert record.shopify_sync is not None and record.shopify_sync.status == "synced"
    view = await shopify_view(sim_control, tenant, on_shopify["id"])
    assert view["status"] == "CANCELED"


class _AnswerHeld(HeldCall):
    """An Admin client whose `returnRequest` reaches Shopify at once but whose answer waits to
    be let through: Shopify shows the return before its sender has recorded it."""

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        answer = await self.inner.execute(query, variables, may_repeat=may_repeat)
        if query is RETURN_REQUEST:
            self.sending.set()
            await self.let_through.wait()
        return answer


async def test_a_canceled_return_never_cancels_a_siblings_return_still_being_recorded(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """Two returns of the same unit kind on one order; the first was canceled after recording a
    request that never went out, the second's request reached Shopify and its answer is not
    back yet. The first must not take the second's Shopify return for its own and cancel it."""
    tenant = await connect_sim_tenant(sim_control, settings)
    [variant] = returnable_variants(simulator, tenant.domain, 1)
    order = await sim_synced_order(
        sim_control, settings, sim_http, tenant, [{"variant_id": variant, "quantity": 2}]
    )
    headers = await merchant_headers(tenant.tenant_id)
    line = order.line_items[0].id
    canceled, active = [
        str(
            (await create(client, tenant.tenant_id, return_input(order, [(line, 1)])))["return"][
                "id"
            ]
        )
        for _ in range(2)
    ]
    answering = _AnswerHeld(await admin_client_for(tenant.tenant_id, settings, sim_http))

    answering_client = serving(answering)

    direct_client = direct(settings, sim_http)

    # Both are claimable; hold the canceled one back while the active one is pushed.
    await Return.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(canceled)},
        {
            "$set": {
                "shopify_sync.lease_owner": "elsewhere",
                "shopify_sync.lease_expires_at": utcnow() + timedelta(minutes=5),
            }
        },
    )
    sibling = asyncio.create_task(ReturnMirrorWorker("sibling", answering_client).run_once())
    await asyncio.wait_for(answering.sending.wait(), 10)
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    sent = (await stored_return(active)).shopify_requested_lines
    assert sent  # the sibling's request, recorded before it went out
    await decide(client, headers, "cancel", canceled)
    await Return.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(canceled)},
        {
            "$set": {
                "shopify_requested_lines": [line.model_dump() for line in sent],
                "shopify_requested_at": utcnow() - timedelta(seconds=1),
            }
        },
    )
    await make_retry_due(canceled)
    assert await ReturnMirrorWorker("next", direct_client).run_once()
    record = await stored_return(canceled)
    assert record.shopify_return_id is None
    assert record.shopify_sync is not None and record.shopify_sync.status == "pending"
    assert (await shopify_view(sim_control, tenant, on_shopify["id"]))["status"] == "REQUESTED"

    answering.let_through.set()
    await sibling
    assert (await stored_return(active)).shopify_return_id == on_shopify["id"]


class _Refused:
    """An Admin client to which Shopify answers `returnRequest` with userErrors (nothing made)."""

    def __init__(self, inner: ShopifyGraphQL) -> None:
        self.inner = inner

    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]:
        if query is RETURN_REQUEST:
            error = {"field": ["input"], "message": "Return line items are invalid."}
            return {"returnRequest": {"return": None, "userErrors": [error]}}
        return await self.inner.execute(query, variables, may_repeat=may_repeat)


async def test_a_request_shopify_refused_leaves_nothing_to_wait_for(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    """Shopify answered and made nothing: once staff retry, the request is sent at once (not
    after `SEND_IN_FLIGHT`, as for a request whose answer never came)."""
    tenant, return_id = await _sim_return(client, settings, simulator, sim_control, sim_http)

    async def refusing_client(tenant_id: str) -> ShopifyGraphQL:
        return _Refused(await admin_client_for(tenant_id, settings, sim_http))

    assert await ReturnMirrorWorker("refused", refusing_client).run_once()
    record = await stored_return(return_id)
    assert record.shopify_sync is not None and record.shopify_sync.status == "failed"
    assert record.shopify_requested_lines and record.shopify_requested_at is None

    headers = await merchant_headers(tenant.tenant_id)
    retried = await graphql(
        client,
        "mutation($id: ID!) { retryReturnShopifySync(id: $id) { userErrors { code } } }",
        {"id": return_id},
        headers,
    )
    assert retried["data"]["retryReturnShopifySync"]["userErrors"] == []

    direct_client = direct(settings, sim_http)

    assert await ReturnMirrorWorker("after-fix", direct_client).run_once()
    [on_shopify] = await sim_returns(sim_control, tenant.domain)
    record = await stored_return(return_id)
    assert record.shopify_return_id == on_shopify["id"]


def test_a_send_cannot_outlast_the_wait_for_it() -> None:
    """An attempt waits `SEND_IN_FLIGHT` for an earlier send before sending again: longer than
    one send can take (the Admin client's retries, then the pool, connect, write and read
    timeouts of the last try)."""
    policy = shopify_mirror.MIRROR_RETRY
    longest = policy.max_retry_time + policy.connect_timeout + 3 * policy.read_timeout
    assert shopify_mirror.longest_send() == timedelta(seconds=longest)
    assert shopify_mirror.longest_send() < shopify_mirror.SEND_IN_FLIGHT


async def test_the_registry_runs_several_mirror_workers_each_its_own_lease_owner(
    settings: Settings, sim_http: httpx.AsyncClient
) -> None:
    mirrors = [
        found
        for found in mirror_workers(
            settings.model_copy(update={"returns_mirror_workers": 3}), sim_http, "w1"
        )
        if isinstance(found, ReturnMirrorWorker)
    ]
    assert len(mirrors) == 3
    assert len({worker.worker_id for worker in mirrors}) == 3
    assert len({worker.name for worker in mirrors}) == 3


# Claiming ----------------------------------------------------------------------------------------
PENDING_SYNC_INDEXES = [
    {"shopify_sync.status": 1, "shopify_sync.lease_expires_at": 1},
    {"shopify_sync.attempts": 1, "shopify_sync.lease_owner": 1},
]


@pytest.mark.parametrize("case", [0, 1, 2], ids=["unleased", "lapsed", "requeued"])
async def test_each_claim_filter_reads_the_pending_syncs_through_an_index(
    db: Database, case: int
) -> None:
    """Idle mirror workers poll these all the time: SecantusDB scans the whole collection for a
    filter no index serves (one with a top-level `$or` is one)."""
    plan = await Return.get_pymongo_collection().database.command(
        {
            "explain": {"find": "returns", "filter": claimable(utcnow())[case]},
            "verbosity": "queryPlanner",
        }
    )
    keys = index_keys(plan)
    assert keys and all(dict(key) in PENDING_SYNC_INDEXES for key in keys), plan


async def test_two_workers_claiming_at_once_lease_a_return_once(db: Database) -> None:
    record = await _approved_waiting_for_the_mirror()

    workers = [ReturnMirrorWorker(f"worker-{n}", not_connected) for n in range(4)]
    claimed = await asyncio.gather(*(worker._claim() for worker in workers))
    owners = [raw["shopify_sync"]["lease_owner"] for raw in claimed if raw is not None]
    assert len(owners) == 1
    stored = await Return.get(record.id)
    assert stored is not None and stored.shopify_sync is not None
    assert (stored.shopify_sync.lease_owner, stored.shopify_sync.attempts) == (owners[0], 1)


async def test_a_decision_queued_in_the_process_wakes_an_idle_worker(db: Database) -> None:
    """The runner's idle wait of a mirror worker ends when a decision is queued for the mirror
    in the same process, long before its `idle_seconds`."""
    polled = asyncio.Queue[None]()

    class Idle(ReturnMirrorWorker):
        idle_seconds = 3600.0

        async def run_once(self) -> bool:
            polled.put_nowait(None)
            return False

    async def never(tenant_id: str) -> ShopifyGraphQL | None:
        raise AssertionError("nothing to claim")

    runner = BackgroundRunner([Idle("sleepy", never)])
    runner.start()
    try:
        await asyncio.wait_for(polled.get(), 5)  # polled once, then idle for an hour
        wakeups = shopify_mirror._wakeups(asyncio.get_running_loop())
        while not wakeups.waiting:  # until the worker waits
            await asyncio.sleep(0)
        mirror_intent(MirrorAction.REQUEST)  # as a decision builds its write
        await asyncio.wait_for(polled.get(), 5)
    finally:
        await runner.stop()
