"""Failed customer-portal attempts, limited per (tenant, client) across every API process.

A client has `PORTAL_FAILURE_LIMIT` places. Before a lookup runs, `begin_attempt` takes a place
with one conditional update that matches only while a place is free; the place is held for
`RUNNING_HOLD` while the attempt runs. A lookup that finds its order gives its place back
(`attempt_succeeded`); one that does not keeps it for `PORTAL_FAILURE_WINDOW`
(`attempt_failed`). Taking a place is one atomic step on one document, so concurrent guesses, in
one process or spread over many, cannot all pass the check before their failures count. An
attempt cut short (its request failed, its process died) frees its place after `RUNNING_HOLD`,
so a database outage never locks customers out for the whole window.

When every place is taken but fewer than the limit by failures, the attempt waits briefly for
running ones to finish instead of being refused: many customers behind one address can look up
their orders at the same moment.

Relaxed write concern: an entry lost in a database crash forgives at most one failure, and the
limiter is on the portal's hot path.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from app.clock import utcnow
from app.models.database_errors import is_database_unavailable
from app.models.portal_attempts import PortalAttempts, portal_attempts_id
from app.models.write_concerns import RELAXED_WRITES
from app.services.returns.errors import PortalRateLimited

logger = logging.getLogger(__name__)

PORTAL_FAILURE_LIMIT = 10
PORTAL_FAILURE_WINDOW = timedelta(minutes=5)
# Far longer than an attempt runs (its request has a 5 s database deadline by default).
RUNNING_HOLD = timedelta(seconds=30)
# How long an attempt waits for the client's running attempts to finish before it is refused.
MAX_WAIT_FOR_RUNNING_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class PortalAttempt:
    tenant_id: str
    client: str
    id: str

    def key(self) -> dict[str, str]:
        # tenant_id as well as _id: the filter names the shard key of a sharded deployment.
        return {"_id": portal_attempts_id(self.tenant_id, self.client), "tenant_id": self.tenant_id}


def _attempts() -> AsyncCollection[dict[str, Any]]:
    return PortalAttempts.get_pymongo_collection().with_options(write_concern=RELAXED_WRITES)


async def begin_attempt(
    tenant_id: str,
    client: str,
    now: datetime | None = None,
    *,
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PortalAttempt:
    """Take a place for an attempt of this client before it runs; `PortalRateLimited` when the
    client has `PORTAL_FAILURE_LIMIT` failures inside the window (nothing is recorded then)."""
    attempt = PortalAttempt(tenant_id, client, uuid.uuid4().hex)
    give_up_at = time.monotonic() + MAX_WAIT_FOR_RUNNING_SECONDS
    pause = 0.005
    while True:
        moment = now or utcnow()
        if await _take_place(attempt, moment):
            return attempt
        if await _failures(attempt, moment) >= PORTAL_FAILURE_LIMIT:
            raise PortalRateLimited()
        if time.monotonic() + pause > give_up_at:
            raise PortalRateLimited()  # the places are still held by running attempts
        await wait(pause)
        pause = min(pause * 2, 0.1)


async def _take_place(attempt: PortalAttempt, moment: datetime) -> bool:
    """Take a free place; False when none is free (nothing written)."""
    place_free = {
        "$or": [
            {f"attempts.{PORTAL_FAILURE_LIMIT - 1}": {"$exists": False}},
            {"attempts.until": {"$lte": moment}},
        ]
    }
    try:
        await _attempts().update_one(
            {**attempt.key(), **place_free},
            {
                "$push": {
                    "attempts": {
                        "$each": [{"id": attempt.id, "until": moment + RUNNING_HOLD}],
                        # Sorted by `until`, the slice drops the place that was free.
                        "$sort": {"until": 1},
                        "$slice": -PORTAL_FAILURE_LIMIT,
                    }
                },
                "$max": {"expires_at": moment + RUNNING_HOLD},
                "$setOnInsert": {"client": attempt.client},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        return False  # the key's document exists but did not match: every place is taken
    return True


async def _failures(attempt: PortalAttempt, moment: datetime) -> int:
    document = await _attempts().find_one(attempt.key(), {"attempts": 1})
    entries = (document or {}).get("attempts") or []
    return sum(1 for e in entries if e.get("failed") and _aware(e["until"]) > moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def attempt_succeeded(attempt: PortalAttempt) -> None:
    """The attempt found its order: its place is free again. Best effort: the customer's answer
    does not wait on it failing (the place then frees itself after `RUNNING_HOLD`)."""
    try:
        await _attempts().update_one(attempt.key(), {"$pull": {"attempts": {"id": attempt.id}}})
    except PyMongoError as exc:
        if not is_database_unavailable(exc):
            raise
        logger.warning("a portal place was not given back: %s", type(exc).__name__)


async def attempt_failed(attempt: PortalAttempt, now: datetime | None = None) -> None:
    """The attempt found nothing: it keeps its place for the whole window."""
    until = (now or utcnow()) + PORTAL_FAILURE_WINDOW
    await _attempts().update_one(
        {**attempt.key(), "attempts.id": attempt.id},
        {
            "$set": {"attempts.$.until": until, "attempts.$.failed": True},
            "$max": {"expires_at": until},
        },
    )
