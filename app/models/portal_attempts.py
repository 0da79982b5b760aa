"""`portal_attempts`: the customer portal's recent failed lookups per (tenant, client), shared by
every API process so that a client spread over many of them still meets one limit.

One document per key, `_id` = "<tenant_id>|<client>": `failures` holds the times of the latest
`PORTAL_FAILURE_LIMIT` failures; MongoDB deletes the document a window after the last one
(`expires_at`, TTL). Services use the raw collection (`services/returns/portal_attempts.py`).
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

PORTAL_ATTEMPTS_COLLECTION = "portal_attempts"


def portal_attempts_id(tenant_id: str, client: str) -> str:
    return f"{tenant_id}|{client}"


class PortalAttempts(Document):
    id: str  # type: ignore[assignment]  # "<tenant_id>|<client>"
    tenant_id: str
    client: str
    failures: list[datetime] = Field(default_factory=list)
    expires_at: datetime

    class Settings:
        name = PORTAL_ATTEMPTS_COLLECTION
        use_revision = False
        indexes = [
            IndexModel([("expires_at", ASCENDING)], name="expires_ttl", expireAfterSeconds=0),
        ]
