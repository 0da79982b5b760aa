"""The bulk-operation path: one `bulkOperationRunQuery`, then a JSONL file streamed in batches.

Shopify writes each order on its own line followed by its line items, which carry the order's
GID in `__parentId`. We stream the file with the shared httpx client, attach children to their
parent and hand complete orders to the caller in batches, so memory stays at one batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.shopify.client import ShopifyAdminClient
from app.shopify.documents import orders as operations
from app.shopify.errors import ShopifyError, ShopifyUnavailableError

logger = logging.getLogger(__name__)
JSON = dict[str, Any]

RUNNING_STATUSES = frozenset({"CREATED", "RUNNING"})


class BulkOperationFailed(ShopifyError):
    """The bulk operation ended FAILED/CANCELED/EXPIRED, or could not be started."""


@dataclass(slots=True)
class BulkOrder:
    """An order line of the JSONL file with the line-item lines that belong to it."""

    node: JSON
    line_items: list[JSON] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BulkResult:
    operation_id: str
    url: str | None
    root_object_count: int


async def start_bulk_export(client: ShopifyAdminClient, search: str) -> str:
    """Start the export; waits out another running bulk query of this app first."""
    for _ in range(3):
        data = await client.execute(
            operations.BULK_RUN_QUERY, {"query": operations.bulk_orders_query(search)}
        )
        payload = data.get("bulkOperationRunQuery") or {}
        errors = payload.get("userErrors") or []
        operation = payload.get("bulkOperation")
        if not errors and isinstance(operation, dict) and operation.get("id"):
            return str(operation["id"])
        if any(error.get("code") == "OPERATION_IN_PROGRESS" for error in errors):
            current = await current_bulk_operation(client)
            if current is not None and current.get("status") in RUNNING_STATUSES:
                await wait_for_bulk_operation(
                    client, str(current["id"]), poll_interval=0.5, timeout=600
                )
            continue
        messages = (
            "; ".join(str(error.get("message")) for error in errors) or "no operation returned"
        )
        raise BulkOperationFailed(
            f"bulkOperationRunQuery failed: {messages}", shop=client.shop_domain
        )
    raise BulkOperationFailed("another bulk operation keeps running", shop=client.shop_domain)


async def current_bulk_operation(client: ShopifyAdminClient) -> JSON | None:
    data = await client.execute(operations.CURRENT_BULK_OPERATION)
    current = data.get("currentBulkOperation")
    return current if isinstance(current, dict) else None


async def wait_for_bulk_operation(
    client: ShopifyAdminClient,
    operation_id: str,
    *,
    poll_interval: float,
    timeout: float,
    check: Callable[[], Awaitable[None]] | None = None,
) -> BulkResult:
    """Poll `currentBulkOperation` until ours completes; `check` runs between polls (cancel)."""
    deadline = time.monotonic() + timeout
    delay = min(0.05, poll_interval)
    while True:
        current = await current_bulk_operation(client)
        if current is None or current.get("id") != operation_id:
            raise BulkOperationFailed(
                f"bulk operation {operation_id} is no longer the current one",
                shop=client.shop_domain,
            )
        status = str(current.get("status"))
        if status == "COMPLETED":
            return BulkResult(
                operation_id, current.get("url"), int(current.get("rootObjectCount") or 0)
            )
        if status not in RUNNING_STATUSES:
            raise BulkOperationFailed(
                f"bulk operation {operation_id} ended {status} ({current.get('errorCode')})",
                shop=client.shop_domain,
            )
        if time.monotonic() > deadline:
            raise BulkOperationFailed(
                f"bulk operation {operation_id} still {status} after {timeout:.0f}s"
            )
        if check is not None:
            await check()
        await asyncio.sleep(delay)
        delay = min(delay * 2, poll_interval)


async def cancel_bulk_operation(client: ShopifyAdminClient, operation_id: str) -> None:
    try:
        await client.execute(operations.BULK_CANCEL, {"id": operation_id})
    except ShopifyError as exc:  # best effort: the operation expires on its own
        logger.info("could not cancel bulk operation %s: %s", operation_id, exc)


async def read_bulk_orders(
    http: httpx.AsyncClient, url: str, *, batch_size: int, skip: int = 0
) -> AsyncIterator[list[BulkOrder]]:
    """Stream the JSONL file; yield batches of complete orders, skipping the first `skip`."""
    batch: list[BulkOrder] = []
    current: BulkOrder | None = None
    seen = 0
    try:
        async with http.stream("GET", url, timeout=httpx.Timeout(60.0, connect=10.0)) as response:
            if response.status_code != 200:
                raise ShopifyUnavailableError(
                    f"bulk result download failed: HTTP {response.status_code}",
                    status_code=response.status_code,
                )
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                record = orjson.loads(line)
                parent = record.pop("__parentId", None)
                if parent is None:
                    if current is not None:
                        seen += 1
                        if seen > skip:
                            batch.append(current)
                        if len(batch) >= batch_size:
                            yield batch
                            batch = []
                    current = BulkOrder(record)
                elif current is not None and current.node.get("id") == parent:
                    current.line_items.append(record)
                else:
                    logger.warning("bulk line with unknown parent %s skipped", parent)
    except httpx.TransportError as exc:
        raise ShopifyUnavailableError(f"bulk result download failed: {exc}") from exc
    if current is not None:
        seen += 1
        if seen > skip:
            batch.append(current)
    if batch:
        yield batch
