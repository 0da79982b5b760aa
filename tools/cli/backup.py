"""`rms backup create|restore|status|prune`: mongodump-compatible gzip archives of the database."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from app.config import Settings
from app.db import Database
from app.services.operations.backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    abort_restore,
    create_backup,
    default_backup_path,
    directory_size,
    latest_restore,
    prune_backups,
    restore_backup,
    unfinished_restore,
)
from tools.cli.runtime import run_with_database


def backup_root(settings: Settings) -> Path:
    return Path(settings.backup_dir or DEFAULT_BACKUP_DIR)


def create(args: argparse.Namespace) -> int:
    settings = Settings()
    out = Path(args.out) if args.out else default_backup_path(backup_root(settings))

    async def body(database: Database) -> int:
        manifest = await create_backup(database.db, out)
        for entry in manifest.collections:
            print(f"  {entry.name:<24} {entry.documents:>8} documents  {entry.indexes} indexes")
        consistency = "one snapshot" if manifest.snapshot else "one cursor per collection"
        print(
            f"backup of {manifest.database} written to {out} "
            f"({manifest.documents} documents, {directory_size(out)} bytes, {consistency})"
        )
        return 0

    return _run(body, settings)


def restore(args: argparse.Namespace) -> int:
    if args.abort:
        if args.path or args.drop:
            print("error: --abort takes no PATH and no --drop", file=sys.stderr)
            return 2
        return abort(args)
    if not args.path:
        print("error: PATH is required (or --abort)", file=sys.stderr)
        return 2
    settings = Settings()

    async def body(database: Database) -> int:
        # Returns only once the journal says `done`: nothing is reported restored before that.
        restored = await restore_backup(
            database.db, Path(args.path), drop=args.drop, resume=args.resume
        )
        for entry in restored:
            print(f"  {entry.name:<24} {entry.documents:>8} documents  {entry.indexes} indexes")
        total = sum(entry.documents for entry in restored)
        print(f"restored {total} documents into {database.db.name} from {args.path}")
        return 0

    try:
        return _run(body, settings)
    except PyMongoError as exc:
        print(
            f"error: the restore stopped: {exc}\n"
            "nothing was reported restored; once the database answers, `rms backup status` "
            f"shows how far it got, and `rms backup restore {shlex.quote(args.path)} --resume` "
            "finishes it",
            file=sys.stderr,
        )
        return 1


def abort(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(database: Database) -> int:
        journal = await abort_restore(database.db)
        print(
            f"aborted restore {journal.id} of {journal.archive}: staging collections dropped, "
            f"{database.db.name} is as it was before the restore"
        )
        return 0

    return _run(body, settings)


def status(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(database: Database) -> int:
        journal = await unfinished_restore(database.db)
        if journal is not None:
            print(f"UNFINISHED {journal.describe()}")
            print(f"  {journal.next_steps()}")
            return 1
        print(f"no unfinished restore in {database.db.name}")
        last = await latest_restore(database.db)
        if last is not None and last.finished_at is not None:
            print(
                f"last restore: {last.id} of {last.archive}, {last.phase.value} "
                f"{last.finished_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        return 0

    return _run(body, settings)


def prune(args: argparse.Namespace) -> int:
    root = Path(args.dir) if args.dir else backup_root(Settings())
    try:
        removed = prune_backups(root, args.keep_days)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} backups older than {args.keep_days} days removed from {root}")
    return 0


def _run(body: Any, settings: Settings) -> int:
    try:
        return int(run_with_database(body, settings))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("backup", help="create, restore and prune database backups")
    commands = parser.add_subparsers(title="backup commands", metavar="ACTION", required=True)
    make = commands.add_parser(
        "create", help="dump every collection (gzip BSON + index metadata, mongodump layout)"
    )
    make.add_argument(
        "--out", help="directory to write (default: $BACKUP_DIR/<UTC timestamp>)", default=None
    )
    make.set_defaults(func=create)
    back = commands.add_parser(
        "restore",
        help="validate a backup, then restore its collections and indexes (all or nothing)",
    )
    back.add_argument("path", nargs="?", help="a backup directory (or its <db> subdirectory)")
    back.add_argument(
        "--drop", action="store_true", help="replace the backup's collections if they hold data"
    )
    unfinished = back.add_mutually_exclusive_group()
    unfinished.add_argument(
        "--resume", action="store_true", help="finish the unfinished restore of this backup"
    )
    unfinished.add_argument(
        "--abort",
        action="store_true",
        help="discard the unfinished restore (only before its swap has started)",
    )
    back.set_defaults(func=restore)
    state = commands.add_parser("status", help="show an unfinished restore, if any")
    state.set_defaults(func=status)
    clean = commands.add_parser("prune", help="delete backups older than --keep-days")
    clean.add_argument("--keep-days", type=int, default=7)
    clean.add_argument("--dir", default=None, help="backup root (default: $BACKUP_DIR)")
    clean.set_defaults(func=prune)
