"""Prometheus metrics of this process, the request ring buffer behind the alerts, the pool listener.

Import the metric objects (or the small helpers below) wherever something worth counting
happens; `GET /metrics` renders `REGISTRY` plus gauges computed from stored data at scrape time.
Metrics are per process: with several API/worker processes, Prometheus sums them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from pymongo.monitoring import (
    ConnectionCheckedInEvent,
    ConnectionCheckedOutEvent,
    ConnectionCheckOutFailedEvent,
    ConnectionCheckOutStartedEvent,
    ConnectionClosedEvent,
    ConnectionCreatedEvent,
    ConnectionPoolListener,
    ConnectionReadyEvent,
    PoolClearedEvent,
    PoolClosedEvent,
    PoolCreatedEvent,
    PoolReadyEvent,
)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

# --- requests (fed by MetricsMiddleware) ---------------------------------------------------
HTTP_REQUESTS = Counter(
    "rms_http_requests",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "rms_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "rms_graphql_operations",
    "GraphQL requests by operation name and outcome (ok/error).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
GRAPHQL_OPERATION_DURATION = Histogram(
    "rms_graphql_operation_duration_seconds",
    "GraphQL request latency by operation name.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter(
    "rms_errors",
    "Unexpected errors by kind (http_5xx, graphql_unexpected, worker, ...).",
    ["kind"],
    registry=REGISTRY,
)

# --- webhooks (fed by the webhook route and its worker) ------------------------------------
WEBHOOK_EVENTS_RECEIVED = Counter(
    "rms_webhook_events_received",
    "Webhook events accepted and stored.",
    ["topic"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS_PROCESSED = Counter(
    "rms_webhook_events_processed",
    "Webhook events processed successfully.",
    ["topic"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS_FAILED = Counter(
    "rms_webhook_events_failed",
    "Webhook processing attempts that failed.",
    ["topic"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS_DEAD = Counter(
    "rms_webhook_events_dead",
    "Webhook events given up on (dead-lettered).",
    ["topic"],
    registry=REGISTRY,
)
WEBHOOK_PROCESSING_LAG = Histogram(
    "rms_webhook_processing_lag_seconds",
    "Time from receiving a webhook event to processing it.",
    ["topic"],
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)

# --- sync jobs ---------------------------------------------------------------------------
SYNC_JOBS_FINISHED = Counter(
    "rms_sync_jobs_finished",
    "Sync jobs that ended, by type (full, incremental; swept: ended in bulk by the stale-lock "
    "sweeper or an uninstall) and final status.",
    ["type", "status"],
    registry=REGISTRY,
)

# --- Shopify Admin API -------------------------------------------------------------------
SHOPIFY_API_CALLS = Counter(
    "rms_shopify_api_calls",
    "HTTP calls to Shopify's Admin GraphQL API (each retry counts) by outcome: ok, throttled, "
    "graphql_error, unauthorized, forbidden, server_error, unreadable, unreachable.",
    ["api", "outcome"],
    registry=REGISTRY,
)
SHOPIFY_API_THROTTLES = Counter(
    "rms_shopify_api_throttles",
    "Calls Shopify answered with THROTTLED or 429.",
    ["api"],
    registry=REGISTRY,
)
SHOPIFY_API_COST = Counter(
    "rms_shopify_api_query_cost",
    "Actual GraphQL query cost points spent (extensions.cost.actualQueryCost).",
    registry=REGISTRY,
)
SHOPIFY_API_DURATION = Histogram(
    "rms_shopify_api_duration_seconds",
    "Latency of calls to Shopify.",
    ["api"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

# --- MongoDB pool (fed by MongoPoolListener) ---------------------------------------------
MONGODB_POOL_IN_USE = Gauge(
    "rms_mongodb_pool_connections_in_use",
    "Connections checked out of this process's pool, per server.",
    ["address"],
    registry=REGISTRY,
)
MONGODB_POOL_CHECKOUT_FAILURES = Counter(
    "rms_mongodb_pool_checkout_failures",
    "Connection check-outs that failed (timeout, pool closed, connection error).",
    ["reason"],
    registry=REGISTRY,
)


# --- bounded label values ----------------------------------------------------------------
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:]{0,80}$")  # `GetReturns`, `query:returns`
MAX_OPERATION_LABELS = 200
_known_operations: set[str] = set()
_operations_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """Client-chosen operation names, bounded: at most `MAX_OPERATION_LABELS` distinct values."""
    if not name:
        return "anonymous"
    if not _OPERATION_NAME.match(name):
        return "invalid"
    with _operations_lock:
        if name in _known_operations:
            return name
        if len(_known_operations) >= MAX_OPERATION_LABELS:
            return "other"
        _known_operations.add(name)
        return name


# --- the per-minute request ring buffer behind the error-rate and latency alerts -----------
@dataclass(slots=True)
class WindowTotals:
    requests: int = 0
    errors: int = 0
    latency_seconds: float = 0.0

    @property
    def error_rate(self) -> float | None:
        return min(self.errors / self.requests, 1.0) if self.requests else None

    @property
    def average_latency_seconds(self) -> float | None:
        return self.latency_seconds / self.requests if self.requests else None


@dataclass(slots=True)
class _MinuteBucket:
    minute: int = -1
    requests: int = 0
    errors: int = 0
    latency_seconds: float = 0.0


class RequestWindow:
    """Request counters per wall-clock minute for the last `minutes` minutes (this process)."""

    def __init__(self, minutes: int = 60, clock: Callable[[], float] = time.time) -> None:
        self.minutes = minutes
        self._clock = clock
        self._buckets = [_MinuteBucket() for _ in range(minutes)]
        self._lock = threading.Lock()

    def _bucket(self, minute: int) -> _MinuteBucket:
        bucket = self._buckets[minute % self.minutes]
        if bucket.minute != minute:  # a bucket from a previous lap: start it over
            bucket.minute, bucket.requests, bucket.errors, bucket.latency_seconds = (
                minute,
                0,
                0,
                0.0,
            )
        return bucket

    def observe(self, seconds: float, *, error: bool, at: float | None = None) -> None:
        minute = int((self._clock() if at is None else at) // 60)
        with self._lock:
            bucket = self._bucket(minute)
            bucket.requests += 1
            bucket.errors += int(error)
            bucket.latency_seconds += seconds

    def mark_error(self, *, at: float | None = None) -> None:
        """An error inside a request already counted (e.g. a masked GraphQL error, HTTP 200)."""
        minute = int((self._clock() if at is None else at) // 60)
        with self._lock:
            bucket = self._bucket(minute)
            bucket.errors += 1

    def totals(self, minutes: int, *, now: float | None = None) -> WindowTotals:
        """Sums over the last `minutes` minutes, the current (partial) minute included."""
        current = int((self._clock() if now is None else now) // 60)
        oldest = current - min(minutes, self.minutes) + 1
        totals = WindowTotals()
        with self._lock:
            for bucket in self._buckets:
                if oldest <= bucket.minute <= current:
                    totals.requests += bucket.requests
                    totals.errors += bucket.errors
                    totals.latency_seconds += bucket.latency_seconds
        return totals

    def reset(self) -> None:
        with self._lock:
            self._buckets = [_MinuteBucket() for _ in range(self.minutes)]


REQUEST_WINDOW = RequestWindow()


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One finished HTTP request: Prometheus series and the alert window."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(method, route).observe(seconds)
    error = status >= 500
    if error:
        ERRORS.labels("http_5xx").inc()
    REQUEST_WINDOW.observe(seconds, error=error)


def observe_graphql_operation(operation: str | None, seconds: float, *, ok: bool) -> None:
    label = operation_label(operation)
    GRAPHQL_OPERATIONS.labels(label, "ok" if ok else "error").inc()
    GRAPHQL_OPERATION_DURATION.labels(label).observe(seconds)


def record_error(kind: str) -> None:
    """An unexpected error that did not surface as an HTTP 5xx (a masked GraphQL error, a
    worker crash): counted in `rms_errors_total` and in the error-rate alert's window."""
    ERRORS.labels(kind).inc()
    if kind != "http_5xx":
        REQUEST_WINDOW.mark_error()


