"""Webhook delivery: signed POSTs in background tasks, retries with backoff, duplicates, reordering."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from .config import SimulatorConfig
from .models import JSON, ShopState, Subscription, WebhookFaults

TOPICS = {
    "APP_UNINSTALLED": "app/uninstalled",
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_DELETE": "orders/delete",
    "CUSTOMERS_CREATE": "customers/create",
    "CUSTOMERS_UPDATE": "customers/update",
    "BULK_OPERATIONS_FINISH": "bulk_operations/finish",
    "RETURNS_REQUEST": "returns/request",
    "RETURNS_APPROVE": "returns/approve",
    "RETURNS_DECLINE": "returns/decline",
    "RETURNS_CANCEL": "returns/cancel",
    "RETURNS_CLOSE": "returns/close",
    "RETURNS_REOPEN": "returns/reopen",
    "RETURNS_PROCESS": "returns/process",
    "REFUNDS_CREATE": "refunds/create",
    "REVERSE_DELIVERIES_ATTACH_DELIVERABLE": "reverse_deliveries/attach_deliverable",
    "SHOP_UPDATE": "shop/update",
}
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# Subscribed in the app's configuration (shopify.app.toml), not per shop through the Admin API:
# delivered to the shop's `compliance_url` template like the compliance topics.
APP_CONFIG_TOPICS = (*COMPLIANCE_TOPICS, "app/scopes_update")


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def triggered_at() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Target:
    url: str
    api_version: str
    subscription: Subscription | None  # None for compliance deliveries (app configuration)


class WebhookDispatcher:
    """Sends events of every shop; owns its httpx client and the delivery tasks."""

    def __init__(self, config: SimulatorConfig, default_api_version: str) -> None:
        self.config = config
        self.default_api_version = default_api_version
        self.http: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        timeout = httpx.Timeout(
            connect=self.config.webhook_connect_timeout,
            read=self.config.webhook_read_timeout,
            write=self.config.webhook_read_timeout,
            pool=self.config.webhook_read_timeout,
        )
        self.http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    # Events ------------------------------------------------------------------------------
    def targets_for(self, shop: ShopState, topic: str) -> list[Target]:
        if topic in APP_CONFIG_TOPICS:
            if not shop.compliance_url:
                return []
            url = shop.compliance_url.replace("{topic}", topic)
            return [Target(url, self.default_api_version, None)]
        return [
            Target(sub.callback_url, sub.api_version, sub)
            for sub in shop.subscriptions.values()
            if TOPICS.get(sub.topic) == topic
        ]

    def emit(
        self,
        shop: ShopState,
        topic: str,
        payload: JSON,
        *,
        targets: list[Target] | None = None,
        options: WebhookFaults | None = None,
    ) -> JSON:
        """Record an event and schedule its deliveries (call from the simulator's event loop)."""
        options = options or shop.webhook_faults
        event: JSON = {
            "event_id": str(uuid.uuid4()),
            "topic": topic,
            "triggered_at": triggered_at(),
            "targets": [],
            "held": False,
        }
        body = orjson.dumps(payload)
        chosen = self.targets_for(shop, topic) if targets is None else targets
        event["targets"] = [target.url for target in chosen]
        shop.events.append(event | {"payload": payload})
        if not chosen:
            return event
        jobs = [(target, str(uuid.uuid4())) for target in chosen]
        self._track(shop, len(jobs) * max(1, options.duplicates))

        def dispatch() -> list[asyncio.Task[Any]]:
            started: list[asyncio.Task[Any]] = []
            for target, webhook_id in jobs:
                started.extend(
                    self._start_target(shop, topic, event, target, webhook_id, body, options)
                )
            return started

        if options.hold_next > 0 and options is shop.webhook_faults:
            shop.webhook_faults.hold_next -= 1
            event["held"] = True
            shop.held_events.append(dispatch)
            return event
        tasks = dispatch()
        if shop.held_events:
            held = list(shop.held_events)
            shop.held_events.clear()
            self._spawn(self._release_after(tasks, held))
        return event

    def release_held(self, shop: ShopState) -> int:
        held = list(shop.held_events)
        shop.held_events.clear()
        for dispatch in held:
            dispatch()
        return len(held)

    async def _release_after(
        self, tasks: list[asyncio.Task[Any]], held: list[Callable[[], Any]]
    ) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        for dispatch in held:
            dispatch()

    def _start_target(
        self,
        shop: ShopState,
        topic: str,
        event: JSON,
        target: Target,
        webhook_id: str,
        body: bytes,
        options: WebhookFaults,
    ) -> list[asyncio.Task[Any]]:
        copies = max(1, options.duplicates)
        if options.concurrent:
            return [
                self._spawn(self._deliver(shop, topic, event, target, webhook_id, body, copy))
                for copy in range(copies)
            ]

        async def in_sequence() -> None:
            for copy in range(copies):
                await self._deliver(shop, topic, event, target, webhook_id, body, copy)

        return [self._spawn(in_sequence())]

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _track(self, shop: ShopState, count: int) -> None:
        if shop.settled is None:
            shop.settled = asyncio.Event()
        shop.pending_deliveries += count
        shop.settled.clear()

    def _done(self, shop: ShopState) -> None:
        shop.pending_deliveries -= 1
        if shop.pending_deliveries <= 0 and not shop.held_events and shop.settled is not None:
            shop.settled.set()

    async def settle(self, shop: ShopState, timeout: float) -> bool:
        if shop.settled is None or shop.pending_deliveries <= 0:
            return True
        try:
            await asyncio.wait_for(shop.settled.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # Delivery ----------------------------------------------------------------------------
    async def _deliver(
        self,
        shop: ShopState,
        topic: str,
        event: JSON,
        target: Target,
        webhook_id: str,
        body: bytes,
        copy: int,
    ) -> None:
        try:
            retries = self.config.webhook_max_retries
            for attempt in range(retries + 1):
                if await self._attempt(shop, topic, event, target, webhook_id, body, copy, attempt):
                    if target.subscription is not None:
                        target.subscription.failures = 0
                    return
                if attempt < retries:
                    delay = (
                        self.config.webhook_retry_base_seconds
                        * (2**attempt)
                        * self.config.webhook_time_scale
                    )
                    await asyncio.sleep(delay)
            self._give_up(shop, target)
        finally:
            self._done(shop)

    def _give_up(self, shop: ShopState, target: Target) -> None:
        subscription = target.subscription
        if subscription is None:
            return
        subscription.failures += 1
        if (
            self.config.remove_failing_subscriptions
            and shop.subscriptions.pop(subscription.id, None) is not None
        ):
            shop.deliveries.append(
                {
                    "kind": "subscription_removed",
                    "subscription_id": subscription.id,
                    "callback_url": subscription.callback_url,
                }
            )

    async def _attempt(
        self,
        shop: ShopState,
        topic: str,
        event: JSON,
        target: Target,
        webhook_id: str,
        body: bytes,
        copy: int,
        attempt: int,
    ) -> bool:
        assert self.http is not None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-API-Version": target.api_version,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event["event_id"],
            "X-Shopify-Triggered-At": event["triggered_at"],
            "X-Shopify-Hmac-Sha256": sign(body, self.config.api_secret),
        }
        record: JSON = {
            "kind": "attempt",
            "delivery_id": secrets.token_hex(8),
            "event_id": event["event_id"],
            "webhook_id": webhook_id,
            "topic": topic,
            "url": target.url,
            "subscription_id": target.subscription.id if target.subscription else None,
            "copy": copy,
            "attempt": attempt,
            "status_code": None,
            "error": None,
            "ok": False,
            "at": triggered_at(),
        }
        started = time.monotonic()
        try:
            response = await self.http.post(target.url, content=body, headers=headers)
            record["status_code"] = response.status_code
            record["ok"] = 200 <= response.status_code < 300
        except httpx.HTTPError as error:
            record["error"] = f"{type(error).__name__}: {error}"
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
        shop.deliveries.append(record)
        return bool(record["ok"])
