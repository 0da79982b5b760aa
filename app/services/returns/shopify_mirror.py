"""Mirroring merchant decisions to Shopify's Returns API, never in the merchant's way.

The decision is written to our database first; when the tenant's Shopify integration is connected
the same conditional update sets `shopify_sync = {status: pending, action}` (an outbox entry on the
return). A background worker (`ReturnMirrorWorker`) claims pending returns with a lease and brings
Shopify's return to our status: `returnRequest` first if Shopify has no return yet, then
`returnApproveRequest` / `returnDeclineRequest` / `returnCancel` / `returnProcess` as the status
requires, recording `synced` or `failed` (with the error) on the return. A Shopify outage therefore
delays the mirror but never fails or slows a mutation.

The worker takes a per-tenant client factory (`client_for(tenant_id)`); `mirror_workers` wires it to
`app.services.shopify_session.admin_client_for` (anything with `async execute(query, variables)`
returning the response's `data` works).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx
from pymongo import ReturnDocument

from app.clock import utcnow
from app.config import Settings
from app.models import Return, ShopifyIntegration
from app.models.bson import to_bson
from app.models.integration import IntegrationStatus
from app.models.return_request import ReturnStatus, ShopifySync, ShopifySyncStatus
from app.services.shopify_session import IntegrationNotConnected, admin_client_for

logger = logging.getLogger("app.returns.mirror")

LEASE_SECONDS = 60
MAX_ATTEMPTS = 8


class MirrorAction(StrEnum):
    REQUEST = "request"
    APPROVE = "approve"
    DECLINE = "decline"
    RECEIVE = "receive"
    PROCESS = "process"
    CANCEL = "cancel"


def mirror_intent(action: MirrorAction) -> dict[str, Any]:
    """The `$set` value recording that `action` should reach Shopify."""
    encoded: dict[str, Any] = to_bson(ShopifySync(action=action.value))
    return encoded


async def shopify_connected(tenant_id: str) -> bool:
    """Whether decisions should be mirrored (one indexed count on `integrations_shopify`)."""
    count = await ShopifyIntegration.get_pymongo_collection().count_documents(
        {"tenant_id": tenant_id, "status": IntegrationStatus.CONNECTED.value}, limit=1
    )
    return count > 0


class ShopifyGraphQL(Protocol):
    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]: ...


RETURNABLE_FULFILLMENTS = """
query ($orderId: ID!) { returnableFulfillments(orderId: $orderId, first: 50) { nodes {
  returnableFulfillmentLineItems(first: 100) { nodes { quantity
    fulfillmentLineItem { id lineItem { id } } } } } } }
