"""`rms oauth clear-states`: the runbook's "Clear OAuth cache" (`db.oauth_states.deleteMany({})`)."""

from __future__ import annotations

import argparse
from typing import Any

from app.db import Database
from app.services.integration.install import clear_states
from tools.cli.runtime import run_with_database


def clear_states_command(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> int:
        return await clear_states(expired_only=args.expired_only)

    count = run_with_database(body)
    kind = "expired " if args.expired_only else ""
    print(f"deleted {count} {kind}OAuth state(s); installs in progress must start again")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("oauth", help="OAuth install maintenance")
    commands = parser.add_subparsers(title="oauth commands", metavar="ACTION", required=True)
    clear = commands.add_parser(
        "clear-states", help="delete pending OAuth states (the runbook's 'clear OAuth cache')"
    )
    clear.add_argument("--expired-only", action="store_true", help="only states past their expiry")
    clear.set_defaults(func=clear_states_command)
