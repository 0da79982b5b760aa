"""Backups: mongodump layout, byte-identical restore with indexes, refusal of broken archives,
the restore journal (resume, abort, status) and the `rms backup` commands around it."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bson import json_util
from pymongo import MongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import OAuthState, SyncJob, WebhookEvent
from app.models.sync_job import SyncStatus, SyncType
from app.services.operations import backup
from app.services.operations.backup import (
    MANIFEST_NAME,
    RESTORES_COLLECTION,
    BackupError,
    BackupManifest,
    RestorePhase,
    create_backup,
    latest_restore,
    prune_backups,
    read_archive,
    restore_backup,
    unfinished_restore,
)
from tests.factories import make_order, make_return, make_tenant
from tests.ops.conftest import index_state, raw_documents
from tools.cli import main

T = TypeVar("T")


def _without_journal(state: dict[str, T]) -> dict[str, T]:
    """All but the restore journal, which records each restore in the restored database."""
    return {name: value for name, value in state.items() if name != RESTORES_COLLECTION}


async def _seed() -> None:
    tenant = await make_tenant("backupshop")
    order = await make_order(tenant.tenant_id, 1001, email="ada@example.com")
    await make_order(tenant.tenant_id, 1002)
    await make_return(order)
    await SyncJob(tenant_id=tenant.tenant_id, type=SyncType.FULL, days=30).insert()
    await SyncJob(
        tenant_id=tenant.tenant_id,
        type=SyncType.INCREMENTAL,
        status=SyncStatus.COMPLETED,
        active=None,
    ).insert()
    await WebhookEvent(
        tenant_id=tenant.tenant_id,
        shop_domain=tenant.shop_domain,
        topic="orders/create",
        event_id="evt-1",
        payload={"id": 1, "nested": {"price": "1.10", "list": [1, 2.5, None, True]}},
    ).insert()
    await OAuthState(
        state="s-1", shop=tenant.shop_domain, expires_at=utcnow() + timedelta(minutes=10)
    ).insert()


async def test_backup_writes_the_mongodump_gzip_layout(db: Database, tmp_path: Path) -> None:
    await _seed()
    out = tmp_path / "backup"
    manifest = await create_backup(db.db, out)
    database_dir = out / db.db.name
    assert (out / MANIFEST_NAME).exists()
    names = {entry.name for entry in manifest.collections}
    assert {"orders", "returns", "tenants", "sync_jobs", "webhook_events"} <= names
    for name in names:
        assert (database_dir / f"{name}.bson.gz").exists()
        with gzip.open(database_dir / f"{name}.metadata.json.gz", "rb") as stream:
            metadata = json_util.loads(stream.read())
        assert metadata["collectionName"] == name
        assert set(metadata) >= {"options", "indexes", "uuid", "collectionName"}
        assert any(spec["name"] == "_id_" for spec in metadata["indexes"])
    assert isinstance(manifest.snapshot, bool)  # True on a replica set; a standalone: False
    assert not list(tmp_path.glob(".*partial*"))


async def test_backup_wipe_restore_reproduces_documents_byte_for_byte(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    documents_before = await raw_documents(db.db)
    indexes_before = await index_state(db.db)
    out = tmp_path / "backup"
    manifest = await create_backup(db.db, out)
    assert manifest.documents == sum(len(docs) for docs in documents_before.values())

    await db.client.drop_database(db.db.name)
    assert await db.db.list_collection_names() == []
    restored = await restore_backup(db.db, out)

    assert {r.name for r in restored} == set(documents_before)
    assert _without_journal(await raw_documents(db.db)) == documents_before
    assert _without_journal(await index_state(db.db)) == indexes_before


async def test_restore_accepts_the_database_directory_without_manifest(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    documents_before = await raw_documents(db.db)
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    (out / MANIFEST_NAME).unlink()  # what a plain `mongodump --gzip` directory looks like
    await db.client.drop_database(db.db.name)
    await restore_backup(db.db, out / db.db.name)
    assert _without_journal(await raw_documents(db.db)) == documents_before


@pytest.mark.parametrize("keep_manifest", [True, False])
async def test_truncated_archive_fails_clearly_and_touches_nothing(
    db: Database, tmp_path: Path, keep_manifest: bool
) -> None:
    await _seed()
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    if not keep_manifest:
        (out / MANIFEST_NAME).unlink()
    orders = out / db.db.name / "orders.bson.gz"
    data = orders.read_bytes()
    orders.write_bytes(data[: len(data) // 2])
    await db.client.drop_database(db.db.name)

    with pytest.raises(BackupError, match=r"orders\.bson\.gz.*truncated"):
        await restore_backup(db.db, out, drop=True)
    assert await db.db.list_collection_names() == []


async def test_archive_missing_a_collection_file_is_refused(db: Database, tmp_path: Path) -> None:
    await _seed()
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    (out / db.db.name / "returns.bson.gz").unlink()
    with pytest.raises(BackupError, match=r"incomplete.*returns"):
        read_archive(out)


async def test_restore_refuses_non_empty_collections_without_drop(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    before = await raw_documents(db.db)
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    with pytest.raises(BackupError, match=r"not empty.*--drop"):
        await restore_backup(db.db, out)
    assert await raw_documents(db.db) == before

    await db.db["orders"].delete_many({})
    await db.db["tenants"].insert_one({"_id": "tenant-extra", "id": "tenant-extra"})
    await restore_backup(db.db, out, drop=True)
    assert _without_journal(await raw_documents(db.db)) == before


def _fake_backup(root: Path, name: str, age_days: float, *, manifest: bool = True) -> Path:
    path = root / name
    (path / "returns_management").mkdir(parents=True)
    (path / "returns_management" / "orders.bson.gz").write_bytes(gzip.compress(b""))
    created = utcnow() - timedelta(days=age_days)
    if manifest:
        (path / MANIFEST_NAME).write_bytes(
            BackupManifest(
                database="returns_management", created_at=created, snapshot=True
            ).to_json()
        )
    else:
        stamp = time.time() - age_days * 86400
        os.utime(path, (stamp, stamp))
    return path


def test_prune_removes_only_backups_older_than_the_limit(tmp_path: Path) -> None:
    old = _fake_backup(tmp_path, "20250101T000000Z", 10)
    old_mongodump = _fake_backup(tmp_path, "20250102_000000", 9, manifest=False)
    recent = _fake_backup(tmp_path, "20250110T000000Z", 1)
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "readme.txt").write_text("keep me")
    old_file = tmp_path / "config_20250101.tar.gz"
    old_file.write_bytes(b"x")
    os.utime(old_file, (time.time() - 30 * 86400,) * 2)
    os.utime(unrelated, (time.time() - 30 * 86400,) * 2)

    removed = prune_backups(tmp_path, keep_days=7)

    assert sorted(removed) == sorted([old, old_mongodump])
    assert recent.exists()
    assert unrelated.exists()
    assert old_file.exists()


# --- the restore journal ---------------------------------------------------------------------
def _stop_loading_after(monkeypatch: pytest.MonkeyPatch, batches: int) -> None:
    """The restore stops, as on a lost connection, once `batches` one-document batches are in."""
    monkeypatch.setattr(backup, "INSERT_BATCH_DOCUMENTS", 1)
    insert_many = AsyncCollection.insert_many
    inserted = 0

    async def insert_or_stop(self: Any, documents: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal inserted
        if inserted == batches:
            raise AutoReconnect("connection lost (simulated)")
        inserted += 1
        return await insert_many(self, documents, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "insert_many", insert_or_stop)


def _stop_swapping_after(monkeypatch: pytest.MonkeyPatch, renames: int) -> None:
    """The restore stops, as on a lost connection, right after its `renames`-th rename."""
    command = AsyncDatabase.command
    done = 0

    async def command_then_stop(self: Any, spec: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal done
        result = await command(self, spec, *args, **kwargs)
        if isinstance(spec, Mapping) and "renameCollection" in spec:
            done += 1
            if done == renames:
                raise AutoReconnect("connection lost (simulated)")
        return result

    monkeypatch.setattr(AsyncDatabase, "command", command_then_stop)


async def _collection_names(db: Database) -> list[str]:
    return sorted(str(name) for name in await db.db.list_collection_names())


async def test_a_restore_is_journaled_as_done_and_leaves_no_staging_collection(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    out = tmp_path / "backup"
    manifest = await create_backup(db.db, out)
    await db.client.drop_database(db.db.name)

    await restore_backup(db.db, out)

    journal = await latest_restore(db.db)
    assert journal is not None
    assert journal.phase is RestorePhase.DONE
    assert journal.finished_at is not None
    assert journal.archive == str(out.resolve())
    assert journal.archive_created_at == manifest.created_at
    assert journal.checksums == {e.name: e.bson_sha256 for e in manifest.collections}
    assert journal.loaded == journal.swapped == journal.collections
    assert await unfinished_restore(db.db) is None
    assert not [name for name in await _collection_names(db) if name.startswith("restore_")]
    stored = await db.db[RESTORES_COLLECTION].find_one({"_id": journal.id})
    assert stored is not None
    assert "active" not in stored  # only an unfinished restore holds the one-at-a-time slot


async def test_backups_leave_out_the_restore_journal_and_staging_collections(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    await db.db[RESTORES_COLLECTION].insert_one({"_id": "r-1", "phase": "done"})
    await db.db["restore_0123abcd_orders"].insert_one({"half": "loaded"})

    manifest = await create_backup(db.db, tmp_path / "backup")

    names = {entry.name for entry in manifest.collections}
    assert "orders" in names
    assert RESTORES_COLLECTION not in names
    assert "restore_0123abcd_orders" not in names


async def test_a_restore_never_writes_an_archived_journal_or_staging_collection(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    database_dir = out / db.db.name
    # What a plain mongodump taken in the middle of a restore would hold.
    (out / MANIFEST_NAME).unlink()
    for name in (RESTORES_COLLECTION, "restore_0123abcd_orders"):
        shutil.copy(database_dir / "orders.bson.gz", database_dir / f"{name}.bson.gz")
    await db.client.drop_database(db.db.name)

    restored = await restore_backup(db.db, database_dir)

    assert "restore_0123abcd_orders" not in {r.name for r in restored}
    assert "restore_0123abcd_orders" not in await _collection_names(db)
    assert await db.db[RESTORES_COLLECTION].count_documents({}) == 1  # this restore's journal


async def test_an_unfinished_restore_refuses_other_restores_and_resumes_from_a_moved_copy(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed()
    before = await raw_documents(db.db)
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    await db.db["orders"].delete_many({})
    other = tmp_path / "other"
    await create_backup(db.db, other)
    await db.client.drop_database(db.db.name)
    with pytest.MonkeyPatch.context() as stop:
        _stop_loading_after(stop, batches=3)
        with pytest.raises(AutoReconnect):
            await restore_backup(db.db, out)

    for attempt in ({}, {"drop": True}):
        with pytest.raises(BackupError, match=r"unfinished restore.*--resume.*--abort"):
            await restore_backup(db.db, out, **attempt)
    with pytest.raises(BackupError, match=r"not the archive of the unfinished restore.*orders"):
        await restore_backup(db.db, other, resume=True)
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    await restore_backup(db.db, moved, resume=True)

    assert _without_journal(await raw_documents(db.db)) == before


async def test_resume_without_an_unfinished_restore_is_refused(
    db: Database, tmp_path: Path
) -> None:
    await _seed()
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    with pytest.raises(BackupError, match=r"no unfinished restore to resume"):
        await restore_backup(db.db, out, resume=True)


async def test_targets_written_during_the_load_stop_the_swap_unless_resumed_with_drop(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed()
    before = await raw_documents(db.db)
    out = tmp_path / "backup"
    await create_backup(db.db, out)
    await db.client.drop_database(db.db.name)
    insert_many = AsyncCollection.insert_many

    async def insert_while_the_app_writes(self: Any, *args: Any, **kwargs: Any) -> Any:
        await db.db["orders"].update_one({"_id": "late"}, {"$set": {"n": 1}}, upsert=True)
        return await insert_many(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as app_writes:
        app_writes.setattr(AsyncCollection, "insert_many", insert_while_the_app_writes)
        with pytest.raises(BackupError, match=r"not empty: orders.*--drop.*--abort"):
            await restore_backup(db.db, out)

    assert await db.db["orders"].count_documents({}) == 1  # untouched by the restore
    journal = await unfinished_restore(db.db)
    assert journal is not None
    assert journal.phase is RestorePhase.LOADING
    assert journal.loaded == journal.collections
    with pytest.raises(BackupError, match=r"not empty: orders"):
        await restore_backup(db.db, out, resume=True)
    await restore_backup(db.db, out, resume=True, drop=True)
    assert _without_journal(await raw_documents(db.db)) == before


# --- `rms backup` around an unfinished restore -------------------------------------------------
@pytest.fixture
def cli_db(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """`rms` pointed at this test's database, no `.env` in the way; a sync handle on it."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("SHOPIFY_", "APP_URL", "ENCRYPTION_KEYS", "ENVIRONMENT", "MONGODB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", settings.mongodb_db)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("LOG_JSON", "true")
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri, tz_aware=True)
    with client:
        yield client[settings.mongodb_db]
        client.drop_database(settings.mongodb_db)


