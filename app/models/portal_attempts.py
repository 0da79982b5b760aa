"""`portal_attempts`: the customer portal's recent lookups per (tenant, client), shared by every
API process so that a client spread over many of them still meets one limit.

One document per key, `_id` = "<tenant_id>|<client>". `attempts` holds the last
`PORTAL_FAILURE_LIMIT` attempts that did not (yet) succeed, each `{id, at}`; an attempt is added
before the lookup runs and removed when it succeeds, so what stays are the failures (and the
attempts of a process that died mid-lookup, which count as failures). MongoDB deletes a key's
document once its window has passed (`expires_at`, TTL). Services use the raw collection.
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
    at: datetime


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
