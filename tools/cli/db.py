"""`rms db migrate|rollback|status`: numbered migrations recorded in `schema_migrations`;
`rms db shard-plan`: how to shard the database on `tenant_id`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Literal

from app.config import Settings
from app.db import Database
from app.migrations import MigrationError, MigrationRunner
from app.migrations.indexes import collection_name, declared_indexes, existing_index_names
from app.migrations.indexes import index_name as declared_name
from app.models import DOCUMENT_MODELS
from app.models.sharding import shard_plan
from tools.cli.runtime import run_with_database

DEFAULT_DATABASE = str(Settings.model_fields["mongodb_db"].default)


def _version(value: str) -> int:
    try:
        version = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a version number: {value!r}") from exc
    if version < 0:
        raise argparse.ArgumentTypeError("versions are 0 or more")
    return version


def _rollback_target(value: str) -> int | Literal["previous"]:
    return "previous" if value == "previous" else _version(value)


def migrate(args: argparse.Namespace) -> int:
    async def body(database: Database) -> int:
        runner = MigrationRunner(database.db)
        done = await runner.migrate(args.to)
        for migration in done:
            print(f"applied  {migration.version:04d} {migration.name}")
        current = await runner.current_version()
        print(
            f"database {database.db.name} is at version {current}"
            + ("" if done else " (no change)")
        )
        return 0

    return _run(body)


def rollback(args: argparse.Namespace) -> int:
    async def body(database: Database) -> int:
        runner = MigrationRunner(database.db)
        done = await runner.rollback(args.to)
        for migration in done:
            print(f"reverted {migration.version:04d} {migration.name}")
        current = await runner.current_version()
        print(
            f"database {database.db.name} is at version {current}"
            + ("" if done else " (no change)")
        )
        return 0

    return _run(body)


def status(args: argparse.Namespace) -> int:
    async def body(database: Database) -> int:
        runner = MigrationRunner(database.db)
        rows = await runner.status()
        current = await runner.current_version()
        print(f"database {database.db.name}: version {current} (latest {runner.latest_version})")
        for row in rows:
            applied = row.applied_at.isoformat() if row.applied_at else "pending"
            note = "" if row.known else "  (not in this release)"
            print(f"  {row.version:04d} {row.name:<32} {applied}{note}")
        missing = []
        for model in DOCUMENT_MODELS:
            name = collection_name(model)
            existing = await existing_index_names(database.db, name)
            missing += [
                f"{name}.{declared_name(index)}"
                for index in declared_indexes(model)
                if declared_name(index) not in existing
            ]
        if missing:
            print("indexes declared on the models but missing: " + ", ".join(missing))
        pending = [row for row in rows if row.known and not row.applied]
        return 1 if pending or missing else 0

    return _run(body)


def shard_plan_command(args: argparse.Namespace) -> int:
    """Print the commands that shard the database on tenant_id (no connection needed)."""
    index_keys = {
        collection_name(model): [list(index.document["key"]) for index in declared_indexes(model)]
        for model in DOCUMENT_MODELS
    }
    database = args.database or os.environ.get("MONGODB_DB") or DEFAULT_DATABASE
    print("\n".join(shard_plan(database, index_keys)))
    return 0


def _run(body: Any) -> int:
    try:
        return int(run_with_database(body))
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="schema migrations (schema_migrations)")
    commands = parser.add_subparsers(title="db commands", metavar="ACTION", required=True)
    up = commands.add_parser("migrate", help="apply pending migrations (up to --to)")
    up.add_argument("--to", type=_version, default=None, help="target version (default: latest)")
    up.set_defaults(func=migrate)
    down = commands.add_parser("rollback", help="undo migrations down to a version")
    down.add_argument(
        "--to",
        type=_rollback_target,
        default="previous",
        help="`previous` (undo the latest) or a version number (0 undoes all)",
    )
    down.set_defaults(func=rollback)
    show = commands.add_parser(
        "status", help="applied and pending migrations; exit 1 when something is pending"
    )
    show.set_defaults(func=status)
    plan = commands.add_parser(
        "shard-plan", help="print the sh.shardCollection commands and shard keys (tenant_id)"
    )
    plan.add_argument(
        "--database", default=None, help="database name (default: MONGODB_DB, else the default)"
    )
    plan.set_defaults(func=shard_plan_command)
