"""`persisted_queries`: GraphQL documents registered through automatic persisted queries, by the
sha256 of their text, shared by every API process. Only documents that passed validation are
kept; each expires a while after it was registered (a client asked for an expired hash simply
registers it again, as the protocol expects). Not owned by a tenant: the same document serves
every shop."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow

PERSISTED_QUERIES_COLLECTION = "persisted_queries"
PERSISTED_QUERY_LIFETIME_SECONDS = 30 * 24 * 3600


class PersistedQuery(Document):
    id: str  # type: ignore[assignment]  # the lower-case hex sha256 of `query`
    query: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = PERSISTED_QUERIES_COLLECTION
        use_revision = False
        indexes = [
            IndexModel(
                [("created_at", ASCENDING)],
                name="created_ttl",
                expireAfterSeconds=PERSISTED_QUERY_LIFETIME_SECONDS,
            ),
        ]
