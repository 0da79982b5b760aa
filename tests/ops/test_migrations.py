"""Numbered migrations: up, down, up again is the same state; a failing step keeps the version."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

from app.db import Database
from app.migrations import (
    Migration,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    MigrationRunner,
    discover,
    m0001_initial_indexes,
)
from app.migrations.indexes import collection_name, declared_indexes, index_name
from app.migrations.runner import LOCK_COLLECTION
from app.models import DOCUMENT_MODELS
from tests.ops.conftest import index_state


def _declared() -> dict[str, set[str]]:
    return {
        collection_name(m): {index_name(i) for i in declared_indexes(m)} for m in DOCUMENT_MODELS
    }


async def test_discover_finds_the_numbered_modules_in_order() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    assert migrations[0].name == "initial_indexes"


async def test_migration_1_creates_every_index_declared_on_the_models(bare_db: Database) -> None:
    runner = MigrationRunner(bare_db.db)
    applied = await runner.migrate()
    assert applied[0].version == 1
    state = await index_state(bare_db.db)
    for collection, names in _declared().items():
        assert names <= {spec["name"] for spec in state.get(collection, [])}, collection
    record = await bare_db.db["schema_migrations"].find_one({"version": 1})
    assert record is not None
    assert record["name"] == "initial_indexes"
    assert record["created_at"] is not None


async def test_migrate_rollback_migrate_gives_the_same_state(bare_db: Database) -> None:
    runner = MigrationRunner(bare_db.db)
    await runner.migrate()
    migrated = await index_state(bare_db.db)

    reverted = await runner.rollback(to=0)
    assert [m.version for m in reverted] == sorted((m.version for m in reverted), reverse=True)
    assert await runner.current_version() == 0
    after_rollback = await index_state(bare_db.db)
    assert all([spec["name"] for spec in specs] == ["_id_"] for specs in after_rollback.values()), (
        after_rollback
    )

    await runner.migrate()
    assert await index_state(bare_db.db) == migrated
    assert await runner.current_version() == runner.latest_version


async def test_migrate_twice_applies_nothing_the_second_time(bare_db: Database) -> None:
    runner = MigrationRunner(bare_db.db)
    assert await runner.migrate()
    state = await index_state(bare_db.db)
    assert await runner.migrate() == []
    assert await index_state(bare_db.db) == state
    assert await bare_db.db["schema_migrations"].count_documents({}) == len(runner.migrations)


def _failing_module() -> ModuleType:
    """A migration injected through the runner API: creates an index, then raises."""
    module = ModuleType("tests.ops.m0002_failing")

    async def up(db: Any) -> None:
        await db["orders"].create_index("failing_marker", name="failing_marker")
        try:
            raise RuntimeError("boom")
        finally:  # a failing `up` undoes its own work
            await db["orders"].drop_index("failing_marker")

    async def down(db: Any) -> None:
        return None

    module.up = up  # type: ignore[attr-defined]
    module.down = down  # type: ignore[attr-defined]
    return module


async def test_failing_migration_leaves_the_previous_version(bare_db: Database) -> None:
    runner = MigrationRunner(bare_db.db, [m0001_initial_indexes, _failing_module()])
    with pytest.raises(MigrationFailed, match="0002 failing failed \\(up\\): RuntimeError: boom"):
        await runner.migrate()
    assert await runner.current_version() == 1
    versions = [r["version"] async for r in bare_db.db["schema_migrations"].find({})]
    assert versions == [1]
    orders = await index_state(bare_db.db)
    assert "failing_marker" not in {spec["name"] for spec in orders["orders"]}
    # The lock is released, so a later run is possible.
    assert await bare_db.db[LOCK_COLLECTION].count_documents({}) == 0


async def test_migration_1_failing_midway_drops_the_indexes_it_created(
    bare_db: Database,
) -> None:
    # Duplicate order numbers make the unique (tenant_id, order_number) index fail.
    await bare_db.db["orders"].insert_many(
        [
            {"tenant_id": "tenant-a", "order_number": "1001", "shopify_id": "1"},
            {"tenant_id": "tenant-a", "order_number": "1001", "shopify_id": "2"},
        ]
    )
    runner = MigrationRunner(bare_db.db)
    with pytest.raises(MigrationFailed):
        await runner.migrate()
    assert await runner.current_version() == 0
    state = await index_state(bare_db.db)
    assert all([s["name"] for s in specs] == ["_id_"] for specs in state.values()), state


async def test_rollback_previous_undoes_only_the_latest(bare_db: Database) -> None:
    calls: list[str] = []

    async def up(db: Any) -> None:
        calls.append("up")

    async def down(db: Any) -> None:
        calls.append("down")

    second = Migration(version=2, name="second", up=up, down=down)
    runner = MigrationRunner(bare_db.db, [m0001_initial_indexes, second])
    await runner.migrate()
    assert await runner.current_version() == 2
    undone = await runner.rollback("previous")
    assert [m.version for m in undone] == [2]
    assert await runner.current_version() == 1
    assert calls == ["up", "down"]
    status = await runner.status()
    assert [(row.version, row.applied) for row in status] == [(1, True), (2, False)]


async def test_migrate_to_a_version_stops_there(bare_db: Database) -> None:
    async def noop(db: Any) -> None:
        return None

    runner = MigrationRunner(
        bare_db.db, [m0001_initial_indexes, Migration(2, "second", noop, noop)]
    )
    await runner.migrate(to=1)
    assert await runner.current_version() == 1
    await runner.migrate(to=2)
    with pytest.raises(MigrationError, match="rollback"):
        await runner.migrate(to=1)
    assert await runner.current_version() == 2


async def test_a_second_runner_is_refused_while_one_holds_the_lock(bare_db: Database) -> None:
    first = MigrationRunner(bare_db.db)
    second = MigrationRunner(bare_db.db)
    async with first._locked():
        with pytest.raises(MigrationLocked):
            await second.migrate()
    assert await second.migrate()


async def test_a_migrator_whose_lock_was_taken_stops_and_records_nothing(
    bare_db: Database,
) -> None:
    taken = asyncio.Event()

    async def slow(db: Any) -> None:
        # Meanwhile this process stalls past its lease and another migrator takes the lock.
        await db["schema_migrations_lock"].update_one(
            {"_id": "migrate"}, {"$set": {"owner": "another-migrator"}}
        )
        taken.set()
        await asyncio.sleep(5)

    async def noop(db: Any) -> None:
        return None

    runner = MigrationRunner(bare_db.db, [Migration(1, "slow", slow, noop)], lock_seconds=0.3)
    with pytest.raises(MigrationLocked, match="taken by another migrator"):
        await runner.migrate()
    assert taken.is_set()
    assert await runner.current_version() == 0
    # The other migrator's lock is left alone.
    lock = await bare_db.db["schema_migrations_lock"].find_one({"_id": "migrate"})
    assert lock is not None and lock["owner"] == "another-migrator"


async def test_a_migrator_whose_cancel_is_swallowed_still_stops_before_the_next_step(
    bare_db: Database,
) -> None:
    # The database driver can swallow the cancel the renewal sends when it finds the lock
    # taken: the step then finishes, but neither its record nor the next step may follow.
    ran: list[int] = []

    async def taken_meanwhile(db: Any) -> None:
        ran.append(1)
        await db["schema_migrations_lock"].update_one(
            {"_id": "migrate"}, {"$set": {"owner": "another-migrator"}}
        )
        for _ in range(100):  # outlasts several renewals, swallowing their cancel
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    async def second(db: Any) -> None:
        ran.append(2)

    async def noop(db: Any) -> None:
        return None

    runner = MigrationRunner(
        bare_db.db,
        [Migration(1, "taken", taken_meanwhile, noop), Migration(2, "second", second, noop)],
        lock_seconds=0.3,
    )
    with pytest.raises(MigrationLocked, match="taken by another migrator"):
        await runner.migrate()
    assert ran == [1]
    assert await runner.current_version() == 0