"""
RETURN_REQUEST = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_APPROVE = """
mutation ($input: ReturnApproveRequestInput!) { returnApproveRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_DECLINE = """
mutation ($input: ReturnDeclineRequestInput!) { returnDeclineRequest(input: $input) {
  return { id status } userErrors { field code message } } }
"""
RETURN_CANCEL = """
mutation ($id: ID!) { returnCancel(id: $id) { return { id status } userErrors { field message } } }
"""
RETURN_PROCESS = """
mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status } userErrors { field code message } } }
"""


class MirrorError(Exception):
    pass


def plan_steps(record: Return) -> list[MirrorAction]:
    """What Shopify still needs, in order, to match our status."""
    steps: list[MirrorAction] = []
    if record.shopify_return_id is None:
        if record.status is ReturnStatus.CANCELED:
            return []  # never reached Shopify: nothing to cancel
        steps.append(MirrorAction.REQUEST)
    by_status = {
        ReturnStatus.REQUESTED: [],
        ReturnStatus.APPROVED: [MirrorAction.APPROVE],
        ReturnStatus.RECEIVED: [MirrorAction.APPROVE],
        ReturnStatus.RESOLVED: [MirrorAction.APPROVE, MirrorAction.PROCESS],
        ReturnStatus.DECLINED: [MirrorAction.DECLINE],
        ReturnStatus.CANCELED: [MirrorAction.CANCEL],
    }
    done = set(record.shopify_applied)
    steps.extend(step for step in by_status[record.status] if step.value not in done)
    return steps


def _check(payload: dict[str, Any], key: str) -> dict[str, Any]:
    result = payload.get(key) or {}
    errors = result.get("userErrors") or []
    if errors:
        raise MirrorError(f"{key}: {errors[0].get('message')}")
    found: dict[str, Any] = result.get("return") or {}
    return found


StepDone = Callable[[MirrorAction, str | None], Awaitable[None]]


async def push_return(record: Return, api: ShopifyGraphQL, step_done: StepDone) -> None:
    """Apply `plan_steps(record)` to Shopify, reporting each step as it succeeds."""
    return_gid = record.shopify_return_id
    order_gid = f"gid://shopify/Order/{record.order_id}"
    for step in plan_steps(record):
        if step is MirrorAction.REQUEST:
            data = await api.execute(RETURNABLE_FULFILLMENTS, {"orderId": order_gid})
            by_line: dict[str, str] = {}
            for fulfillment in (data.get("returnableFulfillments") or {}).get("nodes", []):
                for node in fulfillment["returnableFulfillmentLineItems"]["nodes"]:
                    item = node["fulfillmentLineItem"]
                    by_line.setdefault(item["lineItem"]["id"].rsplit("/", 1)[-1], item["id"])
            lines = []
            for item in record.items:
                fulfillment_line = by_line.get(item.line_item_id)
                if fulfillment_line is None:
                    raise MirrorError(f"line item {item.line_item_id} is not returnable on Shopify")
                lines.append(
                    {
                        "fulfillmentLineItemId": fulfillment_line,
                        "quantity": item.quantity,
                        "returnReason": item.reason.value.upper(),
                        "customerNote": item.note or "",
                    }
                )
            created = _check(
                await api.execute(
                    RETURN_REQUEST, {"input": {"orderId": order_gid, "returnLineItems": lines}}
                ),
                "returnRequest",
            )
            return_gid = str(created.get("id"))
        elif step is MirrorAction.APPROVE:
            _check(
                await api.execute(RETURN_APPROVE, {"input": {"id": return_gid}}),
                "returnApproveRequest",
            )
        elif step is MirrorAction.DECLINE:
            _check(
                await api.execute(
                    RETURN_DECLINE,
                    {
                        "input": {
                            "id": return_gid,
                            "declineReason": "OTHER",
                            "declineNote": record.decline_reason or "",
                        }
                    },
                ),
                "returnDeclineRequest",
            )
        elif step is MirrorAction.CANCEL:
            _check(await api.execute(RETURN_CANCEL, {"id": return_gid}), "returnCancel")
        elif step is MirrorAction.PROCESS:
            _check(
                await api.execute(RETURN_PROCESS, {"input": {"returnId": return_gid}}),
                "returnProcess",
            )
        await step_done(step, return_gid)


ClientFactory = Callable[[str], Awaitable[ShopifyGraphQL | None]]


class ReturnMirrorWorker:
    """Claims one return with a pending Shopify sync (leased) and mirrors it."""

    name = "returns-shopify-mirror"
    idle_seconds = 5.0

    def __init__(self, worker_id: str, client_for: ClientFactory) -> None:
        self.worker_id = worker_id
        self.client_for = client_for

    async def run_once(self) -> bool:
        now = utcnow()
        collection = Return.get_pymongo_collection()
        raw = await collection.find_one_and_update(
            {
                "shopify_sync.status": ShopifySyncStatus.PENDING.value,
                "$or": [
                    {"shopify_sync.lease_expires_at": None},
                    {"shopify_sync.lease_expires_at": {"$lt": now}},
                ],
            },
            {
                "$set": {
                    "shopify_sync.lease_owner": self.worker_id,
                    "shopify_sync.lease_expires_at": now + timedelta(seconds=LEASE_SECONDS),
                },
                "$inc": {"shopify_sync.attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return False
        record = Return.model_validate(raw)
        await self._mirror(record, raw["updated_at"])
        return True

    async def _mirror(self, record: Return, seen_updated_at: datetime) -> None:
        sync = record.shopify_sync
        assert sync is not None
        collection = Return.get_pymongo_collection()
        # Only settle the sync if no newer decision re-queued it meanwhile (updated_at unchanged).
        guard = {"_id": record.id, "tenant_id": record.tenant_id, "updated_at": seen_updated_at}
        try:
            api = await self.client_for(record.tenant_id)
            if api is None:
                raise MirrorError("Shopify integration is not connected")

            async def step_done(step: MirrorAction, shopify_id: str | None) -> None:
                # Progress is kept even if the sync is re-queued, so no step runs twice.
                await collection.update_one(
                    {"_id": record.id, "tenant_id": record.tenant_id},
                    {
                        "$set": {"shopify_return_id": shopify_id},
                        "$addToSet": {"shopify_applied": step.value},
                    },
                )

            await push_return(record, api, step_done)
            await collection.update_one(
                guard,
                {
                    "$set": {
                        "shopify_sync.status": ShopifySyncStatus.SYNCED.value,
                        "shopify_sync.error": None,
                        "shopify_sync.lease_expires_at": None,
                        "shopify_sync.updated_at": utcnow(),
                    }
                },
            )
        except Exception as exc:  # a failed mirror is recorded, never raised to a merchant
            logger.warning("mirroring return %s to Shopify failed: %s", record.id, exc)
            final = sync.attempts >= MAX_ATTEMPTS
            await collection.update_one(
                guard,
                {
                    "$set": {
                        "shopify_sync.status": (
                            ShopifySyncStatus.FAILED if final else ShopifySyncStatus.PENDING
                        ).value,
                        "shopify_sync.error": str(exc)[:500],
                        # Back off: the lease doubles as the retry time.
                        "shopify_sync.lease_expires_at": utcnow()
                        + timedelta(seconds=min(2**sync.attempts * 5, 3600)),
                        "shopify_sync.updated_at": utcnow(),
                    }
                },
            )


def mirror_workers(settings: Settings, http: httpx.AsyncClient, worker_id: str) -> list[Any]:
    """The mirror worker wired to the per-tenant Admin API client (for `app/jobs/registry.py`)."""

    async def client_for(tenant_id: str) -> ShopifyGraphQL | None:
        try:
            client: ShopifyGraphQL = await admin_client_for(tenant_id, settings, http)
        except IntegrationNotConnected:
            return None
        return client

    return [ReturnMirrorWorker(worker_id, client_for)]
