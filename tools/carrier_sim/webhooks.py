"""Event delivery as EasyPost does it: a signed JSON POST per Event to the account's webhook
URL, retried with exponential back-off; plus the faults tests ask for (duplicates, reordering,
forged signatures, failed attempts).

Events of one tracker are delivered one after another, in the order they happened (the next
waits until the one before is delivered or given up), unless a `reorder` fault holds one back;
events of different trackers go out side by side.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import unicodedata
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from tools.shopify_sim.webhooks import triggered_at

from .config import CarrierSimConfig
from .models import JSON, EventRecord, Fault, WebhookTarget
from .state import CarrierState

SIGNATURE_HEADER = "X-Hmac-Signature"
USER_AGENT = "EasyPost WebHook Agent 1.0"


def sign_easypost_webhook(body: bytes, secret: str) -> str:
    """The `X-Hmac-Signature` value EasyPost sends: `hmac-sha256-hex=` and the lowercase hex
    HMAC-SHA256 of the exact body bytes, keyed by the secret NFKD-normalised, UTF-8 encoded
    (as EasyPost's client libraries compute it to validate)."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass
class Job:
    """One POST of an Event (a copy, when duplicated), with its retries."""

    event: EventRecord
    body: bytes
    record: JSON  # the delivery as `GET /_sim/deliveries` shows it
    forged: bool = False
    retry: bool = True


@dataclass
class EventDispatcher:
    """Owns the httpx client and the delivery tasks; lives on the server's event loop."""

    config: CarrierSimConfig
    state: CarrierState
    http: httpx.AsyncClient | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    chains: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    held: dict[str, list[Job]] = field(default_factory=dict)
    pending: int = 0
    settled: asyncio.Event | None = None

    async def start(self) -> None:
        # connecting may take `webhook_connect_timeout`; anything else `webhook_read_timeout`
        timeout = httpx.Timeout(
            self.config.webhook_read_timeout, connect=self.config.webhook_connect_timeout
        )
        self.http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        self.settled = asyncio.Event()
        self.settled.set()

    async def close(self) -> None:
        await self.cancel_all()
        if self.http is not None:
            await self.http.aclose()

    async def cancel_all(self) -> None:
        """Drop every delivery under way or held (`POST /_sim/reset`)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.chains.clear()
        self.held.clear()
        self.pending = 0
        if self.settled is not None:
            self.settled.set()

    # Emitting ------------------------------------------------------------------------------
    def emit(self, event: EventRecord) -> list[JSON]:
        """Schedule the deliveries of a new Event (call on the server's loop); returns them."""
        target = self.state.webhook_for_id(event.account_id)
        if target is None:
            return []  # recorded for `GET /_sim/events`, sent nowhere, as with no webhook
        jobs: list[Job] = []
        forged = self.state.take_webhook_fault(event.account_id, "forged")
        if forged is not None:
            # someone else's POST: a body of their choosing, signed without the secret; sent
            # once, never retried (it is not EasyPost's delivery), before the real one
            jobs.append(self._job(event, target, self._forged_body(event, forged), forged=True))
        jobs.append(self._job(event, target, event.body))
        if self.state.take_webhook_fault(event.account_id, "duplicate") is not None:
            jobs.append(self._job(event, target, event.body, copy=1))
        if self.state.take_webhook_fault(event.account_id, "reorder") is not None:
            with self.state.lock:
                for job in jobs:
                    job.record["state"] = "held"
            self.held.setdefault(event.chain, []).extend(jobs)
            return [job.record for job in jobs]
        self._schedule(event.chain, jobs)
        # a held Event goes out right after the next Event of its tracker
        self._schedule(event.chain, self.held.pop(event.chain, []))
        return [job.record for job in jobs]

    def resend(self, event: EventRecord) -> list[JSON]:
        """Deliver an Event again, as it was (a late duplicate)."""
        target = self.state.webhook_for_id(event.account_id)
        if target is None:
            return []
        job = self._job(event, target, event.body, copy=len(self._records_of(event)))
        self._schedule(event.chain, [job])
        return [job.record]

    def release_held(self) -> int:
        held = list(self.held.items())
        self.held.clear()
        for chain, jobs in held:
            self._schedule(chain, jobs)
        return sum(len(jobs) for _, jobs in held)

    async def settle(self, timeout: float) -> bool:
        """Wait until nothing is being delivered (Events held by a `reorder` fault wait for
        their tracker's next Event, or `release_held`, and are not waited for)."""
        if self.settled is None or self.pending <= 0:
            return True
        try:
            await asyncio.wait_for(self.settled.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _forged_body(self, event: EventRecord, fault: Fault) -> bytes:
        if fault.status is None:
            return event.body
        payload = orjson.loads(event.body)
        payload["result"]["status"] = fault.status
        return orjson.dumps(payload)

    def _records_of(self, event: EventRecord) -> list[JSON]:
        with self.state.lock:
            return [d for d in self.state.deliveries if d["event_id"] == event.id]

    def _job(
        self,
        event: EventRecord,
        target: WebhookTarget,
        body: bytes,
        *,
        copy: int = 0,
        forged: bool = False,
    ) -> Job:
        record: JSON = {
            "id": f"dlv_{secrets.token_hex(8)}",
            "event_id": event.id,
            "account_id": event.account_id,
            "description": event.description,
            "chain": event.chain,
            "url": target.url,
            "copy": copy,
            "forged": forged,
            "state": "pending",
            "attempts": [],
        }
        with self.state.lock:
            self.state.deliveries.append(record)
            if target.url not in event.urls:
                event.urls.append(target.url)
        return Job(event, body, record, forged=forged, retry=not forged)

    def _schedule(self, chain: str, jobs: list[Job]) -> None:
        if not jobs:
            return
        self._track(len(jobs))
        with self.state.lock:
            for job in jobs:
                job.record["state"] = "pending"
        previous = self.chains.get(chain)

        async def in_order() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            for job in jobs:
                await self._deliver(job)

        task = self._spawn(in_order())
        self.chains[chain] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self.chains.get(chain) is done:
                del self.chains[chain]

        task.add_done_callback(forget)

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _track(self, count: int) -> None:
        self.pending += count
        if self.settled is not None:
            self.settled.clear()

    def _done(self) -> None:
        self.pending -= 1
        if self.pending <= 0 and self.settled is not None:
            self.settled.set()

    # Delivering ----------------------------------------------------------------------------
    async def _deliver(self, job: Job) -> None:
        try:
            retries = self.config.webhook_max_retries if job.retry else 0
            for attempt in range(retries + 1):
                if await self._attempt(job, attempt):
                    self._finish(job, "delivered")
                    return
                if attempt < retries:
                    delay = (
                        self.config.webhook_retry_base_seconds
                        * (2**attempt)
                        * self.config.webhook_time_scale
                    )
                    await asyncio.sleep(delay)
            self._finish(job, "failed")
        finally:
            self._done()

    def _finish(self, job: Job, outcome: str) -> None:
        with self.state.lock:
            job.record["state"] = outcome
            url = job.record["url"]
            if outcome == "delivered" and not job.forged and url not in job.event.completed_urls:
                job.event.completed_urls.append(url)

    async def _attempt(self, job: Job, attempt: int) -> bool:
        assert self.http is not None
        target = self.state.webhook_for_id(job.event.account_id)
        secret = target.secret if target is not None else None
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if job.forged:
            headers[SIGNATURE_HEADER] = sign_easypost_webhook(
                job.body, f"forged-{secrets.token_hex(8)}"
            )
        elif secret:
            headers[SIGNATURE_HEADER] = sign_easypost_webhook(job.body, secret)
        result: JSON = {
            "attempt": attempt,
            "at": triggered_at(),
            "status_code": None,
            "error": None,
            "ok": False,
            "signed": SIGNATURE_HEADER in headers,
        }
        started = time.monotonic()
        if self.state.take_webhook_fault(job.event.account_id, "fail_n") is not None:
            result["error"] = "ConnectError: simulated connection failure (fail_n fault)"
        else:
            try:
                response = await self.http.post(
                    job.record["url"], content=job.body, headers=headers
                )
                result["status_code"] = response.status_code
                result["ok"] = 200 <= response.status_code < 300
            except httpx.HTTPError as error:
                result["error"] = f"{type(error).__name__}: {error}"
        result["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
        with self.state.lock:
            job.record["attempts"].append(result)
        return bool(result["ok"])
