"""`returns (tenant_id, shopify_return_id)` unique where an id is set: a return adopted from
Shopify admin (`services/returns/from_shopify.py`) by two deliveries at once is inserted once.

Duplicates cannot exist before this version: the mirror records a Shopify id on one return only
(`_ReturnJournal.step_done` refuses a second), so the index builds on existing data.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Return

INDEX = "tenant_shopify_return"


async def up(db: Db) -> None:
    await create_model_indexes(db, [Return], names={INDEX})


async def down(db: Db) -> None:
    await drop_model_indexes(db, [Return], names={INDEX})