def _two_cli_archives(cli_db: Any, tmp_path: Path) -> tuple[Path, Path]:
    """`archive` (orders 1..5, tenants) and `other`; the database is left empty."""
    cli_db["orders"].insert_many([{"_id": n, "tenant_id": "tenant-cli"} for n in range(1, 6)])
    cli_db["tenants"].insert_one({"_id": "tenant-cli"})
    archive, other = tmp_path / "archive", tmp_path / "other"
    assert main(["backup", "create", "--out", str(archive)]) == 0
    cli_db["orders"].delete_many({"_id": {"$gt": 2}})
    assert main(["backup", "create", "--out", str(other)]) == 0
    cli_db.client.drop_database(cli_db.name)
    return archive, other


def _staging(cli_db: Any) -> list[str]:
    return [name for name in cli_db.list_collection_names() if name.startswith("restore_")]


def test_rms_backup_restore_says_restored_only_when_done_and_status_shows_an_unfinished_one(
    cli_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, other = _two_cli_archives(cli_db, tmp_path)
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as stop:
        _stop_loading_after(stop, batches=2)
        assert main(["backup", "restore", str(archive)]) == 1
    output = capsys.readouterr()
    assert "restored" not in output.out
    assert "the restore stopped" in output.err
    assert "--resume" in output.err

    assert main(["backup", "status"]) == 1
    out = capsys.readouterr().out
    assert "UNFINISHED" in out
    assert "is loading: 0/2 collections loaded, 0/2 swapped" in out
    assert f"rms backup restore {archive} --resume" in out
    assert "rms backup restore --abort" in out
    assert main(["backup", "restore", str(other), "--drop"]) == 1
    assert "unfinished restore" in capsys.readouterr().err

    assert main(["backup", "restore", "--abort"]) == 0
    assert "aborted restore" in capsys.readouterr().out
    assert _staging(cli_db) == []
    assert cli_db.list_collection_names() == [RESTORES_COLLECTION]
    assert main(["backup", "status"]) == 0
    out = capsys.readouterr().out
    assert "no unfinished restore" in out
    assert "aborted" in out

    assert main(["backup", "restore", str(archive)]) == 0
    assert "restored 6 documents" in capsys.readouterr().out
    assert cli_db["orders"].count_documents({}) == 5


def test_rms_backup_restore_abort_is_refused_once_the_swap_has_started(
    cli_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, _ = _two_cli_archives(cli_db, tmp_path)
    with pytest.MonkeyPatch.context() as stop:
        _stop_swapping_after(stop, renames=1)
        assert main(["backup", "restore", str(archive)]) == 1
    capsys.readouterr()

    assert main(["backup", "restore", "--abort"]) == 1
    err = capsys.readouterr().err
    assert "cannot abort" in err
    assert "swap has started" in err
    assert f"rms backup restore {archive} --resume" in err
    assert main(["backup", "status"]) == 1
    assert "is swapping" in capsys.readouterr().out

    assert main(["backup", "restore", str(archive), "--resume"]) == 0
    assert "restored 6 documents" in capsys.readouterr().out
    assert cli_db["orders"].count_documents({}) == 5
    assert _staging(cli_db) == []


def test_rms_backup_restore_takes_a_path_unless_aborting(
    cli_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "restore"]) == 2
    assert "PATH is required" in capsys.readouterr().err
    assert main(["backup", "restore", str(tmp_path), "--abort"]) == 2
    assert "--abort takes no PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backup", "restore", str(tmp_path), "--resume", "--abort"])
