"""Relay connections: `nodes`, `edges { cursor node }`, `pageInfo`; `first`/`after` or
`last`/`before`, the page size capped either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from app.graphql.core.errors import BadUserInput
from app.services.pagination import InvalidCursor, Page, PageRequest, decode_cursor

NodeType = TypeVar("NodeType")
Record = TypeVar("Record")

DEFAULT_PAGE_SIZE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    nodes: list[NodeType]
    page_info: PageInfo

    @classmethod
    def from_page(
        cls, page: Page[Record], to_node: Callable[[Record], NodeType]
    ) -> Connection[NodeType]:
        nodes = [to_node(item) for item in page.items]
        edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
        return cls(
            edges=edges,
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


def checked_page_args(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    max_page_size: int,
) -> PageRequest:
    """The page asked for, validated up front so a bad request fails clearly before any I/O:
    `first` (default 20) items after `after`, or `last` items before `before`; at most
    `max_page_size` either way. One direction per request."""
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        raise BadUserInput(
            "Page forward (`first`, `after`) or backward (`last`, `before`), not both",
            argument="last" if last is not None else "before",
        )
    size_argument, cursor_argument = ("last", "before") if backward else ("first", "after")
    asked = last if backward else first
    size = DEFAULT_PAGE_SIZE if asked is None else asked
    if size < 1 or size > max_page_size:
        raise BadUserInput(
            f"`{size_argument}` must be between 1 and {max_page_size}", argument=size_argument
        )
    cursor = before if backward else after
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except InvalidCursor as exc:
            raise BadUserInput(
                f"`{cursor_argument}` is not a valid cursor", argument=cursor_argument
            ) from exc
    return PageRequest(size=size, cursor=cursor, backward=backward)
