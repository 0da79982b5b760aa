"""The database dies in the middle of a restore: while loading, and while swapping."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pymongo
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.models.sync_job import SyncStatus
from app.services.operations import backup
from app.services.operations.backup import (
    create_backup,
    is_restore_bookkeeping,
    restore_backup,
    unfinished_restore,
)
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import (
    beanie,
    job,
    keep_working,
    queue_full_sync,
    stop_workers,
    sync_worker,
    wrapped,
)

RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
# A restore stopped by the crash gives up on the dead database after this long.
OPERATION_TIMEOUT_SECONDS = 2.0


async def restore_with_database_restart(root: Path, orders: int = 100) -> Figures:
    """A database of one synced shop is backed up, then restored into an empty database twice:
    once killed while loading, once while swapping collections into place. Each time the restore
    must fail (never report done), leave a journal saying it is unfinished, and a resume with
    the same archive must make the database equal to the archive, document for document."""
    figures = Figures("restore: db killed mid-restore")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=orders)
            tenant_id = await stack.install_in_process(domain)
            job_id = await queue_full_sync(tenant_id)
            stop = asyncio.Event()
            runner = asyncio.create_task(keep_working(sync_worker(stack, "fill"), stop))

            async def synced() -> bool:
                return (await job(stack, job_id)).get("status") == SyncStatus.COMPLETED.value

            await eventually(synced, 60, 0.1)
            await stop_workers([runner], stop, figures)
            archive = root / "archive"
            await create_backup(database.db, archive)
            expected = await _contents(database.db)
            documents = sum(count for count, _ in expected.values())
            figures.acknowledged = figures.stored = 0
            for number, crash in enumerate((_crash_while_loading, _crash_while_swapping)):
                target = database.client.get_database(f"restored{number}")
                reported = await crash(stack, target, archive)
                figures.check(not reported, f"{crash.__name__}: reported restored")
                journal = await unfinished_restore(target)
                figures.check(
                    journal is not None, f"{crash.__name__}: no unfinished restore recorded"
                )
                await restore_backup(target, archive, resume=True)
                figures.acknowledged += documents  # reported restored once resumed
                restored = await _contents(target)
                figures.stored += sum(
                    count
                    for name, (count, digest) in restored.items()
                    if expected.get(name) == (count, digest)
                )
                figures.check(
                    set(restored) == set(expected),
                    f"{crash.__name__}: collections {sorted(set(restored) ^ set(expected))}",
                )
            figures.details = {"collections": len(expected), "documents": documents}
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


async def _attempt(target: AsyncDatabase[Any], archive: Path) -> bool:
    """One restore that the crash interrupts; whether it (wrongly) reported success."""
    try:
        with pymongo.timeout(OPERATION_TIMEOUT_SECONDS):
            await restore_backup(target, archive)
    except Exception:  # the crash: the restore must fail, whatever the error
        return False
    return True


async def _crash_while_loading(stack: Stack, target: AsyncDatabase[Any], archive: Path) -> bool:
    return await _crash_after(stack, target, archive, "_insert_documents", 2)


async def _crash_while_swapping(stack: Stack, target: AsyncDatabase[Any], archive: Path) -> bool:
    return await _crash_after(stack, target, archive, "_swap", 2)


async def _crash_after(
    stack: Stack, target: AsyncDatabase[Any], archive: Path, step: str, times: int
) -> bool:
    """Restore, killing the database right after the restore's `step` ran `times` times (a
    collection loaded into staging, or renamed onto its target); whether it reported success."""
    done = 0

    def crash_after_step(run: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def ran_then_crash(*args: Any, **kwargs: Any) -> Any:
            nonlocal done
            result = await run(*args, **kwargs)
            done += 1
            if done == times:
                await stack.kill_database()
            return result

        return ran_then_crash

    with wrapped(backup, step, crash_after_step):
        reported = await _attempt(target, archive)
    await stack.restart_database()
    return reported


async def _contents(db: AsyncDatabase[Any]) -> dict[str, tuple[int, str]]:
    """Per collection (restore bookkeeping aside): documents and a digest of them by `_id`."""
    contents = {}
    for name in sorted(await db.list_collection_names()):
        if is_restore_bookkeeping(name):
            continue
        digest = hashlib.sha256()
        count = 0
        async for document in db.get_collection(name, codec_options=RAW).find({}).sort("_id", 1):
            digest.update(document.raw)
            count += 1
        contents[name] = (count, digest.hexdigest())
    return contents
