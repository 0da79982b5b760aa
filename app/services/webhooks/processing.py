"""Background processing of `webhook_events`: claim under a lease, apply, complete or retry.

- Claim: one atomic `find_one_and_update` takes the oldest due event (`next_attempt_at` passed)
  and counts the attempt, so a worker that dies mid-event still uses up an attempt. The claim
  moves `next_attempt_at` to the lease's end: the lease doubles as the retry time, so an
  in-flight event is simply not due, a crashed worker's event is due again once its lease lapses,
  and the claim filter `{processed, dead, next_attempt_at <= now}` is served by one index
  (`pending`), with no `$or` on the lease.
- Heartbeat: while a handler runs, the lease (and `next_attempt_at`) is extended every third of
  the lease, so a long handler is never claimed a second time by another worker.
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
from datetime import UTC, timedelta
from enum import StrEnum
from typing import Any

import httpx
from bson import ObjectId
from pymongo import ReturnDocument

from app.clock import utcnow
from app.config import Settings
from app.models import WebhookEvent
from app.models.write_concerns import RELAXED_WRITES
from app.observability import metrics
from app.observability.tracing import continued_trace
from app.periodic import Periodic
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
        shopify_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.policy = policy or ProcessingPolicy.from_settings(settings)
        self.handlers = dict(HANDLERS if handlers is None else handlers)
        # Handlers ask Shopify before trusting what an unsigned header claims (see
        # `shopify_checks`); without a shared client each such check opens its own.
        self.shopify_http = shopify_http

    @property
    def _events(self) -> Any:
        return WebhookEvent.get_pymongo_collection()

    async def claim(self) -> dict[str, Any] | None:
        """Lease the oldest due event, or None when there is nothing to do."""
        now = utcnow()
        lease_end = now + timedelta(seconds=self.policy.lease_seconds)
        event: dict[str, Any] | None = await self._events.find_one_and_update(
            {"processed": False, "dead": False, "next_attempt_at": {"$lte": now}},
            {
                "$set": {
                    "lease_owner": self.worker_id,
                    "lease_expires_at": lease_end,
                    # the lease doubles as the retry time: due again only if we lose it
                    "next_attempt_at": lease_end,
                },
                "$inc": {"attempts": 1},
            },
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return event

    async def extend_lease(self, event: dict[str, Any]) -> bool:
        """Push our lease (and so the retry time) out by a full lease; False if we lost it."""
        lease_end = utcnow() + timedelta(seconds=self.policy.lease_seconds)
        # Relaxed: a heartbeat lost in a crash only shortens the lease (see RELAXED_WRITES).
        updated = await self._events.with_options(write_concern=RELAXED_WRITES).update_one(
            {"_id": event["_id"], "lease_owner": self.worker_id, "processed": False},
            {"$set": {"lease_expires_at": lease_end, "next_attempt_at": lease_end}},
        )
        return bool(updated.matched_count == 1)

    def _heartbeat(self, event: dict[str, Any]) -> Periodic:
        """Extends the event's lease every third of it while its handler runs (a failed beat is
        retried at the next: the lease has slack); ends when the lease is lost."""

        async def beat() -> bool:
            held = await self.extend_lease(event)
            if not held:
                logger.warning("webhook event %s: lease lost while its handler runs", event["_id"])
            return held

        return Periodic(
            beat, self.policy.lease_seconds / 3, name=f"webhook-heartbeat:{event['_id']}"
        )

    async def apply(self, event: dict[str, Any]) -> str:
        handler = self.handlers.get(str(event.get("topic")))
        if handler is None:
            raise HandlerError(f"no handler for topic {event.get('topic')!r}")
        # The processing continues the trace its delivery was received in (when tracing is on).
        topic = str(event.get("topic"))
        with continued_trace(event.get("trace_context"), f"webhook {topic}", {"topic": topic}):
            return await handler(WebhookContext(self.settings, event, utcnow(), self.shopify_http))

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
        received = event.get("received_at")
        lag = (now - received.replace(tzinfo=UTC)).total_seconds() if received else 0.0
        metrics.webhook_processed(str(event.get("topic")), lag)
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
        if updated.modified_count == 1:
            metrics.webhook_failed(str(event.get("topic")), dead=dead)
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
        beat = self._heartbeat(event)
        beat.start()
        try:
            result = await self.apply(event)
        except Exception as exc:
            await beat.stop()
            await self.fail(event, _describe(exc))
            return True
        finally:
            await beat.stop()
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


class WebhookEventErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_PROCESSED = "ALREADY_PROCESSED"
    IN_PROGRESS = "IN_PROGRESS"
    ALREADY_PENDING = "ALREADY_PENDING"
    TOO_LONG = "TOO_LONG"  # refused at the edge (see app/services/user_errors.py)
    INVALID = "INVALID"


class ReplayRefused(ValueError):
    def __init__(self, code: WebhookEventErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_event_id(raw: str) -> ObjectId | None:
    return ObjectId(raw) if ObjectId.is_valid(raw) else None


async def replay_event(tenant_id: str, event_pk: str) -> dict[str, Any]:
    """Put a dead or failed event of this tenant back in the queue, due now."""
    pk = parse_event_id(event_pk)
    if pk is None:
        raise ReplayRefused(WebhookEventErrorCode.NOT_FOUND, "No webhook event with this id")
    now = utcnow()
    events = WebhookEvent.get_pymongo_collection()
    updated: dict[str, Any] | None = await events.find_one_and_update(
        {
            "tenant_id": tenant_id,
            "_id": pk,
            "processed": False,
            "$and": [
                {"$or": [{"dead": True}, {"error": {"$ne": None}}]},
                # not while a worker holds a live lease on it (it would be applied twice);
                # the claim sets `next_attempt_at` to the lease's end, so past means lapsed
                {"$or": [{"lease_owner": None}, {"next_attempt_at": {"$lte": now}}]},
            ],
        },
        {"$set": {**REPLAY_RESET, "next_attempt_at": now, "replayed_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is not None:
        return updated
    current = await events.find_one(
        {"tenant_id": tenant_id, "_id": pk},
        {"processed": 1, "lease_owner": 1, "next_attempt_at": 1},
    )
    if current is None:
        raise ReplayRefused(WebhookEventErrorCode.NOT_FOUND, "No webhook event with this id")
    if current.get("processed"):
        raise ReplayRefused(
            WebhookEventErrorCode.ALREADY_PROCESSED, "This event was processed successfully"
        )
    if current.get("lease_owner") is not None and current.get("next_attempt_at", now) > now:
        raise ReplayRefused(
            WebhookEventErrorCode.IN_PROGRESS, "This event is being processed right now"
        )
    raise ReplayRefused(
        WebhookEventErrorCode.ALREADY_PENDING, "This event is already waiting to be processed"
    )


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
