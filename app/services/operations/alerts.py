"""The runbook's alert thresholds, evaluated from this process's counters and stored data.

| alert              | fires when                                               | source                        |
| ------------------ | -------------------------------------------------------- | ----------------------------- |
| `error_rate`       | > 5 % of requests failed over 5 min (>= 10 requests)     | request ring buffer (process) |
| `response_time`    | average response time > 3 s over 5 min                   | request ring buffer (process) |
| `webhook_failures` | > 10 % of webhook events received in 15 min failed       | `webhook_events`              |
| `db_connections`   | > 80 % of the pool (`MONGODB_MAX_POOL_SIZE`) checked out | pool listener / serverStatus  |
| `disk_space`       | > 90 % of the data path's disk used                      | `shutil.disk_usage`           |
| `shop_redact_refused` | a connected shop refused a shop/redact in 7 days     | `integrations_shopify`        |

`ops/prometheus/alerts.yml` carries the same thresholds for Prometheus.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from app.clock import utcnow
from app.config import Settings
from app.models import ShopifyIntegration, WebhookEvent
from app.observability.metrics import PoolUsage, RequestWindow, WindowTotals

ERROR_RATE_THRESHOLD = 0.05
ERROR_RATE_WINDOW_MINUTES = 5
# Below this many requests in the window one unlucky 500 would page someone: stay quiet.
ERROR_RATE_MIN_REQUESTS = 10
RESPONSE_TIME_THRESHOLD_SECONDS = 3.0
RESPONSE_TIME_WINDOW_MINUTES = 5
WEBHOOK_FAILURE_THRESHOLD = 0.10
WEBHOOK_WINDOW_MINUTES = 15
DB_CONNECTIONS_THRESHOLD = 0.80
DISK_USAGE_THRESHOLD = 0.90
# A shop/redact for a connected shop is refused (see `handlers.compliance.shop_redact`): either a
# replayed delivery or a state we got wrong, and Shopify expects compliance within 30 days, so
# the alert stays up for a week rather than the minutes of the request alerts.
SHOP_REDACT_REFUSED_THRESHOLD = 0
SHOP_REDACT_REFUSED_WINDOW_MINUTES = 7 * 24 * 60
SHOP_REDACT_REFUSED_ALERT = "shop_redact_refused"
# `ShopifyIntegration.shop_redact_refused_at`, set by the refusal. Counting refused events
# instead would read a week of `webhook_events` (no index has the topic); integrations are one
# per tenant.
SHOP_REDACT_REFUSED_FIELD = "shop_redact_refused_at"
# Proposed setting `ALERT_DISK_PATH`: the path whose disk is watched (the data volume).
DEFAULT_DISK_PATH = "."


class AlertState(StrEnum):
    OK = "ok"
    FIRING = "firing"
    UNKNOWN = "unknown"  # no data to judge by (e.g. request stats asked from the CLI)


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    description: str
    value: float | None
    threshold: float
    unit: str  # "ratio" (0..1), "seconds" or "count"
    window_minutes: int | None
    state: AlertState
    detail: str

    @property
    def firing(self) -> bool:
        return self.state is AlertState.FIRING


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


DiskUsageReader = Callable[[str], Any]  # shutil.disk_usage or a fake with total/used/free


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert's fixed facts; `judge`, `ok` and `unknown` make its current `Alert`."""

    name: str
    description: str
    threshold: float
    unit: str  # "ratio" (0..1), "seconds" or "count"
    window_minutes: int | None = None

    def _alert(self, value: float | None, state: AlertState, detail: str) -> Alert:
        return Alert(
            name=self.name,
            description=self.description,
            value=value,
            threshold=self.threshold,
            unit=self.unit,
            window_minutes=self.window_minutes,
            state=state,
            detail=detail,
        )

    def judge(self, value: float | None, detail: str) -> Alert:
        """Firing when `value` is above the threshold; ok when there is nothing to judge."""
        firing = value is not None and value > self.threshold
        return self._alert(value, AlertState.FIRING if firing else AlertState.OK, detail)

    def ok(self, value: float | None, detail: str) -> Alert:
        return self._alert(value, AlertState.OK, detail)

    def unknown(self, detail: str) -> Alert:
        return self._alert(None, AlertState.UNKNOWN, detail)


