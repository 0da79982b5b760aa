"""Backups: mongodump layout, byte-identical restore with indexes, refusal of broken archives."""

from __future__ import annotations

import gzip
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from bson import json_util

from app.clock import utcnow
from app.db import Database
from app.models import OAuthState, SyncJob, WebhookEvent
from app.models.sync_job import SyncStatus, SyncType
from app.services.backup import (
    MANIFEST_NAME,
    BackupError,
    BackupManifest,
    create_backup,
    prune_backups,
    read_archive,
    restore_backup,
)
from tests.factories import make_order, make_return, make_tenant
from tests.ops.conftest import index_state, raw_documents


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
    assert await raw_documents(db.db) == documents_before
    assert await index_state(db.db) == indexes_before


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
    assert await raw_documents(db.db) == documents_before


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
    assert await raw_documents(db.db) == before


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
