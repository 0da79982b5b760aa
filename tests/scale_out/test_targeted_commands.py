"""On a sharded cluster every command on a tenant's collection must go to one shard: it names
`tenant_id`. A `CommandListener` watches the merchant API (every operation), the portal and the
background workers at work on a tenant with data of every kind, and checks each command on a
collection `app/models/sharding.py` shards. The worker claims that look across tenants for the
next unit of work are the documented exceptions (`CROSS_TENANT`): a claim is one indexed
command per unit, sent to every shard by design."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import monitoring

from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.jobs.registry import build_workers
from app.main import create_app
from app.models import SyncJob, WebhookDelivery
from app.models.sharding import SHARDING, Sharded
from app.models.sync_job import SyncStatus, SyncType
from app.models.webhook_endpoint import DeliveryStatus
from app.services.sync.jobs import queue_sync
from tests.conftest import make_settings
from tests.factories import make_order, merchant_headers
from tests.fuzz.graphql_documents import introspect
from tests.isolation.operations import PUBLIC_OPERATIONS, calls_for, documents, operations
from tests.isolation.world import World, build_world
from tests.simulator_fixtures import WebhookReceiver
from tests.sync.helpers import connect_shop
from tools.shopify_sim import SimulatorControl, SimulatorServer

SHARDED = {name for name, rule in SHARDING.items() if isinstance(rule, Sharded)}
# The commands that look across tenants by design: (collection, command, sorted filter keys).
CROSS_TENANT: dict[tuple[str, str, tuple[str, ...]], str] = {
    ("sync_jobs", "findAndModify", ("status",)): "sync worker: claim the next queued job",
    ("sync_jobs", "find", ("lease_expires_at", "status")): "sync worker: jobs whose lease ran out",
    ("sync_jobs", "update", ("$or", "status")): "clear_stale_locks: the stale-job sweep",
    ("sync_jobs", "update", ("active", "status")): "release_finished_active_flags: the sweep",
    ("returns", "find", ("shopify_sync.lease_expires_at", "shopify_sync.status")): (
        "mirror worker: outbox items never leased, or whose lease ran out"
    ),
    (
        "returns",
        "find",
        ("shopify_sync.attempts", "shopify_sync.lease_owner", "shopify_sync.status"),
    ): ("mirror worker: outbox items a new decision re-queued"),
    ("returns", "find", ("ledger_release_pending", "updated_at")): "ledger release sweeper",
    ("returns", "find", ("events_due_at",)): "notification dispatcher: returns with due events",
    (
        "returns",
        "find",
        ("shipment.next_attempt_at", "shipment.status", "shipment.void_due_at", "status"),
    ): ("label workers: approved returns whose label purchase is due"),
    ("returns", "find", ("shipment.void_due_at",)): "label workers: labels due to be voided",
    ("returns", "find", ("shipment.tracker_id",)): (
        "carrier tracking events: the return of a tracker (the carrier names no shop)"
    ),
    ("webhook_deliveries", "find", ("next_attempt_at", "status")): (
        "webhook senders: the oldest due deliveries"
    ),
    ("webhook_deliveries", "update", ("_id", "next_attempt_at", "status")): (
        "webhook senders: lease the deliveries just read (by _id)"
    ),
    ("webhook_deliveries", "find", ("_id", "lease_owner")): (
        "webhook senders: read back the deliveries this claim leased (by _id)"
    ),
    ("webhook_deliveries", "update", ("_id", "lease_owner", "status", "tenant_id")): (
        "webhook senders: settle one claim's successes together (by _id; `tenant_id` $in the "
        "tenants of the batch, so only their shards are asked)"
    ),
    ("notifications", "find", ("next_attempt_at", "status")): "email senders: the oldest due email",
    ("sync_jobs", "aggregate", ("status",)): "systemStatus (operators): jobs per status",
    ("sync_jobs", "find", ("status",)): "systemStatus (operators): stale running jobs",
    ("notifications", "aggregate", ("next_attempt_at", "status")): (
        "systemStatus (operators): emails waiting, on the senders' queue index"
    ),
    ("webhook_deliveries", "aggregate", ("next_attempt_at", "status")): (
        "systemStatus (operators): deliveries waiting, on the senders' queue index"
    ),
    ("webhook_endpoints", "aggregate", ("status",)): "systemStatus (operators): disabled endpoints",
}
CREATE_RETURN = """mutation($input: CreateReturnInput!) {
  createReturn(input: $input) { return { id } userErrors { code } }
}"""
CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { code message } }
}"""
_FILTERS = {"find": "filter", "findAndModify": "query", "count": "query", "distinct": "query"}


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        collection = event.command.get(name)
        if isinstance(collection, str) and collection in SHARDED:
            self.commands.append((collection, name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _names_one_tenant(condition: Any) -> bool:
    if isinstance(condition, str):
        return True
    return isinstance(condition, dict) and isinstance(condition.get("$eq"), str)


def _untargeted(name: str, command: dict[str, Any]) -> list[dict[str, Any]]:
    """The filters (or documents) of a command that do not name one tenant."""
    if name == "insert":
        return [doc for doc in command["documents"] if "tenant_id" not in doc]
    if name in ("update", "delete"):
        key = "updates" if name == "update" else "deletes"
        return [s["q"] for s in command[key] if not _names_one_tenant(s["q"].get("tenant_id"))]
    if name == "aggregate":
        first = (command.get("pipeline") or [{}])[0].get("$match", {})
        return [] if _names_one_tenant(first.get("tenant_id")) else [first]
    if name in _FILTERS:
        query = command.get(_FILTERS[name]) or {}
        return [] if _names_one_tenant(query.get("tenant_id")) else [query]
    return []  # getMore, killCursors, createIndexes...: no filter of their own


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return make_settings(mongo_uri, shopify_admin_base_url=simulator.admin_base_template)


@pytest.fixture
async def watched(settings: Settings, db: Database) -> AsyncIterator[tuple[FastAPI, CommandLog]]:
    log = CommandLog()
    app = create_app(settings, mongo_listeners=[log], configure_logs=False)
    async with app.router.lifespan_context(app):  # the models now use the watched client
        yield app, log


async def test_every_command_on_a_sharded_collection_names_one_tenant(
    watched: tuple[FastAPI, CommandLog],
    settings: Settings,
    sim_control: SimulatorControl,
    webhook_receiver: WebhookReceiver,
) -> None:
    app, log = watched
    world: World = await build_world(settings)
    victim = world.victim
    synced = await connect_shop(sim_control, settings, orders=30)  # a shop Shopify knows
    assert (await queue_sync(synced.tenant_id, SyncType.FULL)).job is not None
    hooks = webhook_receiver.new_path(204)  # the synced shop's own system: its return's events
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        endpoint = await client.post(
            "/graphql",
            json={
                "query": CREATE_ENDPOINT,
                "variables": {
                    "input": {"url": webhook_receiver.url(hooks), "topics": ["RETURN_REQUESTED"]}
                },
            },
            headers=await merchant_headers(synced.tenant_id),
        )
        assert endpoint.json()["data"]["createWebhookEndpoint"]["userErrors"] == [], endpoint.text
        schema = await introspect(client)
        for kind, name, field in operations(schema):
            headers = (
                {"X-Tenant-Id": victim.tenant_id} if name in PUBLIC_OPERATIONS else victim.headers
            )
            for document, _ in documents(calls_for(schema, victim, kind, name, field)):
                response = await client.post("/graphql", json={"query": document}, headers=headers)
                assert response.status_code in (200, 400), response.text
        # A return that is created (a transaction, its journal_barrier token confirmed).
        # (In the synced shop: the operations above changed the victim's policy at random.)
        order = await make_order(synced.tenant_id, 990_001, email="targeted@victim-a.test")
        created = await client.post(
            "/graphql",
            json={
                "query": CREATE_RETURN,
                "variables": {
                    "input": {
                        "orderId": order.shopify_id,
                        "customerEmail": "targeted@victim-a.test",
                        "returnMethod": "CUSTOMER_SHIPS",
                        "resolutionType": "REFUND",
                        "items": [
                            {
                                "lineItemId": order.line_items[0].id,
                                "quantity": 1,
                                "reason": "DEFECTIVE",
                            }
                        ],
                    }
                },
            },
            headers={"X-Tenant-Id": synced.tenant_id},
        )
        assert created.json()["data"]["createReturn"]["return"] is not None, created.text
    workers = build_workers(
        settings,
        app.state.resources.shopify_http,
        "targeting-test",
        make_return_renderer(settings),
    )
    for worker in workers:
        for _ in range(50):  # until each has nothing left to do
            if not await worker.run_once():
                break
    [job] = await SyncJob.find({"tenant_id": synced.tenant_id}).to_list()
    assert job.status is SyncStatus.COMPLETED and job.progress.pages >= 1  # the sync ran
    assert len(webhook_receiver.at(hooks)) == 1  # a delivery was claimed, sent and settled
    [delivery] = await WebhookDelivery.find({"tenant_id": synced.tenant_id}).to_list()
    assert delivery.status is DeliveryStatus.SUCCEEDED

    seen = {collection for collection, _, _ in log.commands}
    expected = {
        "orders",
        "returns",
        "return_ledgers",
        "sync_jobs",
        "audit_log",
        "journal_barrier",
        "webhook_deliveries",
    }
    assert expected <= seen, seen
    scattered = []
    for collection, name, command in log.commands:
        for query in _untargeted(name, command):
            shape = (collection, name, tuple(sorted(query)))
            if shape not in CROSS_TENANT:
                scattered.append((shape, query))
    assert not scattered, "\n".join(f"{shape}: {query}" for shape, query in scattered)