ERROR_RATE = AlertRule(
    "error_rate",
    "Error rate above 5% over 5 minutes",
    ERROR_RATE_THRESHOLD,
    "ratio",
    ERROR_RATE_WINDOW_MINUTES,
)
RESPONSE_TIME = AlertRule(
    "response_time",
    "Average response time above 3 s",
    RESPONSE_TIME_THRESHOLD_SECONDS,
    "seconds",
    RESPONSE_TIME_WINDOW_MINUTES,
)
WEBHOOK_FAILURES = AlertRule(
    "webhook_failures",
    "Webhook failures above 10% over 15 minutes",
    WEBHOOK_FAILURE_THRESHOLD,
    "ratio",
    WEBHOOK_WINDOW_MINUTES,
)
DB_CONNECTIONS = AlertRule(
    "db_connections",
    "Database connections above 80% of the pool",
    DB_CONNECTIONS_THRESHOLD,
    "ratio",
)
DISK_SPACE = AlertRule("disk_space", "Disk space above 90% full", DISK_USAGE_THRESHOLD, "ratio")
SHOP_REDACT_REFUSED = AlertRule(
    SHOP_REDACT_REFUSED_ALERT,
    "A shop/redact arrived for a connected shop and was refused (replay, or our state is wrong)",
    SHOP_REDACT_REFUSED_THRESHOLD,
    "count",
    SHOP_REDACT_REFUSED_WINDOW_MINUTES,
)
ALERT_RULES = (
    ERROR_RATE,
    RESPONSE_TIME,
    WEBHOOK_FAILURES,
    DB_CONNECTIONS,
    DISK_SPACE,
    SHOP_REDACT_REFUSED,
)
NOT_IN_THIS_PROCESS = "request statistics live in the API process: see systemStatus or Prometheus"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def error_rate_alert(totals: WindowTotals | None) -> Alert:
    """Failed requests (5xx, masked GraphQL errors) over all requests in the last 5 minutes."""
    if totals is None:
        return ERROR_RATE.unknown(NOT_IN_THIS_PROCESS)
    rate = totals.error_rate
    detail = f"{totals.errors} errors in {totals.requests} requests ({_percent(rate)})"
    if totals.requests < ERROR_RATE_MIN_REQUESTS:
        return ERROR_RATE.ok(rate, f"{detail}: too few requests to judge")
    return ERROR_RATE.judge(rate, detail)


def response_time_alert(totals: WindowTotals | None) -> Alert:
    if totals is None:
        return RESPONSE_TIME.unknown(NOT_IN_THIS_PROCESS)
    average = totals.average_latency_seconds
    if average is None:
        return RESPONSE_TIME.ok(None, "no requests in the window")
    return RESPONSE_TIME.judge(average, f"average {average:.3f} s over {totals.requests} requests")


@dataclass(slots=True)
class WebhookCounts:
    """Webhook events received in a window, by what became of them."""

    topic: str
    received: int = 0
    processed: int = 0
    failed: int = 0  # an attempt failed (`error` set), not processed yet, not dead
    dead: int = 0
    pending: int = 0

    @property
    def failure_ratio(self) -> float | None:
        return (self.failed + self.dead) / self.received if self.received else None

    @property
    def success_rate(self) -> float | None:
        return self.processed / self.received if self.received else None


