"""`journal_barrier`: one token per multi-document transaction (app/models/transactions.py).

Written inside the transaction and confirmed by a journaled update after its commit, then
deleted. A token whose delete was lost expires after an hour (TTL on `at`); the collection
exists from migration 2 on, as a sharded cluster will not create one inside a transaction.
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow

BARRIER_COLLECTION = "journal_barrier"
TOKEN_LIFETIME_SECONDS = 3600


class JournalBarrier(Document):
    tenant_id: str
    at: datetime = Field(default_factory=utcnow)
    durable: bool = False

    class Settings:
        name = BARRIER_COLLECTION
        use_revision = False
        indexes = [
            IndexModel(
                [("at", ASCENDING)], name="at_ttl", expireAfterSeconds=TOKEN_LIFETIME_SECONDS
            )
        ]
