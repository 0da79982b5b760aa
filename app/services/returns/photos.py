"""Customers' photos of damaged or defective items: upload, attach to a return, show to staff.

An upload is decoded (Pillow) to prove it is a JPEG, PNG or WebP image of sane dimensions, then
re-encoded: what is stored is pixels only, never the file as sent (no EXIF, so no location; no
trailing payload). It answers a claim token (`<id>.<secret>`, only the secret's hash stored):
the request that creates the return names its photos by token, and the return takes them in
the same transaction that inserts it. Unused photos expire (`return_photos.unused_ttl`).

Staff see a photo at a signed address that expires (`photo_url`): an <img> cannot send the
merchant's bearer token, and the address must not outlive the page that showed it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from PIL import Image, ImageOps
from pymongo.asynchronous.client_session import AsyncClientSession

from app.clock import utcnow
from app.models import ReturnPhoto

MAX_UPLOAD_BYTES = 1_000_000  # under the API's body limit; the page scales photos down first
MAX_SIDE = 2048  # stored photos are scaled to fit; the page scales them before it sends
# A larger image is refused before it is decoded: decoding costs 4 bytes a pixel (and more while
# scaling), so this bounds one decode to ~40 MB. Twice the page's largest, for other clients.
MAX_SOURCE_PIXELS = 2 * MAX_SIDE * MAX_SIDE
DECODES_AT_ONCE = 2  # per process: the CPU and memory of decoding stay bounded under a flood
UNUSED_LIFETIME = timedelta(hours=24)
UPLOADS_PER_HOUR = 30  # per tenant and client
MAX_PHOTOS_PER_ITEM = 3
URL_LIFETIME = timedelta(hours=1)
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Pillow refuses to open an image of over twice this many pixels (a decompression bomb); up to
# that, the size check below refuses before anything is decoded.
Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS
# One per event loop: an asyncio semaphore belongs to the loop it first waited in.
_decoding: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _decode_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _decoding.get(loop)
    if slots is None:
        slots = _decoding[loop] = asyncio.Semaphore(DECODES_AT_ONCE)
    return slots


class PhotoRefusal(StrEnum):
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    TOO_MANY = "too_many"


class PhotoRefused(Exception):
    def __init__(self, reason: PhotoRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    token: str  # what the customer's request names it by
    content_type: str
    size: int
    width: int
    height: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _reencoded(raw: bytes) -> tuple[bytes, str, int, int]:
    """The image's pixels as a fresh file (JPEG, or PNG when it has transparency)."""
    try:
        with Image.open(io.BytesIO(raw), formats=list(_FORMATS)) as probe:
            if probe.format not in _FORMATS:
                raise PhotoRefused(PhotoRefusal.NOT_AN_IMAGE, "Only JPEG, PNG or WebP photos.")
            if probe.width * probe.height > MAX_SOURCE_PIXELS:
                raise PhotoRefused(PhotoRefusal.TOO_LARGE, "This photo has too many pixels.")
            probe.verify()
        with Image.open(io.BytesIO(raw), formats=list(_FORMATS)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)  # as the camera held it; EXIF then dropped
            upright.thumbnail((MAX_SIDE, MAX_SIDE))
            alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            out = io.BytesIO()
            if alpha:
                # No ICC profile, no text chunks: pixels only.
                upright.convert("RGBA").save(out, format="PNG", optimize=True, icc_profile=None)
                media_type = "image/png"
            else:
                upright.convert("RGB").save(
                    out, format="JPEG", quality=85, optimize=True, icc_profile=None
                )
                media_type = "image/jpeg"
            return out.getvalue(), media_type, upright.width, upright.height
    except PhotoRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoRefused(PhotoRefusal.TOO_LARGE, "This photo has too many pixels.") from exc
    except Exception as exc:
        # A damaged file makes Pillow raise what its decoder meets: OSError, SyntaxError (a bad
        # PNG chunk), EOFError, struct.error, ValueError... Any of them means the same here.
        raise PhotoRefused(
            PhotoRefusal.NOT_AN_IMAGE, "This file is not a photo we can read."
        ) from exc


