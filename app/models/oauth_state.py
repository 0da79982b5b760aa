"""`oauth_states`: single-use OAuth nonces bound to a shop; MongoDB expires them (TTL)."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow


class OAuthState(Document):
    state: str
    shop: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "oauth_states"
        use_revision = False
        indexes = [
            IndexModel([("state", ASCENDING)], name="state_unique", unique=True),
            IndexModel([("expires_at", ASCENDING)], name="expires_ttl", expireAfterSeconds=0),
        ]
