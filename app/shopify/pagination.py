"""Cursor pagination over Admin GraphQL connections.

The query must declare `$after: String` and pass it to the connection, e.g.
`query($first: Int!, $after: String) { orders(first: $first, after: $after) { ... } }`, and select
`pageInfo { hasNextPage endCursor }` plus `edges { node { ... } }` or `nodes { ... }`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

JSON = dict[str, Any]


class GraphQLExecutor(Protocol):
    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> JSON: ...


@dataclass(frozen=True)
class Page:
    """One page of a connection; `end_cursor` is what a sync job stores to resume after it."""

    nodes: list[JSON]
    end_cursor: str | None
    has_next_page: bool
    start_cursor: str | None = None


def _dig(data: JSON, path: str | Sequence[str]) -> JSON:
    parts = path.split(".") if isinstance(path, str) else list(path)
    value: Any = data
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"connection path {'.'.join(parts)!r} not found in response")
        value = value[part]
    if not isinstance(value, dict):
        raise KeyError(f"connection at {'.'.join(parts)!r} is null")
    return value


def _nodes(connection: JSON) -> list[JSON]:
    if isinstance(connection.get("edges"), list):
        return [edge["node"] for edge in connection["edges"]]
    return list(connection.get("nodes") or [])


async def paginate_pages(
    client: GraphQLExecutor,
    query: str,
    variables: dict[str, Any] | None,
    connection_path: str | Sequence[str],
    *,
    after: str | None = None,
) -> AsyncIterator[Page]:
    """Yield pages in order, starting after `after` (a stored cursor) when given."""
    cursor = after
    while True:
        page_variables = {**(variables or {}), "after": cursor}
        data = await client.execute(query, page_variables)
        connection = _dig(data, connection_path)
        info = connection.get("pageInfo") or {}
        page = Page(
            nodes=_nodes(connection),
            end_cursor=info.get("endCursor"),
            has_next_page=bool(info.get("hasNextPage")),
            start_cursor=info.get("startCursor"),
        )
        yield page
        if not page.has_next_page or not page.end_cursor:
            return
        cursor = page.end_cursor


async def paginate(
    client: GraphQLExecutor,
    query: str,
    variables: dict[str, Any] | None,
    connection_path: str | Sequence[str],
    *,
    after: str | None = None,
) -> AsyncIterator[JSON]:
    """Yield every node of the connection, following `pageInfo.endCursor`."""
    async for page in paginate_pages(client, query, variables, connection_path, after=after):
        for node in page.nodes:
            yield node
