"""Migration 12: shops that chose their customer emails before the label email existed get it
where they email approvals; the others keep their choice; rolled back, no stored switch names
an event the older code does not know."""

from __future__ import annotations

from app.db import Database
from app.migrations import m0012_shipping


async def test_the_label_email_joins_the_approval_email_and_leaves_on_rollback(
    db: Database,
) -> None:
    tenants = db.db["tenants"]
    await tenants.insert_many(
        [
            {
                "_id": "t-approvals",
                "id": "t-approvals",
                "shop_domain": "t-approvals.myshopify.com",
                "notifications": {"customer_events": ["return.approved"]},
            },
            {
                "_id": "t-none",
                "id": "t-none",
                "shop_domain": "t-none.myshopify.com",
                "notifications": {"customer_events": ["return.resolved"]},
            },
            {"_id": "t-default", "id": "t-default"},
        ]
    )

    await m0012_shipping.up(db.db)
    await m0012_shipping.up(db.db)  # a migration may run again after a crash: no repeat

    found = {doc["_id"]: doc async for doc in tenants.find({})}
    assert found["t-approvals"]["notifications"]["customer_events"] == [
        "return.approved",
        "return.label_created",
    ]
    assert found["t-none"]["notifications"]["customer_events"] == ["return.resolved"]
    assert "notifications" not in found["t-default"]  # the default already has every email
    assert "shipment_tracker" in await db.db["returns"].index_information()

    await m0012_shipping.down(db.db)

    after = await tenants.find_one({"_id": "t-approvals"})
    assert after is not None
    assert after["notifications"]["customer_events"] == ["return.approved"]
    assert "shipment_tracker" not in await db.db["returns"].index_information()
