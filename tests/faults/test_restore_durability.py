"""A restore stopped by a database crash is never half done: the targets keep their old contents
until every collection is loaded, the journal says the restore is unfinished, and a resume with
the same archive makes the database equal to the archive."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from app.db import Database, connect
from app.services.operations import backup
from app.services.operations.backup import (
    BackupError,
    RestorePhase,
    abort_restore,
    create_backup,
    is_restore_bookkeeping,
    latest_restore,
    restore_backup,
    unfinished_restore,
)
from tools.chaos.environment import Stack

RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
BATCH = 5
# Documents in orders, returns and tenants: the archive loads in name order, in 8, 3 and 1
# batches; the other archive differs in every collection, counts included.
ARCHIVED = (40, 15, 3)
OTHER = (7, 4, 2)
CRASH_AFTER_BATCH = 10  # inside `returns`, once `orders` is loaded
# How long the restore keeps retrying against the killed database before it gives up.
OPERATION_TIMEOUT_MS = 2000
Contents = dict[str, tuple[int, str, list[str]]]


async def _seed(db: Any, label: str, counts: tuple[int, int, int]) -> None:
    orders, returns, tenants = counts
    await db["orders"].insert_many(
        [{"tenant_id": "tenant-a", "order_number": n, "label": label} for n in range(orders)]
    )
    await db["orders"].create_index([("tenant_id", 1), ("order_number", 1)], unique=True)
    await db["returns"].insert_many(
        [{"tenant_id": "tenant-a", "order_number": n, "label": label} for n in range(returns)]
    )
    await db["returns"].create_index([("tenant_id", 1), ("label", 1)], name=f"by_{label}")
    await db["tenants"].insert_many(
        [{"_id": f"tenant-{n}", "label": label} for n in range(tenants)]
    )


async def _contents(db: Any) -> Contents:
    """Per collection (restore bookkeeping aside): count, sha256 of the documents, index names."""
    contents = {}
    for name in sorted(await db.list_collection_names()):
        if is_restore_bookkeeping(name):
            continue
        collection = db.get_collection(name, codec_options=RAW)
        digest = hashlib.sha256()
        count = 0
        async for document in collection.find({}).sort("_id", 1):
            digest.update(document.raw)
            count += 1
        indexes = sorted([str(spec["name"]) async for spec in await collection.list_indexes()])
        contents[name] = (count, digest.hexdigest(), indexes)
    return contents


async def _staging_collections(db: Any) -> list[str]:
    return [name for name in await db.list_collection_names() if name.startswith("restore_")]


async def _two_archives(
    stack: Stack, database: Database, tmp_path: Path
) -> tuple[Path, Contents, Path]:
    """`archived` (what the test restores) with its contents, and `other`, which the database
    holds afterwards."""
    await _seed(stack.raw, "archived", ARCHIVED)
    archived = tmp_path / "archived"
    await create_backup(database.db, archived)
    expected = await _contents(stack.raw)
    await stack.raw_client.drop_database(stack.settings.mongodb_db)
    await _seed(stack.raw, "other", OTHER)
    other = tmp_path / "other"
    await create_backup(database.db, other)
    return archived, expected, other


def _kill_the_database_after_a_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """SIGKILL the database once the `batch`-th batch is acknowledged; the restore carries on
    into the dead database and fails, and the test restarts it."""
    monkeypatch.setattr(backup, "INSERT_BATCH_DOCUMENTS", BATCH)
    insert_many = AsyncCollection.insert_many
    batches = 0

    async def insert_then_crash(self: Any, documents: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal batches
        result = await insert_many(self, documents, *args, **kwargs)
        batches += 1
        if batches == batch:
            await stack.kill_database()
        return result

    monkeypatch.setattr(AsyncCollection, "insert_many", insert_then_crash)


def _kill_the_database_after_a_rename(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, rename: int
) -> None:
    """SIGKILL the database once the `rename`-th rename is acknowledged, before the journal
    records it."""
    command = AsyncDatabase.command
    renames = 0

    async def command_then_crash(self: Any, spec: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal renames
        result = await command(self, spec, *args, **kwargs)
        if isinstance(spec, Mapping) and "renameCollection" in spec:
            renames += 1
            if renames == rename:
                await stack.kill_database()
        return result

    monkeypatch.setattr(AsyncDatabase, "command", command_then_crash)


@pytest.mark.parametrize("replacing", [False, True], ids=["into-empty", "with-drop"])
async def test_a_crash_while_loading_leaves_the_targets_untouched_until_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replacing: bool
) -> None:
    async with Stack(tmp_path, socket_timeout_ms=OPERATION_TIMEOUT_MS) as stack:
        database = await connect(stack.settings, create_indexes=False)
        try:
            archived, expected, other = await _two_archives(stack, database, tmp_path)
            if not replacing:
                await stack.raw_client.drop_database(stack.settings.mongodb_db)
            before = await _contents(stack.raw)
            _kill_the_database_after_a_batch(stack, monkeypatch, CRASH_AFTER_BATCH)

            with pytest.raises(PyMongoError):
                await restore_backup(database.db, archived, drop=replacing)
            monkeypatch.undo()
            await stack.restart_database()

            assert await _contents(stack.raw) == before, "a target changed before the swap"
            journal = await unfinished_restore(database.db)
            assert journal is not None
            assert journal.phase is RestorePhase.LOADING
            assert journal.loaded == ["orders"]
            assert journal.swapped == []
            with pytest.raises(BackupError, match=r"unfinished.*--resume.*--abort"):
                await restore_backup(database.db, other, drop=True)
            with pytest.raises(BackupError, match=r"not the archive of the unfinished restore"):
                await restore_backup(database.db, other, drop=True, resume=True)

            restored = await restore_backup(database.db, archived, resume=True)

            assert [r.name for r in restored] == ["orders", "returns", "tenants"]
            assert await _contents(stack.raw) == expected
            assert await _staging_collections(stack.raw) == []
            assert await unfinished_restore(database.db) is None
            finished = await latest_restore(database.db)
            assert finished is not None
            assert finished.phase is RestorePhase.DONE
        finally:
            await database.close()


async def test_a_crash_while_swapping_can_only_be_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Stack(tmp_path, socket_timeout_ms=OPERATION_TIMEOUT_MS) as stack:
        database = await connect(stack.settings, create_indexes=False)
        try:
            archived, expected, other = await _two_archives(stack, database, tmp_path)
            _kill_the_database_after_a_rename(stack, monkeypatch, rename=2)

            with pytest.raises(PyMongoError):
                await restore_backup(database.db, archived, drop=True)
            monkeypatch.undo()
            await stack.restart_database()

            journal = await unfinished_restore(database.db)
            assert journal is not None
            assert journal.phase is RestorePhase.SWAPPING
            assert journal.loaded == ["orders", "returns", "tenants"]
            assert journal.swapped == ["orders"]  # `returns` was renamed, not yet recorded
            with pytest.raises(BackupError, match=r"cannot abort.*swap has started.*--resume"):
                await abort_restore(database.db)
            with pytest.raises(BackupError, match=r"unfinished.*--resume"):
                await restore_backup(database.db, other, drop=True)

            await restore_backup(database.db, archived, resume=True)

            assert await _contents(stack.raw) == expected
            assert await _staging_collections(stack.raw) == []
            assert await unfinished_restore(database.db) is None
        finally:
            await database.close()


async def test_aborting_an_interrupted_load_drops_its_staging_and_keeps_the_old_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Stack(tmp_path, socket_timeout_ms=OPERATION_TIMEOUT_MS) as stack:
        database = await connect(stack.settings, create_indexes=False)
        try:
            archived, expected, _ = await _two_archives(stack, database, tmp_path)
            before = await _contents(stack.raw)
            _kill_the_database_after_a_batch(stack, monkeypatch, CRASH_AFTER_BATCH)
            with pytest.raises(PyMongoError):
                await restore_backup(database.db, archived, drop=True)
            monkeypatch.undo()
            await stack.restart_database()
            assert await _staging_collections(stack.raw) != []

            aborted = await abort_restore(database.db)

            assert await _staging_collections(stack.raw) == []
            assert await _contents(stack.raw) == before
            assert await unfinished_restore(database.db) is None
            journal = await latest_restore(database.db)
            assert journal is not None
            assert journal.id == aborted.id
            assert journal.phase is RestorePhase.ABORTED
            assert journal.finished_at is not None
            # Nothing is left in the way of the next restore.
            await restore_backup(database.db, archived, drop=True)
            assert await _contents(stack.raw) == expected
        finally:
            await database.close()
