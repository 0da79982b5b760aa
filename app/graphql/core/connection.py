"""Relay connections: `nodes`, `edges { cursor node }`, `pageInfo`; `first` capped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from app.graphql.core.errors import BadUserInput
from app.services.pagination import InvalidCursor, Page, decode_cursor

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


def checked_page_args(first: int | None, after: str | None, max_page_size: int) -> int:
    """Validate `first` and `after` up front so a bad request fails clearly, before any I/O."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 1 or size > max_page_size:
        raise BadUserInput(f"`first` must be between 1 and {max_page_size}", argument="first")
    if after is not None:
        try:
            decode_cursor(after)
        except InvalidCursor as exc:
            raise BadUserInput("`after` is not a valid cursor", argument="after") from exc
    return size