async def webhook_counts_since(since: datetime) -> list[WebhookCounts]:
    """Per topic: events received since `since` and their outcome (one aggregation)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"received_at": {"$gte": since}}},
        {
            "$group": {
                "_id": "$topic",
                "received": {"$sum": 1},
                "processed": {"$sum": {"$cond": [{"$eq": ["$processed", True]}, 1, 0]}},
                "dead": {
                    "$sum": {
                        "$cond": [
                            {"$and": [{"$eq": ["$dead", True]}, {"$ne": ["$processed", True]}]},
                            1,
                            0,
                        ]
                    }
                },
                "failed": {
                    "$sum": {
                        "$cond": [
                            {
                                "$and": [
                                    {"$ne": ["$processed", True]},
                                    {"$ne": ["$dead", True]},
                                    {"$gt": ["$error", None]},
                                ]
                            },
                            1,
                            0,
                        ]
                    }
                },
            }
        },
    ]
    collection = WebhookEvent.get_pymongo_collection()
    counts = []
    async for row in await collection.aggregate(pipeline):
        received, processed = int(row["received"]), int(row["processed"])
        failed, dead = int(row["failed"]), int(row["dead"])
        counts.append(
            WebhookCounts(
                topic=str(row["_id"]),
                received=received,
                processed=processed,
                failed=failed,
                dead=dead,
                pending=received - processed - failed - dead,
            )
        )
    return sorted(counts, key=lambda c: c.topic)


def total_webhook_counts(counts: list[WebhookCounts]) -> WebhookCounts:
    total = WebhookCounts(topic="*")
    for item in counts:
        total.received += item.received
        total.processed += item.processed
        total.failed += item.failed
        total.dead += item.dead
        total.pending += item.pending
    return total


def webhook_failures_alert(total: WebhookCounts | None) -> Alert:
    if total is None:
        return WEBHOOK_FAILURES.unknown("webhook_events could not be read")
    if not total.received:
        return WEBHOOK_FAILURES.ok(None, "no webhook events received in the window")
    return WEBHOOK_FAILURES.judge(
        total.failure_ratio,
        f"{total.failed} failing + {total.dead} dead of {total.received} received",
    )


def db_connections_alert(
    in_use: int | None, max_pool_size: int, server: dict[str, Any] | None = None
) -> Alert:
    """This process's pool usage; without a pool listener, the server's own connection count
    (`serverStatus.connections`, the runbook's check) against its limit."""
    if in_use is not None:
        return DB_CONNECTIONS.judge(
            in_use / max_pool_size, f"{in_use} of {max_pool_size} pooled connections in use"
        )
    if server and "current" in server and "available" in server:
        current, available = int(server["current"]), int(server["available"])
        if available > 0:  # 0: the server reports no limit (dev servers); we got a connection
            limit = current + available
            return DB_CONNECTIONS.judge(
                current / limit, f"server has {current} of {limit} connections open (serverStatus)"
            )
    return DB_CONNECTIONS.unknown("no pool listener in this process and no serverStatus")


def disk_space_alert(path: str, disk_usage: DiskUsageReader = shutil.disk_usage) -> Alert:
    try:
        usage = disk_usage(path)
    except OSError as exc:
        return DISK_SPACE.unknown(f"cannot read disk usage of {path!r}: {exc}")
    # As `df` counts it: space reserved for root is neither used nor available to us.
    capacity = usage.used + usage.free
    ratio = usage.used / capacity if capacity else None
    return DISK_SPACE.judge(
        ratio, f"{path}: {_percent(ratio)} used, {usage.free / 2**30:.1f} GiB free"
    )


async def refused_shop_redacts_since(since: datetime) -> int:
    """Connected shops that refused a shop/redact since `since`."""
    count = await ShopifyIntegration.get_pymongo_collection().count_documents(
        {SHOP_REDACT_REFUSED_FIELD: {"$gte": since}}
    )
    return int(count)


def shop_redact_refused_alert(refused: int | None) -> Alert:
    """Any connected shop that refused a shop/redact in the last 7 days: a person must decide
    whether it was a replay or whether the shop is really gone (then erase it in time)."""
    if refused is None:
        return SHOP_REDACT_REFUSED.unknown("integrations_shopify could not be read")
    return SHOP_REDACT_REFUSED.judge(
        float(refused),
        f"{refused} connected shop(s) refused a shop/redact in 7 days: check each one "
        "(webhookEvents, topic shop/redact) before Shopify's 30-day deadline",
    )


async def server_connections() -> dict[str, Any] | None:
    """`serverStatus.connections`, or None where the server or our role does not allow it."""
    try:
        status = await WebhookEvent.get_pymongo_collection().database.client.admin.command(
            "serverStatus"
        )
    except Exception:
        return None
    connections = status.get("connections")
    return dict(connections) if isinstance(connections, dict) else None


def disk_path(settings: Settings) -> str:
    return settings.alert_disk_path or DEFAULT_DISK_PATH


async def evaluate_alerts(
    settings: Settings,
    *,
    request_window: RequestWindow | None,
    pool_usage: PoolUsage | None,
    disk_usage: DiskUsageReader = shutil.disk_usage,
    webhook_counts: list[WebhookCounts] | None = None,
    now: datetime | None = None,
    skip_database: bool = False,
) -> list[Alert]:
    """Every alert with its current value. `request_window`/`pool_usage` are None outside the
    API process (the CLI): request alerts are then `unknown`, connections come from the server.
    Pass `webhook_counts` when already read, to save the aggregation; `skip_database` when the
    database is known to be down (its alerts are then `unknown`, without waiting on timeouts)."""
    now = now or utcnow()
    requests = None
    if request_window is not None:
        requests = request_window.totals(ERROR_RATE_WINDOW_MINUTES, now=now.timestamp())
    if webhook_counts is None and not skip_database:
        try:
            webhook_counts = await webhook_counts_since(
                now - timedelta(minutes=WEBHOOK_WINDOW_MINUTES)
            )
        except Exception:
            webhook_counts = None
    refused_redacts = None
    if not skip_database:
        try:
            refused_redacts = await refused_shop_redacts_since(
                now - timedelta(minutes=SHOP_REDACT_REFUSED_WINDOW_MINUTES)
            )
        except Exception:
            refused_redacts = None
    in_use = pool_usage.max_in_use() if pool_usage is not None else None
    server = await server_connections() if in_use is None and not skip_database else None
    return [
        error_rate_alert(requests),
        response_time_alert(requests),
        webhook_failures_alert(
            total_webhook_counts(webhook_counts) if webhook_counts is not None else None
        ),
        db_connections_alert(in_use, settings.mongodb_max_pool_size, server),
        disk_space_alert(disk_path(settings), disk_usage),
        shop_redact_refused_alert(refused_redacts),
    ]
