"""Background processing of `webhook_events`: claim under a lease, apply, complete or retry.

- Claim: one atomic `find_one_and_update` takes the oldest due event whose lease is free or
  expired and counts the attempt, so a worker that dies mid-event still uses up an attempt.
- Complete: only while still holding the lease (`lease_owner` matches), so a worker whose lease
  expired and was taken over cannot mark the event a second time.
- Fail: record the error, back off exponentially (`next_attempt_at`), and after
  `max_attempts` park the event as `dead` (listed, and replayable with `replayWebhookEvent`
  or `rms webhooks replay --dead`).
Handlers are idempotent anyway (newer-wins upserts, `$set`s), so a takeover after a crash
between apply and complete repeats a harmless write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from app.clock import utcnow
from app.config import Settings
from app.models import WebhookEvent
from app.services.webhooks.context import Handler, HandlerError, WebhookContext
from app.services.webhooks.handlers import HANDLERS

logger = logging.getLogger("app.webhooks")

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ProcessingPolicy:
    """Retry and lease timing (settings: WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_SECONDS,
    WEBHOOK_RETRY_MAX_SECONDS, WEBHOOK_LEASE_SECONDS)."""

    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 1800.0
    lease_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProcessingPolicy:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            retry_max_seconds=settings.webhook_retry_max_seconds,
            lease_seconds=settings.webhook_lease_seconds,
        )

    def backoff(self, attempts: int) -> timedelta:
        """5 s, 10 s, 20 s ... after the 1st, 2nd, 3rd failed attempt; capped."""
        seconds = self.retry_base_seconds * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(seconds, self.retry_max_seconds))


def _describe(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, HandlerError) else f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_LENGTH]


class WebhookProcessor:
    """Claims and applies events one at a time; any number may run against one database."""

    def __init__(
        self,
        settings: Settings,
        worker_id: str,
        *,
        policy: ProcessingPolicy | None = None,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.policy = policy or ProcessingPolicy.from_settings(settings)
        self.handlers = dict(HANDLERS if handlers is None else handlers)

    @property
    def _events(self) -> Any:
        return WebhookEvent.get_pymongo_collection()

    async def claim(self) -> dict[str, Any] | None:
        """Lease the oldest due event, or None when there is nothing to do."""
        now = utcnow()
        event: dict[str, Any] | None = await self._events.find_one_and_update(
            {
                "processed": False,
                "dead": False,
                "next_attempt_at": {"$lte": now},
                "$or": [{"lease_expires_at": None}, {"lease_expires_at": {"$lte": now}}],
            },
            {
                "$set": {
                    "lease_owner": self.worker_id,
                    "lease_expires_at": now + timedelta(seconds=self.policy.lease_seconds),
                },
                "$inc": {"attempts": 1},
            },
            sort=[("received_at", 1), ("_id", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return event

    async def apply(self, event: dict[str, Any]) -> str:
        handler = self.handlers.get(str(event.get("topic")))
        if handler is None:
            raise HandlerError(f"no handler for topic {event.get('topic')!r}")
        return await handler(WebhookContext(self.settings, event, utcnow()))

    async def complete(self, event: dict[str, Any], result: str) -> bool:
        """Mark processed if we still hold the lease; False when another worker took over."""
        now = utcnow()
        updated = await self._events.update_one(
            {"_id": event["_id"], "lease_owner": self.worker_id, "processed": False},
            {
                "$set": {
                    "processed": True,
                    "processed_at": now,
                    "result": result[:MAX_ERROR_LENGTH],
                    "error": None,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
            },
        )
        if updated.modified_count == 0:
            logger.warning(
                "webhook event %s: lease lost before completion (applied again elsewhere?)",
                event["_id"],
            )
            return False
        return True

    async def fail(self, event: dict[str, Any], error: str) -> bool:
        """Record the failure; retry later with backoff, or park the event as dead."""
        now = utcnow()
        attempts = int(event.get("attempts") or 1)
        dead = attempts >= self.policy.max_attempts
        updated = await self._events.update_one(
            {"_id": event["_id"], "lease_owner": self.worker_id, "processed": False},
            {
                "$set": {
                    "error": error,
                    "failed_at": now,
                    "dead": dead,
                    "next_attempt_at": now + self.policy.backoff(attempts),
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
            },
        )
        log = logger.error if dead else logger.warning
        log(
            "webhook event %s (%s) failed, attempt %d%s: %s",
            event["_id"],
            event.get("topic"),
            attempts,
            " - parked as dead" if dead else "",
            error,
        )
        return bool(updated.modified_count == 1)

    async def process_one(self) -> bool:
        """Claim, apply and settle one event; False when none was due."""
        event = await self.claim()
        if event is None:
            return False
        if int(event.get("attempts") or 0) > self.policy.max_attempts:
            # Claimed more often than allowed without ever settling: it keeps killing workers.
            await self.fail(event, event.get("error") or "gave up: worker lost it too often")
            return True
        try:
            result = await self.apply(event)
        except Exception as exc:
            await self.fail(event, _describe(exc))
            return True
        await self.complete(event, result)
        return True

    async def run_until_idle(self, limit: int | None = None) -> int:
        """Process due events until none is left (or `limit` were handled); returns the count."""
        handled = 0
        while limit is None or handled < limit:
            if not await self.process_one():
                break
            handled += 1
        return handled


# Replay ----------------------------------------------------------------------------------------
REPLAY_RESET: dict[str, Any] = {
    "processed": False,
    "dead": False,
    "attempts": 0,
    "error": None,
    "lease_owner": None,
    "lease_expires_at": None,
}


class ReplayRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_event_id(raw: str) -> ObjectId | None:
    return ObjectId(raw) if ObjectId.is_valid(raw) else None


async def replay_event(tenant_id: str, event_pk: str) -> dict[str, Any]:
    """Put a dead or failed event of this tenant back in the queue, due now."""
    pk = parse_event_id(event_pk)
    if pk is None:
        raise ReplayRefused("NOT_FOUND", "No webhook event with this id")
    now = utcnow()
    events = WebhookEvent.get_pymongo_collection()
    updated: dict[str, Any] | None = await events.find_one_and_update(
        {
            "tenant_id": tenant_id,
            "_id": pk,
            "processed": False,
            "$or": [{"dead": True}, {"error": {"$ne": None}}],
        },
        {"$set": {**REPLAY_RESET, "next_attempt_at": now, "replayed_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is not None:
        return updated
    current = await events.find_one({"tenant_id": tenant_id, "_id": pk}, {"processed": 1})
    if current is None:
        raise ReplayRefused("NOT_FOUND", "No webhook event with this id")
    if current.get("processed"):
        raise ReplayRefused("ALREADY_PROCESSED", "This event was processed successfully")
    raise ReplayRefused("ALREADY_PENDING", "This event is already waiting to be processed")


async def replay_dead_events(tenant_id: str | None = None) -> int:
    """Re-queue every dead event (of one tenant, or all); returns how many."""
    now = utcnow()
    query: dict[str, Any] = {"dead": True, "processed": False}
    if tenant_id is not None:
        query = {"tenant_id": tenant_id, **query}
    result = await WebhookEvent.get_pymongo_collection().update_many(
        query, {"$set": {**REPLAY_RESET, "next_attempt_at": now, "replayed_at": now}}
    )
    return int(result.modified_count)
