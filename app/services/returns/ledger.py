"""The per-order return ledger: units held by active returns, reserved with guarded updates.

A reservation is ONE conditional update: every requested line carries the guard
`reserved.<line> <= limit - quantity` (written as `$not: {$gt: ...}` so a missing counter
matches), and the `$inc` applies only when all guards hold. MongoDB applies a single-document
update atomically, so concurrent requests for the last unit cannot both succeed. createReturn runs
the reservation and the return's insert in one transaction (`app/services/returns/create.py`), so
a crash between them cannot leave units held by a return that does not exist.

An order's ledger is created on its first request (`ensure_ledger`), holding the units of active
returns made before it existed (imported from the old system).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models import Return
from app.models.return_ledger import LEDGER_COLLECTION, ledger_id
from app.models.return_request import ACTIVE_RETURN_STATUSES
from app.models.transactions import in_transaction
from app.services.returns.state_machine import RELEASES_UNITS


def ledger_collection() -> AsyncCollection[dict[str, Any]]:
    # Raw collection in the same database, so this works whether or not the model is registered.
    return Return.get_pymongo_collection().database[LEDGER_COLLECTION]


async def reserved_units(tenant_id: str, order_number: str) -> dict[str, int]:
    """Units held by active returns per line item id (one find by `_id`)."""
    doc = await ledger_collection().find_one(
        {"_id": ledger_id(tenant_id, order_number), "tenant_id": tenant_id}, {"reserved": 1}
    )
    return counters_of(doc)


def counters_of(doc: Mapping[str, Any] | None) -> dict[str, int]:
    if not doc:
        return {}
    return {str(key): int(value) for key, value in (doc.get("reserved") or {}).items()}


async def ensure_ledger(tenant_id: str, order_id: str, order_number: str) -> None:
    """Create the order's ledger unless it exists. It starts with the units of active returns
    that predate it, and those returns are flagged as held, in one transaction: a crash never
    leaves a ledger that misses them, or flags without the ledger."""
    key = ledger_id(tenant_id, order_number)
    if await ledger_collection().count_documents({"_id": key, "tenant_id": tenant_id}, limit=1):
        return

    async def create(session: AsyncClientSession) -> None:
        held = await _unledgered_active_units(tenant_id, order_number, session)
        await ledger_collection().insert_one(
            {
                "_id": key,
                "tenant_id": tenant_id,
                "order_id": order_id,
                "order_number": order_number,
                "reserved": held,
                "updated_at": utcnow(),
            },
            session=session,
        )
        if held:
            await Return.get_pymongo_collection().update_many(
                _unledgered_filter(tenant_id, order_number),
                {"$set": {"ledger_reserved": True}},
                session=session,
            )

    with contextlib.suppress(DuplicateKeyError):  # another request created it first
        database = ledger_collection().database
        await in_transaction(database.client, database.name, tenant_id, create)


async def reserve(
    tenant_id: str,
    order_number: str,
    wanted: Mapping[str, int],
    limits: Mapping[str, int],
    session: AsyncClientSession | None = None,
) -> bool:
    """Hold `wanted[line]` more units of each line if none would exceed `limits[line]` (the
    ledger must exist: `ensure_ledger`)."""
    guard: dict[str, Any] = {"_id": ledger_id(tenant_id, order_number), "tenant_id": tenant_id}
    for line_id, quantity in wanted.items():
        guard[f"reserved.{line_id}"] = {"$not": {"$gt": limits[line_id] - quantity}}
    increments = {f"reserved.{line_id}": quantity for line_id, quantity in wanted.items()}
    result = await ledger_collection().update_one(
        guard, {"$inc": increments, "$set": {"updated_at": utcnow()}}, session=session
    )
    return result.matched_count == 1


def _unledgered_filter(tenant_id: str, order_number: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "order_number": order_number,
        "status": {"$in": [status.value for status in ACTIVE_RETURN_STATUSES]},
        "ledger_reserved": {"$ne": True},
    }


async def _unledgered_active_units(
    tenant_id: str, order_number: str, session: AsyncClientSession
) -> dict[str, int]:
    held: dict[str, int] = {}
    async for doc in Return.get_pymongo_collection().find(
        _unledgered_filter(tenant_id, order_number),
        {"items.line_item_id": 1, "items.quantity": 1},
        session=session,
    ):
        for item in doc.get("items", []):
            held[item["line_item_id"]] = held.get(item["line_item_id"], 0) + int(item["quantity"])
    return held


async def release(
    tenant_id: str,
    order_number: str,
    held: Mapping[str, int],
    session: AsyncClientSession | None = None,
) -> None:
    """Give back units of a return that was declined or canceled."""
    if not held:
        return
    await ledger_collection().update_one(
        {"_id": ledger_id(tenant_id, order_number), "tenant_id": tenant_id},
        {
            "$inc": {f"reserved.{line_id}": -quantity for line_id, quantity in held.items()},
            "$set": {"updated_at": utcnow()},
        },
        session=session,
    )


async def release_return_units(return_id: ObjectId, tenant_id: str) -> bool:
    """Give back a declined/canceled return's units exactly once. One transaction clears the
    return's `ledger_release_pending` flag (and `ledger_reserved`) with a guarded update and
    applies the ledger `$inc`: both or neither, so a crash cannot clear the flag and keep the
    units, and of two concurrent callers (the request, the sweeper) only one releases. `True`
    when this call released units."""

    async def release_once(session: AsyncClientSession) -> bool:
        before = await Return.get_pymongo_collection().find_one_and_update(
            {"_id": return_id, "tenant_id": tenant_id, "ledger_release_pending": True},
            {"$set": {"ledger_release_pending": False, "ledger_reserved": False}},
            projection={"order_number": 1, "ledger_reserved": 1, "items": 1},
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
        if before is None or not before.get("ledger_reserved"):
            return False
        held = units_by_line(
            [(item["line_item_id"], int(item["quantity"])) for item in before.get("items", [])]
        )
        await release(tenant_id, before["order_number"], held, session)
        return True

    database = ledger_collection().database
    return await in_transaction(database.client, database.name, tenant_id, release_once)


# A pending release older than this was interrupted (the request releases right after its update).
RELEASE_GRACE_SECONDS = 60.0


async def release_pending_units(limit: int = 100) -> int:
    """Finish up to `limit` releases a crash interrupted (status changed, units still held);
    how many pending returns were handled. One find on the partial `ledger_release_pending`
    index, then one guarded update per return (plus the ledger `$inc` where units were held)."""
    cutoff = utcnow() - timedelta(seconds=RELEASE_GRACE_SECONDS)
    handled = 0
    async for doc in Return.get_pymongo_collection().find(
        {"ledger_release_pending": True, "updated_at": {"$lt": cutoff}},
        {"tenant_id": 1},
        limit=limit,
    ):
        await release_return_units(doc["_id"], doc["tenant_id"])
        handled += 1
    return handled


class LedgerReleaseSweeper:
    """Background worker: completes ledger releases left pending by a crash."""

    name = "returns-ledger-release"
    idle_seconds = 60.0

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit

    async def run_once(self) -> bool:
        # A full batch means there may be more: ask to be run again at once.
        return await release_pending_units(self.limit) >= self.limit


def units_by_line(items: list[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line_id, quantity in items:
        totals[line_id] = totals.get(line_id, 0) + quantity
    return totals


async def rebuild_ledger(tenant_id: str, order_number: str) -> dict[str, int]:
    """Recompute an order's counters from its active returns (the operator's repair when the
    counters are in doubt, e.g. after documents were edited by hand). Run it while no return is
    being created for that order."""
    active = [status.value for status in ACTIVE_RETURN_STATUSES]
    # Pending releases are settled by the recount (a later `$inc` would count them twice).
    await Return.get_pymongo_collection().update_many(
        {
            "tenant_id": tenant_id,
            "order_number": order_number,
            "status": {"$in": [status.value for status in RELEASES_UNITS]},
            "ledger_reserved": True,
        },
        {"$set": {"ledger_release_pending": False, "ledger_reserved": False}},
    )
    held: dict[str, int] = {}
    async for doc in Return.get_pymongo_collection().find(
        {"tenant_id": tenant_id, "order_number": order_number, "status": {"$in": active}},
        {"items.line_item_id": 1, "items.quantity": 1},
    ):
        for item in doc.get("items", []):
            held[item["line_item_id"]] = held.get(item["line_item_id"], 0) + int(item["quantity"])
    await ledger_collection().update_one(
        {"_id": ledger_id(tenant_id, order_number), "tenant_id": tenant_id},
        {"$set": {"reserved": held, "updated_at": utcnow()}},
        upsert=True,
    )
    return held
