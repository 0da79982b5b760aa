"""The `persisted_queries` collection's TTL index: registered documents expire after 30 days."""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models.persisted_query import PersistedQuery


async def up(db: Db) -> None:
    await create_model_indexes(db, [PersistedQuery])


async def down(db: Db) -> None:
    await drop_model_indexes(db, [PersistedQuery])