# --- helpers for the webhook, sync and Shopify client code -----------------------------------
def webhook_received(topic: str) -> None:
    WEBHOOK_EVENTS_RECEIVED.labels(topic).inc()


def webhook_processed(topic: str, lag_seconds: float) -> None:
    WEBHOOK_EVENTS_PROCESSED.labels(topic).inc()
    WEBHOOK_PROCESSING_LAG.labels(topic).observe(max(lag_seconds, 0.0))


def webhook_failed(topic: str, *, dead: bool) -> None:
    WEBHOOK_EVENTS_FAILED.labels(topic).inc()
    if dead:
        WEBHOOK_EVENTS_DEAD.labels(topic).inc()


# The `type` label of jobs ended in bulk, their type unread: by the stale-lock sweeper, or
# canceled by an uninstall.
SWEPT = "swept"


def sync_jobs_finished(job_type: str, status: str, count: int = 1) -> None:
    SYNC_JOBS_FINISHED.labels(job_type, status).inc(count)


def shopify_api_call(
    api: str,
    outcome: str,
    *,
    seconds: float | None = None,
    cost: float | None = None,
    throttled: bool = False,
) -> None:
    SHOPIFY_API_CALLS.labels(api, outcome).inc()
    if seconds is not None:
        SHOPIFY_API_DURATION.labels(api).observe(seconds)
    if cost:
        SHOPIFY_API_COST.inc(cost)
    if throttled:
        SHOPIFY_API_THROTTLES.labels(api).inc()


