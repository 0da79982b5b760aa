"""`rms backup create|restore|prune`: mongodump-compatible gzip archives of the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.config import Settings
from app.db import Database
from app.services.backup import (
    DEFAULT_BACKUP_DIR,
    BackupError,
    create_backup,
    default_backup_path,
    directory_size,
    prune_backups,
    restore_backup,
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
    settings = Settings()

    async def body(database: Database) -> int:
        restored = await restore_backup(database.db, Path(args.path), drop=args.drop)
        for entry in restored:
            print(f"  {entry.name:<24} {entry.documents:>8} documents  {entry.indexes} indexes")
        total = sum(entry.documents for entry in restored)
        print(f"restored {total} documents into {database.db.name} from {args.path}")
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
        "restore", help="validate a backup, then restore its collections and indexes"
    )
    back.add_argument("path", help="a backup directory (or its <db> subdirectory)")
    back.add_argument(
        "--drop", action="store_true", help="drop the backup's collections before restoring them"
    )
    back.set_defaults(func=restore)
    clean = commands.add_parser("prune", help="delete backups older than --keep-days")
    clean.add_argument("--keep-days", type=int, default=7)
    clean.add_argument("--dir", default=None, help="backup root (default: $BACKUP_DIR)")
    clean.set_defaults(func=prune)
