"""Merchants' webhooks: the indexes of `webhook_endpoints` and `webhook_deliveries` (one
delivery per tenant, event and endpoint; the delivery workers' queue), and `returns
(events_due_at)` where events are pending: the notification dispatcher's queue.

The unique index builds on any data: the collection is new.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Return, WebhookDelivery, WebhookEndpoint

RETURN_INDEX = "events_due"


async def up(db: Db) -> None:
    await create_model_indexes(db, [WebhookEndpoint, WebhookDelivery])
    await create_model_indexes(db, [Return], names={RETURN_INDEX})


async def down(db: Db) -> None:
    await drop_model_indexes(db, [Return], names={RETURN_INDEX})
    await drop_model_indexes(db, [WebhookEndpoint, WebhookDelivery])
