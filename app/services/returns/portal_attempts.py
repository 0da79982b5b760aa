"""The customer portal's failed-lookup limit: `PORTAL_FAILURE_LIMIT` failures per
`PORTAL_FAILURE_WINDOW` per (tenant, client address), shared by every API process.

The failures live in MongoDB (`portal_attempts`, one document per key, the latest failures and
a TTL), so a client spread over many processes meets one limit. A lookup reads the key's
failures together with its other reads and writes only when it fails: a customer who finds
their order costs one small read, no write.

Check and record are not one atomic step across processes, so each process runs one attempt per
key at a time (`ClientLocks`): concurrent guesses queue behind each other and each sees the
failures before it. Across P processes at most P - 1 guesses beyond the limit can be in flight
together when it is reached, so a client gets at most `PORTAL_FAILURE_LIMIT + P - 1` wrong
answers per window. (An exact cross-process check needs a write before every lookup and one
after every success: measured, that doubled a lookup's time on the development database.)

Relaxed write concern: a failure lost in a database crash is one guess forgiven.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from app.clock import utcnow
from app.models.portal_attempts import PortalAttempts, portal_attempts_id
from app.models.write_concerns import RELAXED_WRITES

PORTAL_FAILURE_LIMIT = 10
PORTAL_FAILURE_WINDOW = timedelta(minutes=5)


class ClientLocks:
    """One portal attempt at a time per (tenant, client) in this process (see the module).

    Held by the app (one per process), never by a module: it keeps no counts, only the queues of
    attempts running now, and forgets a key when its last attempt ends."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def one_at_a_time(self, tenant_id: str, client: str) -> AsyncIterator[None]:
        key = portal_attempts_id(tenant_id, client)
        lock, waiting = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                yield
        finally:
            waiting[0] -= 1
            if waiting[0] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


def _attempts() -> AsyncCollection[dict[str, Any]]:
    return PortalAttempts.get_pymongo_collection().with_options(write_concern=RELAXED_WRITES)


def _key(tenant_id: str, client: str) -> dict[str, str]:
    # tenant_id as well as _id: the filter names the shard key of a sharded deployment.
    return {"_id": portal_attempts_id(tenant_id, client), "tenant_id": tenant_id}


async def recent_failures(tenant_id: str, client: str, now: datetime | None = None) -> int:
    """How many of the client's failures fall inside the window (one read by `_id`)."""
    moment = now or utcnow()
    document = await _attempts().find_one(_key(tenant_id, client), {"failures": 1})
    cutoff = moment - PORTAL_FAILURE_WINDOW
    return sum(1 for at in (document or {}).get("failures") or [] if _aware(at) > cutoff)


def is_limited(failures: int) -> bool:
    return failures >= PORTAL_FAILURE_LIMIT


async def record_failure(tenant_id: str, client: str, now: datetime | None = None) -> None:
    """Count a failed attempt: the latest `PORTAL_FAILURE_LIMIT` are kept, the document expires
    a window after the last one."""
    moment = now or utcnow()
    await _attempts().update_one(
        _key(tenant_id, client),
        {
            "$push": {"failures": {"$each": [moment], "$slice": -PORTAL_FAILURE_LIMIT}},
            "$max": {"expires_at": moment + PORTAL_FAILURE_WINDOW},
            "$setOnInsert": {"client": client},
        },
        upsert=True,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
