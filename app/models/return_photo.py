"""`return_photos`: customers' photos of damaged or defective items, kept with their return.

A photo is uploaded before the return exists (the customer picks it on the page, then submits):
it waits with an `expires_at` (a TTL index removes those never used) and becomes the return's
when the request that names it is accepted (`return_id` set and `expires_at` removed before the
return is inserted, so an accepted return never names a photo that can still expire). Images
are stored re-encoded, without their metadata; a few hundred KB each, at most a few per return.
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow

RETURN_PHOTOS_COLLECTION = "return_photos"


class ReturnPhoto(Document):
    tenant_id: str
    return_id: PydanticObjectId | None = None  # None until a return takes it
    content_type: str  # image/jpeg, image/png or image/webp
    data: bytes
    size: int
    width: int
    height: int
    sha256: str  # of `data`
    client: str | None = None  # who uploaded it (the upload limit's key); removed once claimed
    claim_hash: str | None = None  # sha256 of the token's secret; removed once a return has it
    expires_at: datetime | None = None  # set while unused: the TTL index removes it then
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = RETURN_PHOTOS_COLLECTION
        use_revision = False
        indexes = [
            IndexModel([("tenant_id", ASCENDING), ("return_id", ASCENDING)], name="tenant_return"),
            IndexModel(
                [("tenant_id", ASCENDING), ("client", ASCENDING), ("created_at", DESCENDING)],
                name="tenant_client_recent",
            ),
            IndexModel([("expires_at", ASCENDING)], name="unused_ttl", expireAfterSeconds=0),
        ]
