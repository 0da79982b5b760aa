"""Keyset pagination, newest first, over `(created_at desc, _id desc)` (or another time field).

Pages go both ways (Relay): `first` items after a cursor, or `last` items before one, which are
read oldest first and returned newest first like every page. A cursor is an opaque token of the
position only (time and id); every query still starts with `tenant_id`, so a cursor made from
another tenant's data selects nothing of theirs.
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


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`size` items after `cursor` (forward: `first`/`after`), or before it (`backward`:
    `last`/`before`); ordered by `field` then `_id`, newest first. Fetch with `filter`, `sort`
    and `limit`, then cut with `page`."""

    size: int
    cursor: str | None = None
    backward: bool = False
    field: str = "created_at"

    def filter(self) -> dict[str, Any]:
        """What lies beyond the cursor in the direction of travel ({} without one)."""
        if self.cursor is None:
            return {}
        position = decode_cursor(self.cursor)
        beyond = "$gt" if self.backward else "$lt"
        return {
            "$or": [
                {self.field: {beyond: position.created_at}},
                {self.field: position.created_at, "_id": {beyond: position.id}},
            ]
        }

    @property
    def sort(self) -> list[tuple[str, SortDirection]]:
        """Away from the cursor: oldest first when going backward."""
        direction = SortDirection.ASCENDING if self.backward else SortDirection.DESCENDING
        return [(self.field, direction), ("_id", direction)]

    @property
    def limit(self) -> int:
        return self.size + 1  # one more tells whether there is a further page

    def page(self, items: list[T], position_of: Any) -> Page[T]:
        """Cut a `limit` fetch down to `size`, newest first, with cursors from
        `position_of(item)` -> (time, id)."""
        more = len(items) > self.size
        kept = items[: self.size]
        if self.backward:
            kept.reverse()
        cursors = [encode_cursor(*position_of(item)) for item in kept]
        came_from_a_cursor = self.cursor is not None
        if self.backward:
            return Page(kept, cursors, came_from_a_cursor, more)
        return Page(kept, cursors, more, came_from_a_cursor)
