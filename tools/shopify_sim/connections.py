"""Relay connections the way Shopify pages them: opaque keyset cursors, first/last up to 250."""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from graphql import GraphQLError

JSON = dict[str, Any]
SortKey = tuple[Any, int]
MAX_PAGE = 250


def encode_cursor(key: SortKey) -> str:
    payload = {"last_id": key[1], "last_value": key[0]}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded))
        return (payload["last_value"], int(payload["last_id"]))
    except (ValueError, KeyError, TypeError) as error:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from error


def check_page_args(args: JSON, *, bulk: bool) -> None:
    first, last = args.get("first"), args.get("last")
    if bulk:
        return
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (value < 0 or value > MAX_PAGE):
            raise GraphQLError(
                f"The {name} argument must be between 0 and {MAX_PAGE} (got {value}).",
                extensions={"code": "BAD_REQUEST"},
            )


def connection(
    items: Sequence[JSON],
    args: JSON,
    key: Callable[[JSON], SortKey],
    *,
    bulk: bool = False,
    node: Callable[[JSON], Any] = lambda item: item,
) -> JSON:
    """One page of `items` ordered by `key` (ascending unless `reverse`)."""
    check_page_args(args, bulk=bulk)
    ordered = sorted(items, key=key)
    keys = [key(item) for item in ordered]
    reverse = bool(args.get("reverse"))
    lo, hi = 0, len(ordered)
    after, before = args.get("after"), args.get("before")
    try:
        if after:
            cursor = decode_cursor(after)
            if reverse:
                hi = min(hi, bisect.bisect_left(keys, cursor))
            else:
                lo = max(lo, bisect.bisect_right(keys, cursor))
        if before:
            cursor = decode_cursor(before)
            if reverse:
                lo = max(lo, bisect.bisect_right(keys, cursor))
            else:
                hi = min(hi, bisect.bisect_left(keys, cursor))
    except TypeError as error:  # a cursor from another sort key
        raise GraphQLError("Invalid cursor for current pagination sort.") from error
    window = ordered[lo:hi] if hi > lo else []
    if reverse:
        window = window[::-1]
    first, last = args.get("first"), args.get("last")
    page = window
    has_next = bool(before) and (lo > 0 if reverse else hi < len(ordered))
    has_previous = bool(after) and (hi < len(ordered) if reverse else lo > 0)
    if not bulk and first is not None:
        has_next = has_next or len(page) > first
        page = page[:first]
    if not bulk and last is not None:
        has_previous = has_previous or len(page) > last
        page = page[len(page) - last :] if last else []
    edges = [{"cursor": encode_cursor(key(item)), "node": node(item)} for item in page]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def positional(items: Sequence[JSON], args: JSON, *, bulk: bool = False) -> JSON:
    """A connection over a small list kept in its natural order (line items, return lines)."""
    index = {id(item): position for position, item in enumerate(items)}
    return connection(items, args, lambda item: (index[id(item)], index[id(item)]), bulk=bulk)
