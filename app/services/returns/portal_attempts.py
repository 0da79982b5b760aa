"""Failed customer-portal attempts, limited per (tenant, client) across every API process.

Before a lookup runs, `begin_attempt` adds it to the client's recent attempts with one conditional
update that matches only while fewer than `PORTAL_FAILURE_LIMIT` of them fall inside the window.
A lookup that finds its order takes its attempt out again (`attempt_succeeded`); one that does
not marks it failed (`attempt_failed`). Check and record are one atomic step on one document, so
concurrent guesses (in one process or spread over many) cannot all pass the check before their
failures are counted.

A full window is not always a limited client: attempts still running hold places too. When the
update finds no room but fewer than the limit have failed, the attempt waits for running ones to
finish (briefly, with backoff) instead of being refused, so that many customers behind one
address can look up their orders at the same moment.

Relaxed write concern: an entry lost in a database crash forgives at most one failure, and the
limiter is on the portal's hot path. An attempt left running by a process that died counts as a
failure until it leaves the window.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models.portal_attempts import PortalAttempts, portal_attempts_id
from app.models.write_concerns import RELAXED_WRITES
from app.services.returns.errors import PortalRateLimited

PORTAL_FAILURE_LIMIT = 10
PORTAL_FAILURE_WINDOW = timedelta(minutes=5)
# How long an attempt waits for the client's running attempts to finish before it is refused:
# well under the request's database deadline, and far longer than a lookup takes.
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
    """Count an attempt of this client before it runs; `PortalRateLimited` when the client has
    `PORTAL_FAILURE_LIMIT` failures inside the window (nothing is recorded then)."""
    attempt = PortalAttempt(tenant_id, client, uuid.uuid4().hex)
    give_up_at = time.monotonic() + MAX_WAIT_FOR_RUNNING_SECONDS
    pause = 0.005
    while True:
        moment = now or utcnow()
        if await _record(attempt, moment):
            return attempt
        if await _failures(attempt, moment) >= PORTAL_FAILURE_LIMIT:
            raise PortalRateLimited()
        if time.monotonic() + pause > give_up_at:
            raise PortalRateLimited()  # places held by attempts that never finish
        await wait(pause)
        pause = min(pause * 2, 0.1)


async def _record(attempt: PortalAttempt, moment: datetime) -> bool:
    """Add the attempt if the window has room; False when it is full (nothing written)."""
    has_room = {
        "$or": [
            {f"attempts.{PORTAL_FAILURE_LIMIT - 1}": {"$exists": False}},
            {"attempts.at": {"$lte": moment - PORTAL_FAILURE_WINDOW}},
        ]
    }
    try:
        await _attempts().update_one(
            {**attempt.key(), **has_room},
            {
                # In time order, so the slice drops the oldest, which is outside the window.
                "$push": {
                    "attempts": {
                        "$each": [{"id": attempt.id, "at": moment}],
                        "$slice": -PORTAL_FAILURE_LIMIT,
                    }
                },
                "$set": {"expires_at": moment + PORTAL_FAILURE_WINDOW},
                "$setOnInsert": {"client": attempt.client},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        return False  # the key's document exists but did not match: its window is full
    return True


async def _failures(attempt: PortalAttempt, moment: datetime) -> int:
    document = await _attempts().find_one(attempt.key(), {"attempts": 1})
    cutoff = moment - PORTAL_FAILURE_WINDOW
    entries = (document or {}).get("attempts") or []
    return sum(1 for e in entries if e.get("failed") and _aware(e["at"]) > cutoff)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def attempt_succeeded(attempt: PortalAttempt) -> None:
    """The attempt found its order: it no longer counts against the client."""
    await _attempts().update_one(attempt.key(), {"$pull": {"attempts": {"id": attempt.id}}})


async def attempt_failed(attempt: PortalAttempt) -> None:
    """The attempt found nothing: it counts against the client until it leaves the window."""
    await _attempts().update_one(
        {**attempt.key(), "attempts.id": attempt.id}, {"$set": {"attempts.$.failed": True}}
    )
