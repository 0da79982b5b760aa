"""Multi-document transactions: several writes that land together or not at all.

MongoDB runs them on a replica set or a sharded cluster (a single-node replica set is enough);
SecantusDB runs them too. `with_transaction` retries the body on transient errors (a write
conflict with a concurrent transaction, a failover) and the commit when its outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from app.clock import utcnow

T = TypeVar("T")

# SecantusDB 0.7.0b3 commits a transaction without syncing its journal, even when the commit
# asks for `j: true` (single writes honour it). One journaled write after the commit syncs the
# journal up to it, since the journal is sequential; on MongoDB it costs one small write, to a
# document of the tenant (no hot spot shared by all tenants, and on the tenant's shard). Remove
# it once the development database honours the commit's write concern.
BARRIER_COLLECTION = "journal_barrier"


async def in_transaction(
    client: AsyncMongoClient[Any],
    database: str,
    tenant_id: str,
    body: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `body(session)` in one transaction of `database` on `tenant_id`'s data; what `body`
    returns. A body that aborts the transaction itself (a guard failed) has its return value
    passed through."""
    async with client.start_session() as session:
        result = await session.with_transaction(body)
    await client[database][BARRIER_COLLECTION].update_one(
        {"_id": tenant_id}, {"$set": {"tenant_id": tenant_id, "at": utcnow()}}, upsert=True
    )
    return result
