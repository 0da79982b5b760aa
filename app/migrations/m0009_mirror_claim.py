"""`returns (shopify_sync.attempts, shopify_sync.lease_owner)` where the sync is pending: the
Shopify mirror's claim of a sync a decision re-queued (attempts reset, no lease owner) reads
those returns only, not every pending sync (`services/returns/shopify_mirror.claimable`).

Not unique: it builds on any data.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Return

INDEX = "shopify_sync_requeued"


async def up(db: Db) -> None:
    await create_model_indexes(db, [Return], names={INDEX})


async def down(db: Db) -> None:
    await drop_model_indexes(db, [Return], names={INDEX})
