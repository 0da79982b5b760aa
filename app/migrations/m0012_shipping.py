"""Return labels and tracking.

- The label worker's two queues on `returns` (purchases due, voids due) and the tracker lookup
  of carrier events: partial or sparse, so only returns with a label are indexed and they build
  at once on existing data (no return has a `shipment` before this).
- Shops that chose their customer emails before the label email existed get it where they email
  approvals (the label email completes that one); shops that never chose have every email by
  default already.
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import Return
from app.models.return_request import ReturnEventType

SHIPMENT_INDEXES = {"shipment_label_due", "shipment_void_due", "shipment_tracker"}
CUSTOMER_EVENTS = "notifications.customer_events"


async def up(db: Db) -> None:
    await create_model_indexes(db, [Return], names=SHIPMENT_INDEXES)
    await db["tenants"].update_many(
        {CUSTOMER_EVENTS: ReturnEventType.APPROVED.value},
        {"$addToSet": {CUSTOMER_EVENTS: ReturnEventType.LABEL_CREATED.value}},
    )


async def down(db: Db) -> None:
    # The code before this knows no label email: a stored one would not validate there.
    await db["tenants"].update_many(
        {CUSTOMER_EVENTS: ReturnEventType.LABEL_CREATED.value},
        {"$pull": {CUSTOMER_EVENTS: ReturnEventType.LABEL_CREATED.value}},
    )
    await drop_model_indexes(db, [Return], names=SHIPMENT_INDEXES)
