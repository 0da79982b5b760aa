"""`return_ledgers`: per order, the units held by active returns (the concurrency guard).

One document per (tenant, order number), `_id` = "<tenant_id>:<order_number>". `reserved` maps a
line item id to the units in returns that are not declined or canceled. createReturn increments it
with a conditional update guarded per line (`reserved.<id>` must not exceed the fulfilled quantity
minus what is requested), so two concurrent requests can never together return more than was
fulfilled; decline and cancel decrement it. Services use the raw collection (`ledger_collection`).
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field

from app.clock import utcnow

LEDGER_COLLECTION = "return_ledgers"


def ledger_id(tenant_id: str, order_number: str) -> str:
    return f"{tenant_id}:{order_number}"


class ReturnLedger(Document):
    id: str  # type: ignore[assignment]  # "<tenant_id>:<order_number>"
    tenant_id: str
    order_id: str  # the order's Shopify id
    order_number: str
    reserved: dict[str, int] = Field(default_factory=dict)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = LEDGER_COLLECTION
        use_revision = False
