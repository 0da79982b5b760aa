"""The storefront portal: `orders (tenant_id, customer.id, created_at desc)`, which lists a
signed-in customer's recent orders (`customerOrders`) without scanning the tenant's orders, and
the indexes of `return_photos` (by return; a client's recent uploads; unused photos' TTL).

The collection is new and the order index is not unique: both build on any data.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Order, ReturnPhoto

ORDER_INDEX = "tenant_customer_orders"


async def up(db: Db) -> None:
    await create_model_indexes(db, [Order], names={ORDER_INDEX})
    await create_model_indexes(db, [ReturnPhoto])


async def down(db: Db) -> None:
    await drop_model_indexes(db, [ReturnPhoto])
    await drop_model_indexes(db, [Order], names={ORDER_INDEX})
