"""The `journal_barrier` collection and its TTL index (transaction tokens expire after an hour).

Created ahead of use: MongoDB will not create a collection inside a transaction that spans
shards, and every multi-document transaction writes a token there.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models.journal_barrier import JournalBarrier


async def up(db: Db) -> None:
    await create_model_indexes(db, [JournalBarrier])


async def down(db: Db) -> None:
    await drop_model_indexes(db, [JournalBarrier])
