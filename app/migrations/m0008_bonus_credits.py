"""`returns (tenant_id, store_credit_bonus.shopify_transaction_id)` unique where an id is set:
a store-credit bonus credit found on a customer's account after lost answers is adopted by one
return only (`services/returns/shopify_mirror._credit_bonus`).

No return records a bonus credit before this version, so the index builds on existing data.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Return

INDEX = "tenant_bonus_credit"


async def up(db: Db) -> None:
    await create_model_indexes(db, [Return], names={INDEX})


async def down(db: Db) -> None:
    await drop_model_indexes(db, [Return], names={INDEX})
