"""`rms status`: the runbook's status dashboard in one command.

Health (database ping), integrations by status, sync jobs by status and stale running ones,
webhook success rates over the last 15 minutes, and every alert with value, threshold and state.
Exit code 0 when healthy, 1 when the database is down or an alert fires.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

import orjson

from app.config import Settings
from app.db import Database
from app.services.operations.alerts import Alert
from app.services.operations.status import SystemStatus, system_status
from tools.cli.runtime import run_with_database


def format_value(alert: Alert, value: float | None) -> str:
    if value is None:
        return "n/a"
    if alert.unit == "ratio":
        return f"{value * 100:.1f}%"
    return f"{value:.2f} s"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def render(report: SystemStatus) -> str:
    lines = [f"status at {report.generated_at.isoformat()} ({report.environment})"]
    db = report.database
    lines.append(
        f"database       {'ok' if db.ok else 'ERROR'}"
        + (f"  ping {db.latency_ms} ms" if db.latency_ms is not None else f"  {db.error}")
    )
    integrations = ", ".join(f"{k} {v}" for k, v in sorted(report.integrations.items()))
    lines.append(f"integrations   {integrations or 'none'}")
    jobs = ", ".join(f"{k} {v}" for k, v in report.sync_jobs.items() if v)
    lines.append(f"sync jobs      {jobs or 'none'}")
    for job in report.stale_sync_jobs:
        started = job.started_at.isoformat() if job.started_at else "?"
        lines.append(f"  STALE {job.id} {job.tenant_id} {job.type} started {started}: {job.reason}")
    if report.stale_sync_jobs:
        lines.append("  fix: rms sync clear-stale-locks --older-than 3600")
    total = report.webhook_totals
    lines.append(
        f"webhooks {report.webhook_window_minutes}m   received {total.received}, processed "
        f"{total.processed}, failing {total.failed}, dead {total.dead}, pending {total.pending}"
        f" (success {_rate(total.success_rate)})"
    )
    for counts in report.webhooks:
        lines.append(
            f"  {counts.topic:<24} {counts.received:>6} received  success "
            f"{_rate(counts.success_rate)}  failing {counts.failed}  dead {counts.dead}"
        )
    for outbox in report.notifications:
        lines.append(
            f"{outbox.name:<19}{outbox.pending} pending, {outbox.overdue} overdue (due > 5 min ago)"
        )
    if report.disabled_webhook_endpoints:
        lines.append(
            f"  {report.disabled_webhook_endpoints} merchants' webhook endpoints disabled "
            "(failing for a day; the merchant re-enables them)"
        )
    lines.append("alerts")
    for alert in report.alerts:
        lines.append(
            f"  {alert.state.value.upper():<8} {alert.name:<17} value "
            f"{format_value(alert, alert.value):>8}  threshold "
            f"{format_value(alert, alert.threshold):>6}  {alert.detail}"
        )
    return "\n".join(lines)


def as_json(report: SystemStatus) -> bytes:
    data: dict[str, Any] = asdict(report)
    data["healthy"] = report.healthy
    return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def run(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(database: Database) -> SystemStatus:
        # Outside the API process: no request window or pool of its own to report.
        return await system_status(settings, request_window=None, pool_usage=None)

    report = run_with_database(body, settings)
    print(as_json(report).decode() if args.json else render(report))
    return 0 if report.healthy else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="health, integrations, jobs, webhook rates and alerts in one report"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)