async def store_photo(
    tenant_id: str, client: str, raw: bytes, now: datetime | None = None
) -> StoredPhoto:
    """Keep an uploaded photo until a return takes it; `PhotoRefused` says why not."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(PhotoRefusal.TOO_LARGE, "Photos can be at most 1 MB.")
    moment = now or utcnow()
    recent = await ReturnPhoto.get_pymongo_collection().count_documents(
        {
            "tenant_id": tenant_id,
            "client": client,
            "created_at": {"$gte": moment - timedelta(hours=1)},
        },
        limit=UPLOADS_PER_HOUR,
    )
    if recent >= UPLOADS_PER_HOUR:
        raise PhotoRefused(PhotoRefusal.TOO_MANY, "Too many photos for now; try again later.")
    # Decoding is CPU work: off the event loop, so other requests go on meanwhile, and a few at
    # a time (a thread cannot be cancelled when the request's deadline passes).
    async with _decode_slots():
        data, media_type, width, height = await asyncio.to_thread(_reencoded, raw)
    secret = secrets.token_urlsafe(18)
    photo = ReturnPhoto(
        tenant_id=tenant_id,
        content_type=media_type,
        data=data,
        size=len(data),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        client=client,
        claim_hash=_hash(secret),
        expires_at=moment + UNUSED_LIFETIME,
        created_at=moment,
    )
    await photo.insert()
    return StoredPhoto(f"{photo.id}.{secret}", media_type, len(data), width, height)


def _parse_token(token: str) -> tuple[ObjectId, str] | None:
    photo_id, _, secret = token.strip().partition(".")
    if not secret or len(token) > 80:
        return None
    try:
        return ObjectId(photo_id), secret
    except (InvalidId, TypeError):
        return None


async def unclaimed_photos(tenant_id: str, tokens: Sequence[str]) -> dict[str, str] | None:
    """Photo ids by token when every token names an unused photo of this tenant; else None."""
    parsed = {token: _parse_token(token) for token in set(tokens)}
    if any(value is None for value in parsed.values()):
        return None
    found = {
        str(doc["_id"]): doc.get("claim_hash")
        async for doc in ReturnPhoto.get_pymongo_collection().find(
            {
                "_id": {"$in": [value[0] for value in parsed.values() if value]},
                "tenant_id": tenant_id,
                "return_id": None,
            },
            {"claim_hash": 1},
        )
    }
    ids: dict[str, str] = {}
    for token, value in parsed.items():
        assert value is not None
        photo_id, secret = value
        known = found.get(str(photo_id))
        if known is None or not hmac.compare_digest(known, _hash(secret)):
            return None
        ids[token] = str(photo_id)
    return ids


async def claim_photos(
    tenant_id: str,
    return_id: PydanticObjectId,
    photo_ids: Sequence[str],
    session: AsyncClientSession,
) -> bool:
    """The return takes its photos (in the transaction that inserts it); False when one was
    taken by another request meanwhile (the transaction is then aborted)."""
    if not photo_ids:
        return True
    result = await ReturnPhoto.get_pymongo_collection().update_many(
        {
            "_id": {"$in": [ObjectId(i) for i in photo_ids]},
            "tenant_id": tenant_id,
            "return_id": None,
        },
        # Kept: the photo. Not kept: when it would have expired, its claim, who uploaded it.
        {
            "$set": {"return_id": return_id},
            "$unset": {"expires_at": "", "claim_hash": "", "client": ""},
        },
        session=session,
    )
    return result.modified_count == len(set(photo_ids))


# Staff's view ------------------------------------------------------------------------------------


def _url_signature(secret: str, tenant_id: str, photo_id: str, expires: int) -> str:
    key = hashlib.sha256(b"returns photo url v1\n" + secret.encode()).digest()
    digest = hmac.new(key, f"{tenant_id}\n{photo_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def photo_url(app_url: str, secret: str, tenant_id: str, photo_id: str, now: datetime) -> str:
    """Where staff see the photo for the next hour."""
    expires = int((now + URL_LIFETIME).timestamp())
    signature = _url_signature(secret, tenant_id, photo_id, expires)
    return (
        f"{app_url.rstrip('/')}/api/return-photos/{tenant_id}/{photo_id}"
        f"?expires={expires}&signature={signature}"
    )


async def photo_at_signed_url(
    secret: str, tenant_id: str, photo_id: str, expires: str, signature: str, now: datetime
) -> ReturnPhoto | None:
    """The photo a signed, unexpired address names (of a return: unused uploads are not shown)."""
    try:
        when = int(expires)
        object_id = ObjectId(photo_id)
    except (ValueError, InvalidId, TypeError):
        return None
    expected = _url_signature(secret, tenant_id, photo_id, when)
    if not hmac.compare_digest(expected.encode(), signature.encode()) or when < now.timestamp():
        return None
    return await ReturnPhoto.find_one(
        {"_id": object_id, "tenant_id": tenant_id, "return_id": {"$ne": None}}
    )


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    id: str
    content_type: str
    size: int
    width: int
    height: int


async def photos_of(tenant_id: str, photo_ids: Sequence[str]) -> list[PhotoInfo]:
    """What staff are shown of a return's photos (their bytes are not read here)."""
    ids = [ObjectId(i) for i in photo_ids if ObjectId.is_valid(i)]
    found = {
        str(doc["_id"]): doc
        async for doc in ReturnPhoto.get_pymongo_collection().find(
            {"_id": {"$in": ids}, "tenant_id": tenant_id},
            {"content_type": 1, "size": 1, "width": 1, "height": 1},
        )
    }
    return [
        PhotoInfo(i, doc["content_type"], doc["size"], doc["width"], doc["height"])
        for i in photo_ids
        if (doc := found.get(i)) is not None
    ]
