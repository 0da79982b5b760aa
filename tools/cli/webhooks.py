"""`rms webhooks hmac|replay|stats`: debug signatures, re-queue dead events, see how they fare."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.config import Settings
from app.db import Database
from app.shopify.hmac import sign_webhook
from tools.cli.runtime import run_with_database


def hmac_command(args: argparse.Namespace) -> int:
    """Print the X-Shopify-Hmac-Sha256 value Shopify would send for this exact body."""
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    secret = args.secret if args.secret is not None else Settings().shopify_api_secret
    print(sign_webhook(body, secret))
    return 0


def replay_command(args: argparse.Namespace) -> int:
    from app.services.webhooks.processing import replay_dead_events

    if not args.dead:
        print("nothing to replay: pass --dead to re-queue dead events", file=sys.stderr)
        return 2

    async def body(_db: Database) -> int:
        return await replay_dead_events(args.tenant)

    count = run_with_database(body)
    scope = f" of {args.tenant}" if args.tenant else ""
    print(f"re-queued {count} dead webhook event(s){scope}")
    return 0


def stats_command(args: argparse.Namespace) -> int:
    from app.services.webhooks.stats import webhook_stats

    async def body(_db: Database) -> Any:
        return await webhook_stats(args.tenant, args.window)

    stats = run_with_database(body)
    rate = "n/a" if stats.success_rate is None else f"{stats.success_rate:.1%}"
    print(
        f"last {stats.window_minutes} min: received={stats.received} processed={stats.processed}"
        f" pending={stats.pending} failed={stats.failed} dead={stats.dead} success={rate}"
        f" p50_lag_s={stats.p50_lag_seconds} p95_lag_s={stats.p95_lag_seconds}"
    )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("webhooks", help="webhook signatures, replays and stats")
    commands = parser.add_subparsers(title="webhooks commands", metavar="ACTION", required=True)

    sign = commands.add_parser("hmac", help="print the X-Shopify-Hmac-Sha256 of a body file")
    sign.add_argument("file", help="the raw body (exact bytes); '-' reads stdin")
    sign.add_argument("--secret", default=None, help="app secret (default: SHOPIFY_API_SECRET)")
    sign.set_defaults(func=hmac_command)

    replay = commands.add_parser("replay", help="re-queue dead webhook events")
    replay.add_argument("--dead", action="store_true", help="re-queue every dead event")
    replay.add_argument("--tenant", default=None, help="only this tenant (e.g. tenant-rms34)")
    replay.set_defaults(func=replay_command)

    stats = commands.add_parser("stats", help="a tenant's webhook counts and processing lag")
    stats.add_argument("--tenant", required=True)
    stats.add_argument("--window", type=int, default=60, help="minutes (default 60)")
    stats.set_defaults(func=stats_command)
