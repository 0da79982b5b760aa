"""Sending merchants' webhooks: leased batches, each delivery retried with back-off.

A worker claims a random `DeliveryPolicy.batch` of the oldest due deliveries (one conditional
update that pushes their due time out by a lease, under a token of the claim) and sends them at
once (so messages may arrive out of order: receivers order them by `timestamp`): for each it
checks the endpoint's address (after DNS, `addresses.py`), signs the body afresh and POSTs it
with a 10 s timeout, on a client of its own (`_attempt_client`). A 2xx answer settles it;
anything else (another status, a redirect, a timeout, a refused address) is a failed attempt,
logged with its status, duration and the first 1 KB of the answer, and tried again after
`RETRY_SCHEDULE` (about a day in all). A delivery that fails its last attempt is
given up; if its endpoint has had no success since that delivery was made, the endpoint is
disabled (the merchant enables it again, and replays what failed).

At least once: a worker that dies after the receiver answered but before the result is written
loses its lease, and the delivery is sent again under the same `webhook-id` (receivers drop a
repeat by it, as Standard Webhooks asks of them). At most once would lose events a receiver
never saw, which it cannot ask for again; a repeat it can recognise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument, UpdateOne
from pymongo.results import BulkWriteResult, UpdateResult

from app.clock import utcnow
from app.config import Settings
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.bson import to_bson
from app.models.webhook_endpoint import DeliveryAttempt, DeliveryStatus, EndpointStatus
from app.services.notifications.addresses import (
    AddressPolicy,
    AddressRefused,
    pinned_request,
    resolve_checked,
)
from app.services.notifications.email import queue_endpoint_disabled_email
from app.services.notifications.endpoints import parse_endpoint_id, signing_secrets
from app.services.notifications.errors import NotificationErrorCode
from app.services.notifications.signing import signed_headers
from app.services.pagination import Page, PageRequest

logger = logging.getLogger(__name__)

# After the 1st, 2nd, ... failed attempt: 8 attempts over about 28 hours.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
RESPONSE_LOG_BYTES = 1024
MAX_LOGGED_ATTEMPTS = 20  # the newest are kept (a replayed delivery adds more)
USER_AGENT = "returns-management-webhooks/1"
PUBLIC_ONLY = AddressPolicy(allow_loopback=False)
ENDPOINT_CACHE_SECONDS = 2.0
CLAIM_READS = 3
# The oldest due deliveries are read this many batches' worth at a time (`DueWindow`) and each
# claim leases a random batch of them: processes claiming at the same moment then mostly lease
# different ones, instead of all racing for the same oldest few (one won, the others read
# again or went idle with work due). Oldest first still holds within the window.
CLAIM_WINDOW = 8
WINDOW_SECONDS = 2.0  # a read of the queue is used for at most this long
MAX_CLAIMS = 3 * (len(RETRY_SCHEDULE) + 1)  # leases a delivery may take without settling
_TLS = ssl.create_default_context()
MAX_CACHED_ENDPOINTS = 1000


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0  # longer than a whole attempt: DNS, connect, the 10 s answer
    batch: int = 32  # deliveries a worker claims at once and sends concurrently
    # How long a batch waits for its slowest sends before its outcomes are written and the
    # next batch claimed: a send still running then finishes beside the next batches and
    # writes its own outcome, so a slow receiver holds up its own sends only. A sender claims
    # only while fewer than a batch of those run (so at most two batches are in flight).
    batch_wait_seconds: float = 2.0
    schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    addresses: AddressPolicy = PUBLIC_ONLY

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("a delivery batch holds at least one delivery")

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout_seconds=settings.merchant_webhook_timeout_seconds,
            addresses=AddressPolicy.for_environment(settings.is_production),
        )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    attempt: DeliveryAttempt

    @property
    def succeeded(self) -> bool:
        code = self.attempt.status_code
        return code is not None and 200 <= code < 300


async def _read_start(response: httpx.Response) -> str:
    """The first `RESPONSE_LOG_BYTES` of the answer, not reading the rest."""
    taken = bytearray()
    async for chunk in response.aiter_bytes():  # decoded: a gzip answer is logged readable
        taken.extend(chunk)
        if len(taken) >= RESPONSE_LOG_BYTES:
            break
    return bytes(taken[:RESPONSE_LOG_BYTES]).decode("utf-8", errors="replace")


def _attempt_client(timeout: float) -> httpx.AsyncClient:
    """A client for one attempt: its own connection (a pooled one, keyed by address, would be
    reused for another host on the same address without checking that host's certificate), no
    cookies kept from one receiver for another, no proxy from the environment (a proxy would
    connect by name, around the address check), TLS context shared (building one is the costly
    part)."""
    return httpx.AsyncClient(
        verify=_TLS,
        trust_env=False,
        follow_redirects=False,
        timeout=timeout,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
    )


async def send_once(
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    settings: Settings,
    policy: DeliveryPolicy,
) -> AttemptResult:
    """One signed POST of the delivery's body to its endpoint; never raises (the receiver's
    failures, and ours, are the attempt's result)."""
    started = time.monotonic()
    at = utcnow()

    def attempt(**fields: Any) -> AttemptResult:
        duration = int((time.monotonic() - started) * 1000)
        return AttemptResult(DeliveryAttempt(at=at, duration_ms=duration, **fields))

    try:
        url = httpx.URL(endpoint.url)
        async with asyncio.timeout(policy.timeout_seconds):
            address = await resolve_checked(url, policy.addresses)
            target, host, extensions = pinned_request(url, address)
            headers = {
                **host,
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **signed_headers(
                    delivery.event_id, at, delivery.body, signing_secrets(endpoint, settings, at)
                ),
            }
            async with _attempt_client(policy.timeout_seconds) as http:
                request = http.build_request(
                    "POST",
                    target,
                    content=delivery.body.encode(),
                    headers=headers,
                    extensions=extensions,
                )
                response = await http.send(request, stream=True)
                try:
                    start = await _read_start(response)
                finally:
                    await response.aclose()
    except AddressRefused as exc:
        # The merchant sees that it was refused, not what our resolver answered (that would
        # map names inside our network); operators get the detail.
        logger.warning("webhook delivery %s: address refused: %s", delivery.id, exc)
        return attempt(error=f"address refused: {_public_reason(exc)}")
    except TimeoutError:
        return attempt(error=f"no answer within {policy.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return attempt(error=f"{type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # ours (a secret that no key decrypts, ...): a failed attempt
        logger.exception("webhook delivery %s: attempt failed on our side", delivery.id)
        return attempt(error=f"internal error ({type(exc).__name__}); operators are alerted")
    return attempt(status_code=response.status_code, response=start)


def _public_reason(exc: AddressRefused) -> str:
    text = str(exc)
    if "loopback" in text:
        return "the host resolves to a loopback address (allowed outside production only)"
    if "does not resolve" in text:
        return "the host does not resolve"
    return "the host resolves to an address that is not public"


class DueWindow:
    """The oldest due deliveries as last read, shared by one process's senders: each claim
    takes a random batch of them (senders of one process rarely try the same ones, senders of
    several processes mostly not), and the queue is read again when too few are left, when the
    read is `WINDOW_SECONDS` old, or when a claim found most of its picks taken elsewhere. The
    development database reads every due delivery to answer "the oldest N" (it applies a limit
    after sorting all of them), so a deep queue read before each claim cost more than the
    sends themselves."""

    def __init__(self) -> None:
        self._ids: list[ObjectId] = []
        self._read_at = 0.0
        self._reads = 0  # which read the ids come from: a stale claim forgets only its own
        self._reading = asyncio.Lock()

    async def take(self, limit: int, due: dict[str, Any]) -> tuple[list[ObjectId], int]:
        """A random `limit` of the oldest due, and which read they come from (for `forget`)."""
        async with self._reading:
            stale = time.monotonic() - self._read_at > WINDOW_SECONDS
            if len(self._ids) < limit or stale:
                size = limit * CLAIM_WINDOW
                read = await (
                    WebhookDelivery.get_pymongo_collection()
                    .find(due, {"_id": 1}, sort=[("next_attempt_at", 1)], limit=size)
                    .to_list(size)
                )
                self._ids = [doc["_id"] for doc in read]
                self._read_at = time.monotonic()
                self._reads += 1
        taken = random.sample(self._ids, min(limit, len(self._ids)))
        chosen = set(taken)
        self._ids = [known for known in self._ids if known not in chosen]
        return taken, self._reads

    def forget(self, read: int) -> None:
        """Read the queue again at the next claim: most of what `read` gave has been taken by
        others (a newer read, made meanwhile by a sibling sender, is kept)."""
        if read == self._reads:
            self._ids = []


class DeliveryWorker:
    """Claims a batch of due deliveries, sends them at once, records their attempts."""

    idle_seconds = 1.0  # idle, each sender polls once a second (2 per process by default)

    def __init__(
        self,
        worker_id: str,
        settings: Settings,
        policy: DeliveryPolicy | None = None,
        name: str = "merchant-webhooks",
        window: DueWindow | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.policy = policy or DeliveryPolicy.from_settings(settings)
        self.name = name
        self.window = window or DueWindow()
        self._endpoints: dict[tuple[str, str], tuple[float, WebhookEndpoint | None]] = {}
        self._stragglers: set[asyncio.Task[None]] = set()  # sends that outlived their batch
        self._writes: set[asyncio.Future[None]] = set()  # batches' outcome writes under way

    async def claim(self, limit: int = 1) -> list[WebhookDelivery]:
        """Lease up to `limit` due deliveries from the oldest (`CLAIM_WINDOW`, `DueWindow`):
        lease those still due with one conditional update under a token of this claim, read
        back which it won (two workers trying the same ones split them; each is leased by one)."""
        for _ in range(CLAIM_READS):
            won, tried = await self._claim_from_oldest(limit)
            if won or not tried:
                return won
            # other workers took every one tried: read the oldest again (not wait out the idle)
        return []

    async def _claim_from_oldest(self, limit: int) -> tuple[list[WebhookDelivery], int]:
        """(what this claim won, how many it tried to lease)."""
        deliveries = WebhookDelivery.get_pymongo_collection()
        now = utcnow()
        due = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}}
        ids, read = await self.window.take(limit, due)
        if not ids:
            return [], 0
        token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        lease_end = now + timedelta(seconds=self.policy.lease_seconds)
        await deliveries.update_many(
            # `due` again: one read earlier may since have been sent, or leased elsewhere
            {"_id": {"$in": ids}, **due},
            {
                # the lease doubles as the retry time: due again only if this worker dies
                "$set": {"next_attempt_at": lease_end, "lease_owner": token},
                "$inc": {"claims": 1},
            },
        )
        won = await deliveries.find({"_id": {"$in": ids}, "lease_owner": token}).to_list(limit)
        if 2 * len(won) < len(ids):  # the window is mostly taken elsewhere by now
            self.window.forget(read)
        return [WebhookDelivery.model_validate(doc) for doc in won], len(ids)

    async def run_once(self) -> bool:
        """Claim a batch (`DeliveryPolicy.batch`), send them at once and write their outcomes
        together: the claim's reads and writes are shared. Sends still running after
        `batch_wait_seconds` go on beside the next batches and write their own outcomes; with
        a batch of those running, the sender waits for one before it claims again."""
        while len(self._stragglers) >= self.policy.batch:
            await asyncio.wait(self._stragglers, return_when=asyncio.FIRST_COMPLETED)
        batch = await self.claim(self.policy.batch)
        if not batch:
            return False
        outcomes = BatchOutcomes()
        sends = {
            asyncio.create_task(self.deliver(delivery, outcomes)): delivery for delivery in batch
        }
        try:
            await asyncio.wait(sends, timeout=self.policy.batch_wait_seconds)
        finally:  # also when cancelled (the runner stopping): nothing answered goes unwritten
            for task, delivery in sends.items():
                if task.done():
                    _log_failure(delivery, task)
                else:
                    self._stragglers.add(task)
                    task.add_done_callback(self._straggler_done(delivery))
            # What finished (a straggler writes its own), in a task `aclose` waits for: a
            # sender cancelled meanwhile leaves it to finish.
            write = asyncio.ensure_future(outcomes.write())
            self._writes.add(write)
            write.add_done_callback(self._write_done)
        with contextlib.suppress(Exception):  # a failed write is logged by `_write_done`
            await asyncio.shield(write)
        return True

    def _write_done(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            logger.error(
                "webhook deliveries: a batch's outcomes were not written: %r", write.exception()
            )

    def _straggler_done(self, delivery: WebhookDelivery) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._stragglers.discard(task)
            _log_failure(delivery, task)

        return done

    async def run_until_idle(self) -> int:
        """Batches until none is due and every send and batch has written its outcome."""
        handled = 0
        while True:
            if await self.run_once():
                handled += 1
            elif self._stragglers or self._writes:
                await asyncio.wait(self._stragglers | self._writes)
            else:
                return handled

    async def aclose(self, grace_seconds: float) -> None:
        """Let the sends still running and the outcome writes finish within `grace_seconds`,
        then cancel the rest (their deliveries are sent again once their leases end)."""
        running = self._stragglers | self._writes
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        left = [*self._stragglers, *self._writes]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def _endpoint(self, delivery: WebhookDelivery) -> WebhookEndpoint | None:
        """The delivery's endpoint, read at most every `ENDPOINT_CACHE_SECONDS` per worker: a
        burst of one shop's events costs one read, and a change (disabled, deleted, a new URL or
        secret) is seen within that time."""
        key = (delivery.tenant_id, delivery.endpoint_id)
        cached = self._endpoints.get(key)
        moment = time.monotonic()
        fresh = cached is not None and moment - cached[0] < ENDPOINT_CACHE_SECONDS
        if cached is not None and fresh and cached[1] is not None and _enabled(cached[1]):
            return cached[1]  # only "send" is taken from the cache; "do not" is read again
        oid = parse_endpoint_id(delivery.endpoint_id)
        found = (
            await WebhookEndpoint.find_one({"_id": oid, "tenant_id": delivery.tenant_id})
            if oid is not None
            else None
        )
        if len(self._endpoints) >= MAX_CACHED_ENDPOINTS:
            self._endpoints.clear()
        self._endpoints[key] = (moment, found)
        return found

    async def deliver(
        self, delivery: WebhookDelivery, outcomes: BatchOutcomes | None = None
    ) -> None:
        """Send it once and record the outcome; a success or a retry to schedule is added to
        `outcomes` for the caller to write with the rest of its batch, when given."""
        endpoint = await self._endpoint(delivery)
        if endpoint is None:
            await self._settle(delivery, DeliveryStatus.FAILED, "the endpoint was deleted")
            return
        if endpoint.status is not EndpointStatus.ENABLED:
            await self._settle(delivery, DeliveryStatus.FAILED, "the endpoint is disabled")
            return
        if delivery.claims > MAX_CLAIMS:  # leased again and again, never settled
            await self._settle(
                delivery, DeliveryStatus.FAILED, "given up: its sender kept stopping mid-send"
            )
            return
        result = await send_once(endpoint, delivery, self.settings, self.policy)
        if result.succeeded:
            if outcomes is None or not outcomes.add_success(delivery, result.attempt):
                await self._settle(delivery, DeliveryStatus.SUCCEEDED, None, result.attempt)
            return
        failures = delivery.failures + 1
        reason = _describe(result.attempt)
        if failures > len(self.policy.schedule):
            settled = await self._settle(delivery, DeliveryStatus.FAILED, reason, result.attempt)
            if settled:
                await _disable_if_failing(endpoint, delivery, reason, self.settings)
            return
        await self._record(
            delivery,
            result.attempt,
            {
                "failures": failures,
                "failure": reason,
                "next_attempt_at": utcnow() + self.policy.schedule[failures - 1],
                "lease_owner": None,
            },
            outcomes=outcomes,
        )

    async def _record(
        self,
        delivery: WebhookDelivery,
        attempt: DeliveryAttempt | None,
        values: dict[str, Any],
        outcomes: BatchOutcomes | None = None,
    ) -> bool:
        """Write the outcome if this worker still holds the lease (else another took over);
        added to `outcomes` instead, when given (then taken as written)."""
        update: dict[str, Any] = {"$set": values}
        if attempt is not None:
            update["$push"] = {
                "attempts": {"$each": [to_bson(attempt)], "$slice": -MAX_LOGGED_ATTEMPTS}
            }
        leased = {
            "_id": delivery.id,
            "tenant_id": delivery.tenant_id,
            "status": DeliveryStatus.PENDING.value,
            "lease_owner": delivery.lease_owner,
        }
        if outcomes is not None and outcomes.add_other(UpdateOne(leased, update)):
            return True
        written = await WebhookDelivery.get_pymongo_collection().update_one(leased, update)
        if written.modified_count != 1:
            logger.warning("webhook delivery %s: lease lost before its result", delivery.id)
        return bool(written.modified_count == 1)

    async def _settle(
        self,
        delivery: WebhookDelivery,
        status: DeliveryStatus,
        reason: str | None,
        attempt: DeliveryAttempt | None = None,
    ) -> bool:
        return await self._record(delivery, attempt, _settled(status, reason))


def _settled(status: DeliveryStatus, reason: str | None) -> dict[str, Any]:
    """The fields of a delivery that is done with (no more attempts)."""
    return {
        "status": status.value,
        "failure": reason,
        "next_attempt_at": None,
        "lease_owner": None,
        "settled_at": utcnow(),
    }


class BatchOutcomes:
    """The outcomes of one claimed batch, written together once its sends are done, each still
    guarded by its lease: the successes (nearly all of them) in one update, each delivery given
    its own attempt; the retries to schedule in one bulk write. One update of many documents
    cost the development database about 60% of one update per document (BENCHMARKS.md)."""

    def __init__(self) -> None:
        self.successes: list[tuple[WebhookDelivery, DeliveryAttempt]] = []
        self.others: list[UpdateOne] = []
        self.written = False  # then an outcome that comes later is written on its own

    def add_success(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> bool:
        """Taken for the batch's write; `False` once it is written (write it on its own)."""
        if not self.written:
            self.successes.append((delivery, attempt))
        return not self.written

    def add_other(self, update: UpdateOne) -> bool:
        """Taken for the batch's write; `False` once it is written (write it on its own)."""
        if not self.written:
            self.others.append(update)
        return not self.written

    async def write(self) -> None:
        """Write them all; when one write fails the others are still made, then it raises
        (what it would have written is sent again once its lease ends)."""
        self.written = True
        collection = WebhookDelivery.get_pymongo_collection()
        writes = []
        if self.successes:  # one claim's: one lease token
            writes.append(_modified(collection.update_many(*_settle_succeeded(self.successes))))
        if self.others:
            writes.append(_modified(collection.bulk_write(self.others, ordered=False)))
        results = await asyncio.gather(*writes, return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures[1:]:
            logger.error("webhook deliveries: an outcome write failed too: %r", failure)
        if failures:
            raise failures[0]
        expected = len(self.successes) + len(self.others)
        written = sum(result for result in results if isinstance(result, int))
        if written != expected:
            logger.warning(
                "webhook deliveries: %d of %d outcomes found their lease lost",
                expected - written,
                expected,
            )


async def _modified(write: Awaitable[UpdateResult | BulkWriteResult]) -> int:
    return (await write).modified_count


def _settle_succeeded(
    leased: list[tuple[WebhookDelivery, DeliveryAttempt]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The filter and pipeline update settling deliveries of one lease as succeeded: each
    document appends the attempt whose `_id` is its own (`$literal`: a logged answer may start
    with "$", which an expression would take for a field path)."""
    first = leased[0][0]
    attempt = {
        "$switch": {
            "branches": [
                {"case": {"$eq": ["$_id", delivery.id]}, "then": {"$literal": to_bson(attempt)}}
                for delivery, attempt in leased
            ]
        }
    }
    logged = {"$concatArrays": [{"$ifNull": ["$attempts", []]}, [attempt]]}
    settled = {
        **_settled(DeliveryStatus.SUCCEEDED, None),
        "attempts": {"$slice": [logged, -MAX_LOGGED_ATTEMPTS]},
    }
    return (
        {
            "_id": {"$in": [delivery.id for delivery, _ in leased]},
            "tenant_id": {"$in": sorted({delivery.tenant_id for delivery, _ in leased})},
            "status": DeliveryStatus.PENDING.value,
            "lease_owner": first.lease_owner,
        },
        [{"$set": settled}],
    )


def _log_failure(delivery: WebhookDelivery, task: asyncio.Task[None]) -> None:
    """A send that raised (its lease runs out and it is sent again; the others are written)."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("webhook delivery %s failed: %r", delivery.id, task.exception())


def _enabled(endpoint: WebhookEndpoint) -> bool:
    return endpoint.status is EndpointStatus.ENABLED


def _describe(attempt: DeliveryAttempt) -> str:
    if attempt.status_code is not None:
        return f"answered {attempt.status_code}"
    return attempt.error or "failed"


async def _disable_if_failing(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, reason: str, settings: Settings
) -> None:
    """Disable the endpoint when nothing reached it since `delivery` was made (about a day of
    failing): its deliveries stop until the merchant enables it again."""
    succeeded_since = await WebhookDelivery.find_one(
        {
            "tenant_id": endpoint.tenant_id,
            "endpoint_id": str(endpoint.id),
            "status": DeliveryStatus.SUCCEEDED.value,
            "settled_at": {"$gt": delivery.created_at},
        }
    )
    if succeeded_since is not None:
        return
    now = utcnow()
    disabled = await WebhookEndpoint.get_pymongo_collection().update_one(
        {
            "_id": endpoint.id,
            "tenant_id": endpoint.tenant_id,
            "status": EndpointStatus.ENABLED.value,
        },
        {
            "$set": {
                "status": EndpointStatus.DISABLED.value,
                "disabled_reason": f"Every delivery failed since {delivery.created_at:%Y-%m-%d %H:%M} UTC (last: {reason}).",
                "disabled_at": now,
                "updated_at": now,
            }
        },
    )
    if disabled.modified_count == 1:
        if settings.smtp_url:  # the merchant is told (their staff address, when they gave one)
            await queue_endpoint_disabled_email(endpoint.url, endpoint.tenant_id, reason)
        logger.warning(
            "webhook endpoint %s of tenant %s disabled: every delivery failed since %s (%s)",
            endpoint.id,
            endpoint.tenant_id,
            delivery.created_at,
            reason,
        )


# Reading and replaying -------------------------------------------------------------------------


class ReplayRefused(ValueError):
    def __init__(self, code: NotificationErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_delivery_id(raw: str) -> ObjectId | None:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        return None


async def get_delivery(tenant_id: str, delivery_id: str) -> WebhookDelivery | None:
    oid = parse_delivery_id(delivery_id)
    if oid is None:
        return None
    return await WebhookDelivery.find_one({"_id": oid, "tenant_id": tenant_id})


async def replay_delivery(tenant_id: str, delivery_id: str) -> WebhookDelivery:
    """Send a settled delivery again, now, with a fresh round of attempts (same body, same
    `webhook-id`). Its endpoint must exist and be enabled."""
    found = await get_delivery(tenant_id, delivery_id)
    if found is None:
        raise ReplayRefused(NotificationErrorCode.NOT_FOUND, "No such webhook delivery.")
    endpoint_oid = parse_endpoint_id(found.endpoint_id)
    endpoint = await WebhookEndpoint.find_one({"_id": endpoint_oid, "tenant_id": tenant_id})
    if endpoint is None or endpoint.status is not EndpointStatus.ENABLED:
        raise ReplayRefused(
            NotificationErrorCode.INVALID,
            "Its endpoint is deleted or disabled; enable the endpoint first.",
        )
    now = utcnow()
    raw = await WebhookDelivery.get_pymongo_collection().find_one_and_update(
        {"_id": found.id, "tenant_id": tenant_id, "status": {"$ne": DeliveryStatus.PENDING.value}},
        {
            "$set": {
                "status": DeliveryStatus.PENDING.value,
                "next_attempt_at": now,
                "failures": 0,
                "claims": 0,
                "failure": None,
                "settled_at": None,
                "lease_owner": None,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise ReplayRefused(
            NotificationErrorCode.DELIVERY_PENDING, "This delivery is still being sent."
        )
    replayed: WebhookDelivery = WebhookDelivery.model_validate(raw)
    return replayed


async def list_deliveries(
    tenant_id: str,
    page: PageRequest,
    endpoint_id: str | None = None,
    status: DeliveryStatus | None = None,
) -> Page[WebhookDelivery]:
    """A page of deliveries, newest first."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if endpoint_id is not None:
        query["endpoint_id"] = endpoint_id
    if status is not None:
        query["status"] = status.value
    query.update(page.filter())
    items = await WebhookDelivery.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(items, lambda delivery: (delivery.created_at, delivery.id))