# --- MongoDB connection pool -------------------------------------------------------------
class PoolUsage:
    """Connections checked out per server address, across this process's clients."""

    def __init__(self) -> None:
        self._in_use: dict[str, int] = {}
        self._lock = threading.Lock()

    def _change(self, address: str, delta: int) -> None:
        with self._lock:
            value = max(self._in_use.get(address, 0) + delta, 0)
            self._in_use[address] = value
        MONGODB_POOL_IN_USE.labels(address).set(value)

    def checked_out(self, address: str) -> None:
        self._change(address, 1)

    def checked_in(self, address: str) -> None:
        self._change(address, -1)

    def observed(self, address: str) -> None:
        with self._lock:
            self._in_use.setdefault(address, 0)
        MONGODB_POOL_IN_USE.labels(address).set(self._in_use[address])

    def max_in_use(self) -> int | None:
        """The busiest server's in-use count; `None` when no pool has been seen."""
        with self._lock:
            return max(self._in_use.values()) if self._in_use else None

    def reset(self) -> None:
        with self._lock:
            self._in_use.clear()
        MONGODB_POOL_IN_USE.clear()


POOL_USAGE = PoolUsage()


def _address(event: object) -> str:
    host, port = getattr(event, "address", ("unknown", 0))
    return f"{host}:{port}"


class MongoPoolListener(ConnectionPoolListener):
    """Pass to the client (`event_listeners=[MongoPoolListener()]`) to track pool usage."""

    def __init__(self, usage: PoolUsage | None = None) -> None:
        self.usage = usage or POOL_USAGE

    def pool_created(self, event: PoolCreatedEvent) -> None:
        self.usage.observed(_address(event))

    def pool_ready(self, event: PoolReadyEvent) -> None:
        pass

    def pool_cleared(self, event: PoolClearedEvent) -> None:
        pass

    def pool_closed(self, event: PoolClosedEvent) -> None:
        pass

    def connection_created(self, event: ConnectionCreatedEvent) -> None:
        pass

    def connection_ready(self, event: ConnectionReadyEvent) -> None:
        pass

    def connection_closed(self, event: ConnectionClosedEvent) -> None:
        pass

    def connection_check_out_started(self, event: ConnectionCheckOutStartedEvent) -> None:
        pass

    def connection_check_out_failed(self, event: ConnectionCheckOutFailedEvent) -> None:
        MONGODB_POOL_CHECKOUT_FAILURES.labels(str(event.reason)).inc()

    def connection_checked_out(self, event: ConnectionCheckedOutEvent) -> None:
        self.usage.checked_out(_address(event))

    def connection_checked_in(self, event: ConnectionCheckedInEvent) -> None:
        self.usage.checked_in(_address(event))
