"""The `portal_attempts` collection's TTL index: a client's failed portal lookups expire with
their window."""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models.portal_attempts import PortalAttempts


async def up(db: Db) -> None:
    await create_model_indexes(db, [PortalAttempts])


async def down(db: Db) -> None:
    await drop_model_indexes(db, [PortalAttempts])
