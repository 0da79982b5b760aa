"""In-memory records of the simulated platform: shops, tokens, subscriptions, returns, buckets."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import BucketConfig

JSON = dict[str, Any]
# what the simulator takes as a URL Shopify would accept (callbacks, tracking and label files)
HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """Shopify's DateTime format: seconds precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def user_error(field: list[str] | None, message: str, code: str) -> JSON:
    """A `ReturnUserError` (and the like): where in the input, what is wrong, its code."""
    return {"field": field, "message": message, "code": code}


def gid_number(value: str) -> int | None:
    """The numeric part of a GID (or of a bare number); None when it is neither."""
    tail = value.rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


@dataclass
class Bucket:
    """Leaky bucket of query cost points; `available` is as of `updated` (monotonic seconds)."""

    maximum: float
    restore_rate: float
    available: float
    updated: float = field(default_factory=time.monotonic)

    @classmethod
    def from_config(cls, config: BucketConfig) -> Bucket:
        return cls(config.maximum, config.restore_rate, config.maximum)

    def level(self) -> float:
        now = time.monotonic()
        self.available = min(
            self.maximum, self.available + (now - self.updated) * self.restore_rate
        )
        self.updated = now
        return self.available

    def try_take(self, cost: float) -> bool:
        if self.level() < cost:
            return False
        self.available -= cost
        return True

    def refund(self, amount: float) -> None:
        self.level()
        self.available = min(self.maximum, self.available + max(0.0, amount))

    def status(self) -> JSON:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": int(self.level()),
            "restoreRate": float(self.restore_rate),
        }


@dataclass
class Faults:
    """Injected misbehaviour of the Admin GraphQL endpoint of one shop."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    fail_next: int = 0
    timeout_rate: float = 0.0
    timeout_next: int = 0
    hang_seconds: float = 30.0
    # apply, then drop the answer: the next N requests (only those whose query text contains
    # `drop_response_operation`, when set) are executed in full, then answered 502, empty body
    drop_response_next: int = 0
    drop_response_operation: str | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def take_drop(self, query: str) -> bool:
        """Whether this request's answer is to be dropped (uses up one `drop_response_next`)."""
        if self.drop_response_next <= 0:
            return False
        if self.drop_response_operation and self.drop_response_operation not in query:
            return False
        self.drop_response_next -= 1
        return True

    def public(self) -> JSON:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "fail_next": self.fail_next,
            "timeout_rate": self.timeout_rate,
            "timeout_next": self.timeout_next,
            "hang_seconds": self.hang_seconds,
            "drop_response_next": self.drop_response_next,
            "drop_response_operation": self.drop_response_operation,
        }


@dataclass
class WebhookFaults:
    """Delivery quirks: duplicates of each event, concurrency of duplicates, holding events back."""

    duplicates: int = 1
    concurrent: bool = False
    hold_next: int = 0

    def public(self) -> JSON:
        return {
            "duplicates": self.duplicates,
            "concurrent": self.concurrent,
            "hold_next": self.hold_next,
        }


@dataclass
class AppProxy:
    """The app's app proxy: storefront `/{prefix}/{subpath}/...` of every shop is forwarded to
    `url` plus the rest of the path (no `url`: not configured, those paths answer 404)."""

    url: str | None = None
    prefix: str = "apps"
    subpath: str = "returns"
    timeout_seconds: float = 10.0

    @property
    def path_prefix(self) -> str:
        return f"/{self.prefix}/{self.subpath}"

    def public(self) -> JSON:
        return {
            "url": self.url,
            "prefix": self.prefix,
            "subpath": self.subpath,
            "path_prefix": self.path_prefix,
            "timeout": self.timeout_seconds,
        }


@dataclass
class TokenRecord:
    token: str
    shop: str
    scope: str
    expires_at: float  # epoch seconds
    kind: str  # "access" | "refresh"
    revoked: bool = False

    def valid(self) -> bool:
        return not self.revoked and time.time() < self.expires_at


@dataclass
class Subscription:
    id: str
    topic: str  # GraphQL enum name, e.g. ORDERS_CREATE
    callback_url: str
    format: str
    api_version: str
    created_at: str
    updated_at: str
    include_fields: list[str] = field(default_factory=list)
    filter: str | None = None
    failures: int = 0

    def node(self) -> JSON:
        return {
            "id": self.id,
            "topic": self.topic,
            "format": self.format,
            "callbackUrl": self.callback_url,
            "uri": self.callback_url,
            "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": self.callback_url},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "includeFields": self.include_fields,
            "filter": self.filter,
            "apiVersion": {"handle": self.api_version},
        }


@dataclass
class BulkOperation:
    id: str
    query: str
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    created_at: str = ""
    completed_at: str | None = None
    result: bytes = b""

    def node(self) -> JSON:
        return {
            "id": self.id,
            "status": self.status,
            "errorCode": self.error_code,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": None if self.file_size is None else str(self.file_size),
            "url": self.url,
            "partialDataUrl": None,
            "createdAt": self.created_at,
            "completedAt": self.completed_at,
            "query": self.query,
            "type": "QUERY",
        }


@dataclass
class ShopState:
    """Everything one simulated shop holds."""

    domain: str
    shop_id: int
    name: str
    email: str
    currency: str
    seed: int
    rng: random.Random
    bucket: Bucket
    compliance_url: str | None
    orders: list[JSON] = field(default_factory=list)
    orders_by_id: dict[str, JSON] = field(default_factory=dict)
    customers: list[JSON] = field(default_factory=list)
    customers_by_id: dict[str, JSON] = field(default_factory=dict)
    products: list[JSON] = field(default_factory=list)
    line_items_by_id: dict[str, JSON] = field(default_factory=dict)
    fulfillment_line_items_by_id: dict[str, JSON] = field(default_factory=dict)
    next_order_number: int = 1001
    id_counters: dict[str, int] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    returns: dict[str, JSON] = field(default_factory=dict)
    bulk_operations: list[BulkOperation] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    webhook_faults: WebhookFaults = field(default_factory=WebhookFaults)
    held_events: list[Any] = field(default_factory=list)
    installed: bool = False
    uninstalled_at: str | None = None
    granted_scope: str = ""  # what the merchant granted the app, comma-separated
    deliveries: list[JSON] = field(default_factory=list)
    events: list[JSON] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    pending_deliveries: int = 0
    settled: asyncio.Event | None = None
    # ids of payments (order transactions, refunds) come from their own stream, so adding them
    # left every other seeded id and value as it was
    payments_rng: random.Random = field(default_factory=lambda: random.Random(0))
    # likewise their own streams: seeded locations and stock (`inventory_rng`); reverse
    # fulfillment orders, dispositions and return fees (`returns_rng`); store credit accounts and
    # their transactions (`store_credit_rng`). None of them draws from `rng`.
    inventory_rng: random.Random = field(default_factory=lambda: random.Random(0))
    returns_rng: random.Random = field(default_factory=lambda: random.Random(0))
    store_credit_rng: random.Random = field(default_factory=lambda: random.Random(0))
    variants_by_id: dict[str, JSON] = field(default_factory=dict)
    locations: list[JSON] = field(default_factory=list)
    # by variant id: {"id", "_levels": [{"id", "location", "_quantities": {name: int}}]}
    inventory_items: dict[str, JSON] = field(default_factory=dict)
    store_credit_accounts: dict[str, JSON] = field(default_factory=dict)

    def next_id(self, kind: str, *, rng: random.Random | None = None) -> int:
        current = self.id_counters[kind]
        current += (rng or self.rng).randint(7, 4099)
        self.id_counters[kind] = current
        return current

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by
