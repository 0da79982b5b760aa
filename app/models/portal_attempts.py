"""`portal_attempts`: the customer portal's recent lookups per (tenant, client), shared by every
API process so that a client spread over many of them still meets one limit.

One document per key, `_id` = "<tenant_id>|<client>". `attempts` holds the client's
taken places (at most `PORTAL_FAILURE_LIMIT`), each `{id, until, failed}`: a running attempt
holds its place for a few seconds, a failed one for the whole window, and one that succeeded
gives it back. MongoDB deletes a key's document once its last place is free (`expires_at`,
TTL). Services use the raw collection (`services/returns/portal_attempts.py`).
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

PORTAL_ATTEMPTS_COLLECTION = "portal_attempts"


def portal_attempts_id(tenant_id: str, client: str) -> str:
    return f"{tenant_id}|{client}"


class PortalAttempt(BaseModel):
    id: str
    until: datetime  # the place is free from this moment
    failed: bool = False


class PortalAttempts(Document):
    id: str  # type: ignore[assignment]  # "<tenant_id>|<client>"
    tenant_id: str
    client: str
    attempts: list[PortalAttempt] = Field(default_factory=list)
    expires_at: datetime

    class Settings:
        name = PORTAL_ATTEMPTS_COLLECTION
        use_revision = False
        indexes = [
            IndexModel([("expires_at", ASCENDING)], name="expires_ttl", expireAfterSeconds=0),
        ]
