"""`install_leases`: one per shop being installed by token exchange, so that one request
exchanges while the others wait. `holder` says whose it is (only the holder releases it); MongoDB
deletes one whose holder died once it expires (TTL), and a taker also takes back an expired one.
Keyed by shop domain: the tenant does not exist yet."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pymongo import ASCENDING, IndexModel

INSTALL_LEASES_COLLECTION = "install_leases"


class InstallLease(Document):
    id: str  # type: ignore[assignment]  # the shop domain
    holder: str
    expires_at: datetime

    class Settings:
        name = INSTALL_LEASES_COLLECTION
        use_revision = False
        indexes = [
            IndexModel([("expires_at", ASCENDING)], name="expires_ttl", expireAfterSeconds=0),
        ]
