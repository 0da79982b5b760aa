"""Each runbook alert fires on data above its threshold and stays quiet below it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import yaml  # type: ignore[import-untyped]  # PyYAML, via uvicorn[standard]
from pymongo import AsyncMongoClient

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import WebhookEvent
from app.observability.metrics import MongoPoolListener, PoolUsage, RequestWindow
from app.services.operations import alerts as alert_service
from app.services.operations.alerts import (
    AlertState,
    db_connections_alert,
    disk_space_alert,
    error_rate_alert,
    evaluate_alerts,
    response_time_alert,
    total_webhook_counts,
    webhook_counts_since,
    webhook_failures_alert,
)

NOW = 1_800_000_000.0  # a fixed wall clock, in seconds


def _window(
    requests: int, errors: int, seconds_each: float = 0.05, ago: float = 0
) -> RequestWindow:
    window = RequestWindow(minutes=60, clock=lambda: NOW)
    for index in range(requests):
        window.observe(seconds_each, error=index < errors, at=NOW - ago)
    return window


def test_error_rate_fires_above_5_percent_over_5_minutes() -> None:
    alert = error_rate_alert(_window(100, 6).totals(5))
    assert alert.state is AlertState.FIRING
    assert alert.value == 0.06
    assert alert.threshold == 0.05


def test_error_rate_stays_quiet_at_or_below_5_percent() -> None:
    assert error_rate_alert(_window(100, 5).totals(5)).state is AlertState.OK
    assert error_rate_alert(_window(100, 0).totals(5)).state is AlertState.OK


def test_error_rate_ignores_errors_older_than_5_minutes() -> None:
    window = _window(100, 50, ago=6 * 60)
    for _ in range(20):
        window.observe(0.01, error=False, at=NOW)
    alert = error_rate_alert(window.totals(5, now=NOW))
    assert alert.state is AlertState.OK
    assert alert.value == 0.0


def test_error_rate_needs_enough_requests_to_judge() -> None:
    alert = error_rate_alert(_window(3, 3).totals(5))
    assert alert.state is AlertState.OK
    assert "too few requests" in alert.detail


def test_masked_errors_count_without_adding_requests() -> None:
    window = _window(20, 0)
    window.mark_error(at=NOW)
    window.mark_error(at=NOW)
    assert window.totals(5).errors == 2
    assert window.totals(5).requests == 20
    assert error_rate_alert(window.totals(5)).state is AlertState.FIRING


def test_request_alerts_are_unknown_outside_the_api_process() -> None:
    assert error_rate_alert(None).state is AlertState.UNKNOWN
    assert response_time_alert(None).state is AlertState.UNKNOWN


def test_response_time_fires_above_3_seconds_average() -> None:
    alert = response_time_alert(_window(10, 0, seconds_each=3.2).totals(5))
    assert alert.state is AlertState.FIRING
    assert alert.value is not None
    assert abs(alert.value - 3.2) < 1e-9


def test_response_time_stays_quiet_below_3_seconds_and_without_traffic() -> None:
    assert response_time_alert(_window(10, 0, seconds_each=2.9).totals(5)).state is AlertState.OK
    assert response_time_alert(_window(0, 0).totals(5)).state is AlertState.OK


async def _events(shop: str, total: int, failed: int, dead: int = 0, minutes_ago: int = 1) -> None:
    received = utcnow() - timedelta(minutes=minutes_ago)
    for index in range(total):
        is_dead = index < dead
        is_failed = dead <= index < dead + failed
        await WebhookEvent(
            tenant_id="tenant-" + shop,
            shop_domain=f"{shop}.myshopify.com",
            topic="orders/create",
            event_id=f"{shop}-{minutes_ago}-{index}",
            processed=not (is_dead or is_failed),
            dead=is_dead,
            error="HTTP 500 from handler" if (is_dead or is_failed) else None,
            received_at=received,
        ).insert()


async def _webhook_alert() -> AlertState:
    counts = await webhook_counts_since(utcnow() - timedelta(minutes=15))
    return webhook_failures_alert(total_webhook_counts(counts)).state


async def test_webhook_failures_fire_above_10_percent_over_15_minutes(db: Database) -> None:
    await _events("a", total=10, failed=1, dead=1)
    assert await _webhook_alert() is AlertState.FIRING


async def test_webhook_failures_stay_quiet_at_10_percent_or_below(db: Database) -> None:
    await _events("a", total=10, failed=1)
    assert await _webhook_alert() is AlertState.OK


async def test_webhook_failures_older_than_15_minutes_do_not_count(db: Database) -> None:
    await _events("old", total=5, failed=5, minutes_ago=20)
    await _events("new", total=10, failed=0)
    assert await _webhook_alert() is AlertState.OK


async def test_webhook_alert_is_quiet_without_events(db: Database) -> None:
    assert await _webhook_alert() is AlertState.OK


def test_db_connections_fire_above_80_percent_of_the_pool() -> None:
    usage = PoolUsage()
    for _ in range(81):
        usage.checked_out("db:27017")
    assert db_connections_alert(usage.max_in_use(), 100).state is AlertState.FIRING
    usage.checked_in("db:27017")
    assert db_connections_alert(usage.max_in_use(), 100).state is AlertState.OK


def test_db_connections_fall_back_to_server_status() -> None:
    assert db_connections_alert(None, 100, {"current": 90, "available": 10}).firing
    assert not db_connections_alert(None, 100, {"current": 10, "available": 90}).firing
    assert db_connections_alert(None, 100, None).state is AlertState.UNKNOWN


class _Disk(NamedTuple):
    total: int
    used: int
    free: int


def test_disk_space_fires_above_90_percent() -> None:
    assert disk_space_alert("/data", lambda _: _Disk(100, 91, 9)).state is AlertState.FIRING
    assert disk_space_alert("/data", lambda _: _Disk(100, 90, 10)).state is AlertState.OK


def test_disk_space_is_unknown_when_the_path_is_missing() -> None:
    alert = disk_space_alert("/no/such/path/for/rms")
    assert alert.state is AlertState.UNKNOWN


async def test_pool_listener_tracks_checked_out_connections(settings: Settings) -> None:
    usage = PoolUsage()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[MongoPoolListener(usage)]
    )
    try:
        await client.admin.command("ping")
        assert usage.max_in_use() == 0  # checked out for the command, then back in
    finally:
        await client.close()


async def test_evaluate_alerts_reports_all_six_with_value_and_threshold(
    db: Database, settings: Settings
) -> None:
    usage = PoolUsage()
    usage.checked_out("db:27017")
    window = RequestWindow()
    for index in range(50):
        window.observe(0.1, error=index < 10)
    alerts = await evaluate_alerts(
        settings,
        request_window=window,
        pool_usage=usage,
        disk_usage=lambda _: _Disk(100, 10, 90),
        now=utcnow(),
    )
    by_name = {alert.name: alert for alert in alerts}
    assert list(by_name) == [
        "error_rate",
        "response_time",
        "webhook_failures",
        "db_connections",
        "disk_space",
        "shop_redact_refused",
    ]
    assert by_name["error_rate"].state is AlertState.FIRING
    assert by_name["response_time"].state is AlertState.OK
    assert by_name["webhook_failures"].state is AlertState.OK
    assert by_name["db_connections"].value == 1 / settings.mongodb_max_pool_size
    assert by_name["disk_space"].value == 0.1
    assert all(alert.threshold >= 0 for alert in alerts)  # a count alert fires above 0


def test_prometheus_rules_carry_the_same_thresholds() -> None:
    path = Path(__file__).resolve().parents[2] / "ops" / "prometheus" / "alerts.yml"
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    expected = {
        "RmsErrorRateHigh": f"> {alert_service.ERROR_RATE_THRESHOLD}",
        "RmsResponseTimeHigh": f"> {alert_service.RESPONSE_TIME_THRESHOLD_SECONDS:g}",
        "RmsWebhookFailuresHigh": f"> {alert_service.WEBHOOK_FAILURE_THRESHOLD:.2f}",
        "RmsDatabaseConnectionsHigh": f"> {alert_service.DB_CONNECTIONS_THRESHOLD:.2f}",
        "RmsDiskSpaceLow": f"> {alert_service.DISK_USAGE_THRESHOLD:.2f}",
    }
    for name, threshold in expected.items():
        assert threshold in rules[name]["expr"], (name, rules[name]["expr"])
    assert f">= {alert_service.ERROR_RATE_MIN_REQUESTS}" in rules["RmsErrorRateHigh"]["expr"]
