"""The `install_leases` collection's TTL index: a token exchange's lease expires on its own."""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models.install_lease import InstallLease


async def up(db: Db) -> None:
    await create_model_indexes(db, [InstallLease])


async def down(db: Db) -> None:
    await drop_model_indexes(db, [InstallLease])
