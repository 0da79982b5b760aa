"""Multi-document transactions: several writes that land together or not at all.

MongoDB runs them on a replica set or a sharded cluster (a single-node replica set is enough);
SecantusDB runs them too. `with_transaction` retries the body on transient errors (a write
conflict with a concurrent transaction, a failover) and the commit when its outcome is unknown.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pymongo
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import AutoReconnect, PyMongoError

from app.clock import utcnow
from app.models.journal_barrier import BARRIER_COLLECTION
from app.models.write_concerns import RELAXED_WRITES

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Every transaction also writes a token document (`journal_barrier`), and after the commit a
# journaled update of that token confirms the commit is durable. SecantusDB 0.7.0b3 commits
# without syncing its journal, even when the commit asks for `j: true` (single writes honour
# it): a crash right after the commit can lose the transaction, and a write after the commit
# alone would not tell (the driver retries it on the restarted server). The token's update
# matches only if the commit survived. On MongoDB it costs two small writes; remove it once the
# development database honours the commit's write concern.


# A transaction that failed must end on the server too. The driver aborts it, but under the
# caller's database deadline (`pymongo.timeout`), and a request's deadline running out is a
# common way to get here: the abort then fails before it is sent, and the server keeps the
# transaction, and its write locks, until it reaps it (60 s on MongoDB and SecantusDB). Every
# other transaction on those documents meanwhile meets a write conflict: in a chaos run, every
# customer of two orders was refused for 30 s. So the session is killed on the server, in a
# context of its own, with its own short deadline.
KILL_SESSION_TIMEOUT_SECONDS = 2.0
# A kill can overtake the abandoned transaction's own last command: on a loaded server a command
# still queued from the connection the deadline closed runs after the kill, and opens the
# transaction again, holding its documents until the server reaps it. Seen in the chaos returns
# burst: the customers of one order met a write conflict on its ledger for 30 s and more,
# although the kill had been sent. So the session is never used again (marked dirty, the driver
# discards it rather than pool it: a later kill can only end this transaction) and is killed
# again after each of these delays, by when nothing it sent can still be queued.
LATE_KILL_DELAYS_SECONDS: tuple[float, ...] = (2.0, 5.0)
# The late kills run after the request has answered; kept here so they are not collected.
_late_kills: set[asyncio.Task[None]] = set()


async def _kill_server_session(client: AsyncMongoClient[Any], session: AsyncClientSession) -> None:
    lsid = session.session_id
    server_session = getattr(session, "_server_session", None)  # the driver's; no public API
    if server_session is not None:
        server_session.mark_dirty()

    async def kill() -> None:
        with pymongo.timeout(KILL_SESSION_TIMEOUT_SECONDS):
            await client.admin.command("killSessions", [lsid])

    async def kill_late() -> None:
        for delay in LATE_KILL_DELAYS_SECONDS:
            await asyncio.sleep(delay)
            try:
                await kill()
            except Exception as exc:  # the database down, the client closed: nothing to end
                logger.info("a late kill of an abandoned session failed: %s", type(exc).__name__)

    # A fresh context: no deadline of the caller's, and the kill finishes even if the caller
    # is cancelled meanwhile (shield).
    task = asyncio.create_task(kill(), context=contextvars.Context())
    late = asyncio.create_task(kill_late(), context=contextvars.Context())
    _late_kills.add(late)
    late.add_done_callback(_late_kills.discard)
    try:
        await asyncio.shield(task)
    except PyMongoError as exc:
        logger.warning("an abandoned transaction's session was not killed: %s", type(exc).__name__)


async def in_transaction(
    client: AsyncMongoClient[Any],
    database: str,
    tenant_id: str,
    body: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `body(session)` in one transaction of `database` on `tenant_id`'s data; what `body`
    returns. A body that aborts the transaction itself (a guard failed) has its return value
    passed through. Raises `AutoReconnect` (the database is unavailable: retry) when the commit
    was lost in a crash."""
    barrier = client[database][BARRIER_COLLECTION]
    token = ObjectId()
    committed_token = False

    async def body_and_token(session: AsyncClientSession) -> T:
        nonlocal committed_token
        result = await body(session)
        committed_token = session.in_transaction
        if committed_token:
            await barrier.insert_one(
                {"_id": token, "tenant_id": tenant_id, "at": utcnow()}, session=session
            )
        return result

    async with client.start_session() as session:
        try:
            result = await session.with_transaction(body_and_token)
        except BaseException:
            await _kill_server_session(client, session)
            raise
    if committed_token:
        # tenant_id as well: on a sharded cluster both writes go to the tenant's shard only.
        mine = {"_id": token, "tenant_id": tenant_id}
        confirmed = await barrier.update_one(mine, {"$set": {"durable": True}})
        if confirmed.matched_count != 1:
            raise AutoReconnect("a committed transaction was lost in a database crash")
        # Housekeeping only: the transaction is durable and confirmed, whatever happens here (a
        # token left behind expires with the TTL index).
        try:
            await barrier.with_options(write_concern=RELAXED_WRITES).delete_one(mine)
        except PyMongoError as exc:
            logger.info("a transaction token was not deleted: %s", type(exc).__name__)
    return result
