"""`rms notifications list|retry`: the emails about returns, and failed ones queued again."""

from __future__ import annotations

import argparse
from typing import Any

from app.db import Database
from app.models.email_notification import EmailStatus
from tools.cli.runtime import run_with_database


def list_command(args: argparse.Namespace) -> int:
    from app.services.notifications.email import list_emails
    from app.services.pagination import PageRequest

    status = EmailStatus(args.status) if args.status else None

    async def body(_db: Database) -> Any:
        return await list_emails(args.tenant, PageRequest(size=args.limit), status=status)

    page = run_with_database(body)
    for email in page.items:
        sent = email.sent_at.isoformat() if email.sent_at else "-"
        print(
            f"{email.created_at:%Y-%m-%d %H:%M:%S} {email.status.value:<7} {email.event_type or 'endpoint':<16}"
            f" {email.recipient.value:<8} {email.to}  attempts={email.attempts} sent={sent}"
            + (f"  error={email.error}" if email.error else "")
        )
    if not page.items:
        print("no emails")
    return 0


def retry_command(args: argparse.Namespace) -> int:
    from app.services.notifications.email import retry_failed_emails

    async def body(_db: Database) -> int:
        return await retry_failed_emails(args.tenant)

    count = run_with_database(body)
    scope = f" of {args.tenant}" if args.tenant else ""
    print(f"re-queued {count} failed email(s){scope}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("notifications", help="emails about returns: list, retry")
    commands = parser.add_subparsers(
        title="notifications commands", metavar="ACTION", required=True
    )

    listing = commands.add_parser("list", help="a tenant's emails, newest first")
    listing.add_argument("--tenant", required=True, help="e.g. tenant-rms34")
    listing.add_argument("--status", choices=[s.value for s in EmailStatus], default=None)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=list_command)

    retry = commands.add_parser("retry", help="queue failed emails again")
    retry.add_argument("--tenant", default=None, help="only this tenant (default: all)")
    retry.set_defaults(func=retry_command)
