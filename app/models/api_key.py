"""`api_keys`: tenant API keys for merchant operations; only a hash is stored."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow


class ApiKey(Document):
    tenant_id: str
    key_id: str  # public prefix, e.g. "rk_3f9a1c2b": finds the record, proves nothing
    key_hash: str  # sha256 of the whole key
    name: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    class Settings:
        name = "api_keys"
        use_revision = False
        indexes = [
            IndexModel([("key_id", ASCENDING)], name="key_id_unique", unique=True),
            IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="tenant"),
        ]
