"""Apply and roll back numbered migrations, recorded in `schema_migrations`.

A version is recorded only after its `up` succeeded and forgotten only after its `down`
succeeded, so a failing step leaves the database at the previous version. Each `up` must be
idempotent or undo its own partial work (see `indexes.create_model_indexes`): a crash between a
step and its record runs the step again next time. A lease in `schema_migrations_lock` keeps two
deploys from migrating at the same time; it is short and renewed while the migration runs, so the
lock of a migrator that died (or lost the database) lapses within `LOCK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pkgutil
import re
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.periodic import Periodic

logger = logging.getLogger("app.migrations")

Db = AsyncDatabase[dict[str, Any]]
MigrationStep = Callable[[Db], Awaitable[None]]

MIGRATIONS_COLLECTION = "schema_migrations"
LOCK_COLLECTION = "schema_migrations_lock"
LOCK_SECONDS = 60.0
_MODULE_NAME = re.compile(r"^m(\d{4})_([a-z0-9_]+)$")


class MigrationError(Exception):
    """A migration request that cannot be carried out (unknown version, wrong direction...)."""


class MigrationLocked(MigrationError):
    """Another process holds the migration lock."""


class MigrationFailed(MigrationError):
    """A step raised; the recorded version is the one before that step."""

    def __init__(self, migration: Migration, direction: str, cause: BaseException) -> None:
        super().__init__(
            f"migration {migration.version:04d} {migration.name} failed ({direction}): "
            f"{type(cause).__name__}: {cause}"
        )
        self.migration = migration
        self.direction = direction


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    up: MigrationStep
    down: MigrationStep

    @classmethod
    def from_module(cls, module: ModuleType) -> Migration:
        """`m0001_initial_indexes` -> version 1, name `initial_indexes` (or `VERSION`/`NAME`)."""
        short = module.__name__.rsplit(".", 1)[-1]
        match = _MODULE_NAME.match(short)
        version = getattr(module, "VERSION", int(match.group(1)) if match else None)
        name = getattr(module, "NAME", match.group(2) if match else short)
        if not isinstance(version, int) or version < 1:
            raise MigrationError(f"{module.__name__}: no version (name it mNNNN_<name>)")
        return cls(version=version, name=str(name), up=module.up, down=module.down)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    version: int
    name: str
    applied_at: datetime | None
    known: bool = True  # False: recorded in the database but no code for it here

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


def discover(package: str = "app.migrations") -> list[Migration]:
    """The `mNNNN_*` modules of `package`, in version order."""
    root = importlib.import_module(package)
    migrations = []
    for info in pkgutil.iter_modules(root.__path__):
        if _MODULE_NAME.match(info.name):
            module = importlib.import_module(f"{package}.{info.name}")
            migrations.append(Migration.from_module(module))
    return _checked(migrations)


def _checked(migrations: Sequence[Migration]) -> list[Migration]:
    ordered = sorted(migrations, key=lambda m: m.version)
    versions = [m.version for m in ordered]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return ordered


class MigrationRunner:
    def __init__(
        self,
        db: Db,
        migrations: Sequence[Migration | ModuleType] | None = None,
        *,
        lock_seconds: float = LOCK_SECONDS,
    ) -> None:
        self.db = db
        self.lock_seconds = lock_seconds
        if migrations is None:
            self.migrations = discover()
        else:
            self.migrations = _checked(
                [m if isinstance(m, Migration) else Migration.from_module(m) for m in migrations]
            )
        self._by_version = {m.version: m for m in self.migrations}
        self._records = db[MIGRATIONS_COLLECTION]
        self._lock = db[LOCK_COLLECTION]
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def latest_version(self) -> int:
        return self.migrations[-1].version if self.migrations else 0

    async def applied(self) -> dict[int, dict[str, Any]]:
        return {int(r["version"]): r async for r in self._records.find({}, {"_id": 0})}

    async def current_version(self) -> int:
        return max(await self.applied(), default=0)

    async def pending_versions(self) -> list[int]:
        """Versions this code has that the database has not applied."""
        applied = await self.applied()
        return [m.version for m in self.migrations if m.version not in applied]

    async def status(self) -> list[MigrationStatus]:
        applied = await self.applied()
        rows = [
            MigrationStatus(m.version, m.name, applied.get(m.version, {}).get("created_at"))
            for m in self.migrations
        ]
        rows += [
            MigrationStatus(version, str(r.get("name")), r.get("created_at"), known=False)
            for version, r in applied.items()
            if version not in self._by_version
        ]
        return sorted(rows, key=lambda row: row.version)

    async def migrate(self, to: int | None = None) -> list[Migration]:
        """Apply every migration not yet applied up to `to` (default: the latest)."""
        target = self.latest_version if to is None else to
        if to is not None and to != 0 and to not in self._by_version:
            raise MigrationError(f"no migration {to} (known: {sorted(self._by_version)})")
        async with self._locked() as lock:
            applied = await self.applied()
            current = max(applied, default=0)
            if target < current:
                raise MigrationError(
                    f"database is at {current}, above {target}: use `rms db rollback --to {target}`"
                )
            done = []
            for migration in self.migrations:
                if migration.version > target or migration.version in applied:
                    continue
                logger.info("migrating up %04d %s", migration.version, migration.name)
                lock.check()
                try:
                    await migration.up(self.db)
                except Exception as exc:
                    raise MigrationFailed(migration, "up", exc) from exc
                lock.check()
                await self._records.insert_one(
                    {"version": migration.version, "name": migration.name, "created_at": utcnow()}
                )
                done.append(migration)
            return done

    async def rollback(self, to: int | Literal["previous"] = "previous") -> list[Migration]:
        """Undo applied migrations above `to`; `previous` undoes only the latest one."""
        async with self._locked() as lock:
            applied = sorted(await self.applied(), reverse=True)
            if not applied:
                return []
            if to == "previous":
                target = applied[1] if len(applied) > 1 else 0
            else:
                target = int(to)
                if target != 0 and target not in self._by_version:
                    raise MigrationError(
                        f"no migration {target} (known: {sorted(self._by_version)})"
                    )
            undo = [version for version in applied if version > target]
            missing = [version for version in undo if version not in self._by_version]
            if missing:
                raise MigrationError(
                    f"cannot roll back {missing}: their code is not in this release "
                    "(roll back with the release that added them)"
                )
            done = []
            for version in undo:
                migration = self._by_version[version]
                logger.info("migrating down %04d %s", migration.version, migration.name)
                lock.check()
                try:
                    await migration.down(self.db)
                except Exception as exc:
                    raise MigrationFailed(migration, "down", exc) from exc
                lock.check()
                await self._records.delete_one({"version": version})
                done.append(migration)
            return done

    def _locked(self) -> _MigrationLock:
        return _MigrationLock(self)


class _MigrationLock:
    """A lease document: acquired by an upsert that only matches an expired lease, renewed
    every third of the lease while the migration runs, released at the end. A migrator that
    finds its lease taken (it lapsed while this process was stalled) stops at that renewal: a
    step it had under way may have run beside the new holder's for at most a third of the
    lease, which is why every step must be idempotent. The cancel can be swallowed by the
    database driver inside a step, so the migrator also checks the lease (`check`) before each
    step and before recording it."""

    def __init__(self, runner: MigrationRunner) -> None:
        self.runner = runner
        self._renewal: Periodic | None = None
        self._holder: asyncio.Task[Any] | None = None
        self._lost = False
        self._closing = False

    def check(self) -> None:
        """Raise `MigrationLocked` when a renewal found the lease taken."""
        if self._lost:
            raise MigrationLocked(
                "the migration lock lapsed and was taken by another migrator: stopped; "
                "check `rms db status` once it is done"
            )

    async def __aenter__(self) -> _MigrationLock:
        now = utcnow()
        try:
            await self.runner._lock.find_one_and_update(
                {"_id": "migrate", "expires_at": {"$lt": now}},
                {"$set": {"owner": self.runner._owner, "expires_at": self._expiry()}},
                upsert=True,
            )
        except DuplicateKeyError as exc:
            holder = await self.runner._lock.find_one({"_id": "migrate"})
            raise MigrationLocked(
                f"another migration is running ({holder.get('owner') if holder else '?'}); "
                f"its lock expires at {holder.get('expires_at') if holder else '?'}"
            ) from exc
        self._holder = asyncio.current_task()
        self._renewal = Periodic(
            self._renew, self.runner.lock_seconds / 3, name="migration-lock-renewal"
        )
        self._renewal.start()
        return self

    def _expiry(self) -> datetime:
        return utcnow() + timedelta(seconds=self.runner.lock_seconds)

    async def _renew(self) -> bool:
        """One renewal (a failed one is retried at the next: it only shortens the lease); on
        finding the lock taken, cancels the migration and ends the renewals."""
        renewed = await self.runner._lock.update_one(
            {"_id": "migrate", "owner": self.runner._owner},
            {"$set": {"expires_at": self._expiry()}},
        )
        if self._closing:  # a renewal that outlived the migration: the holder has moved on
            return False
        if renewed.matched_count == 0:
            self._lost = True
            if self._holder is not None:
                self._holder.cancel()
            return False
        return True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self._closing = True
        if self._renewal is not None:
            await self._renewal.stop()
        if self._lost:
            if self._holder is not None:
                self._holder.uncancel()  # our cancel, turned into the error below
            raise MigrationLocked(
                "the migration lock lapsed and was taken by another migrator: stopped; "
                "check `rms db status` once it is done"
            ) from exc
        await self.runner._lock.delete_one({"_id": "migrate", "owner": self.runner._owner})
