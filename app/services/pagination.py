"""Keyset pagination, newest first, over `(created_at desc, _id desc)`.

A cursor is an opaque token of the position only (time and id); every query still starts with
`tenant_id`, so a cursor made from another tenant's data selects nothing of theirs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import orjson
from beanie import SortDirection
from bson import ObjectId
from bson.errors import InvalidId

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Position:
    created_at: datetime
    id: Any  # ObjectId or str


def encode_cursor(created_at: datetime, doc_id: Any) -> str:
    kind = "o" if isinstance(doc_id, ObjectId) else "s"
    millis = (created_at - EPOCH) // timedelta(milliseconds=1)  # exact, unlike float seconds
    raw = orjson.dumps({"t": millis, kind: str(doc_id)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        millis = data["t"]
        if not isinstance(millis, int) or isinstance(millis, bool):
            raise InvalidCursor("invalid cursor")
        created_at = EPOCH + timedelta(milliseconds=millis)
        if "o" in data:
            return Position(created_at, ObjectId(str(data["o"])))
        if "s" in data and isinstance(data["s"], str):
            return Position(created_at, data["s"])
    except (
        ValueError,
        TypeError,
        KeyError,
        InvalidId,
        binascii.Error,
        OverflowError,
        OSError,
    ) as exc:
        raise InvalidCursor("invalid cursor") from exc
    raise InvalidCursor("invalid cursor")


def after_filter(cursor: str | None) -> dict[str, Any]:
    """The filter that selects what comes after `cursor` in newest-first order."""
    if cursor is None:
        return {}
    position = decode_cursor(cursor)
    return {
        "$or": [
            {"created_at": {"$lt": position.created_at}},
            {"created_at": position.created_at, "_id": {"$lt": position.id}},
        ]
    }


NEWEST_FIRST: list[tuple[str, SortDirection]] = [
    ("created_at", SortDirection.DESCENDING),
    ("_id", SortDirection.DESCENDING),
]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def make_page(items: list[T], first: int, after: str | None, position_of: Any) -> Page[T]:
    """Cut a `first + 1` fetch down to `first` and compute cursors with `position_of(item)`."""
    has_next = len(items) > first
    items = items[:first]
    cursors = [encode_cursor(*position_of(item)) for item in items]
    return Page(items, cursors, has_next, after is not None)
