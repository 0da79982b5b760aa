"""Notifications: the indexes of `webhook_endpoints`, `webhook_deliveries` (one delivery per
tenant, event and endpoint; the senders' queue) and `notifications` (one email per tenant,
event and recipient; the email senders' queue), and `returns (events_due_at)` where events are
pending: the dispatcher's queue.

The unique indexes build on any data: the collections are new.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import EmailNotification, Return, WebhookDelivery, WebhookEndpoint

RETURN_INDEX = "events_due"


async def up(db: Db) -> None:
    await create_model_indexes(db, [WebhookEndpoint, WebhookDelivery, EmailNotification])
    await create_model_indexes(db, [Return], names={RETURN_INDEX})


async def down(db: Db) -> None:
    await drop_model_indexes(db, [Return], names={RETURN_INDEX})
    await drop_model_indexes(db, [WebhookEndpoint, WebhookDelivery, EmailNotification])
