"""Tenant documents in the old system's shape get the service's: `_id` = `id` = `tenant_id`.

The old documents hold the tenant id in `id` only, under an ObjectId `_id`, and no `tenant_id`.
Every lookup here is by `_id`, so each is re-keyed: the document copied under its tenant id with
the missing fields, then the old one deleted, in one transaction (both or neither). Rerunning
finds nothing left to do; `down` leaves the documents as they are (their new shape is a superset
of the old one, which the old system still reads by `id`).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from app.migrations.indexes import Db
from app.models.transactions import in_transaction


async def up(db: Db) -> None:
    tenants = db["tenants"]
    async for doc in tenants.find(
        {"$or": [{"tenant_id": {"$exists": False}}, {"_id": {"$type": "objectId"}}]}
    ):
        tenant_id = doc.get("id")
        if not isinstance(tenant_id, str) or not tenant_id:
            continue  # no tenant id to key it by: left for an operator (it cannot be read)
        await _rekey(db, doc, tenant_id)


async def _rekey(db: Db, doc: dict[str, Any], tenant_id: str) -> None:
    shop = doc.get("shop_domain")
    current = {
        **doc,
        "_id": tenant_id,
        "id": tenant_id,
        "tenant_id": tenant_id,
        "name": doc.get("name") or (shop.split(".", 1)[0] if isinstance(shop, str) else tenant_id),
    }

    async def replace(session: AsyncClientSession) -> None:
        tenants = db["tenants"]
        if doc["_id"] != tenant_id:
            await tenants.delete_one({"_id": doc["_id"]}, session=session)
            if await tenants.find_one({"_id": tenant_id}, {"_id": 1}, session=session):
                return  # the service wrote this tenant since: its document is the current one
        await tenants.replace_one({"_id": tenant_id}, current, upsert=True, session=session)

    await in_transaction(db.client, db.name, tenant_id, replace)


async def down(db: Db) -> None:
    return None
