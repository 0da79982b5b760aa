"""A resync also brings the returns of the synced orders in line with Shopify.

A `returns/*` webhook can be lost for good (Shopify gives up after its retries, or the app was
down longer). After a sync pulls its orders, the orders of the same search that have returns on
Shopify (the `return_status` filter leaves the others out, so a shop without returns costs one
query) are listed with their returns' statuses; each return that ours does not already reflect
(unknown here while still requested or open, or in another status than ours allows) is read
from Shopify and applied exactly as its webhook would have been (`from_shopify`): adopted,
followed forward, or resolved when processed there. Returns ours is ahead of (the mirror has not
reached Shopify yet) are echoes there and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.models import Return
from app.models.return_request import ReturnStatus
from app.services.returns.from_shopify import (
    ADOPTED_STATUSES,
    OrderNotHeldYet,
    ShopifyReturn,
    apply_shopify_return,
)
from app.services.returns.shopify_mirror import ShopifyGraphQL
from app.shopify.documents.returns import (
    ORDERS_WITH_RETURNS,
    RECONCILE_PAGE_SIZE,
    SHOPIFY_RETURN,
)
from app.shopify.errors import ShopifyAuthError, ShopifyError

logger = logging.getLogger("app.returns.reconcile")

MAX_PAGES = 400  # 10,000 orders with returns in one sync's window
# What ours may be while Shopify's return is in a status (ours may be ahead, never behind).
REFLECTED: dict[str, frozenset[ReturnStatus]] = {
    "REQUESTED": frozenset(ReturnStatus),
    "OPEN": frozenset(
        {
            ReturnStatus.APPROVED,
            ReturnStatus.RECEIVED,
            ReturnStatus.RESOLVED,
            ReturnStatus.CANCELED,
        }
    ),
    "DECLINED": frozenset({ReturnStatus.DECLINED}),
    "CANCELED": frozenset({ReturnStatus.CANCELED}),
    "CLOSED": frozenset({ReturnStatus.RESOLVED}),
}


@dataclass(slots=True)
class ReconcileCounts:
    seen: int = 0  # returns Shopify shows on the synced orders
    applied: int = 0  # ours changed (adopted, followed, resolved)
    waiting: int = 0  # their order is not here yet (or our request is in flight): next time
    failed: int = 0  # Shopify did not show the return when asked: next time


async def _reflected(tenant_id: str, return_gid: str, status: str) -> bool:
    """Whether ours already shows what Shopify does (nothing to apply)."""
    ours = await Return.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id, "shopify_return_id": return_gid}, {"status": 1}
    )
    if ours is None:
        return status not in ADOPTED_STATUSES  # only requested or open returns are adopted
    return ReturnStatus(ours["status"]) in REFLECTED.get(status, frozenset(ReturnStatus))


async def reconcile_returns(
    tenant_id: str,
    api: ShopifyGraphQL,
    search: str,
    between_pages: Callable[[], Awaitable[None]] | None = None,
) -> ReconcileCounts:
    """Apply what Shopify shows of the returns on the orders matching `search` (the sync's).
    `between_pages` runs before each page (the sync job checks it was not canceled). A page
    Shopify does not answer raises; a return it does not show is counted as failed."""
    counts = ReconcileCounts()
    after: str | None = None
    query = f"{search} -return_status:no_return"
    for _ in range(MAX_PAGES):
        if between_pages is not None:
            await between_pages()
        data = await api.execute(
            ORDERS_WITH_RETURNS, {"first": RECONCILE_PAGE_SIZE, "after": after, "query": query}
        )
        page = data.get("orders") or {}
        for order in page.get("nodes") or []:
            for node in (order.get("returns") or {}).get("nodes") or []:
                counts.seen += 1
                await _apply(tenant_id, api, node, counts)
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        after = info.get("endCursor")
    return counts


async def _apply(
    tenant_id: str, api: ShopifyGraphQL, node: dict[str, Any], counts: ReconcileCounts
) -> None:
    return_gid, status = str(node.get("id") or ""), str(node.get("status") or "")
    if not return_gid or await _reflected(tenant_id, return_gid, status):
        return
    try:
        found = (await api.execute(SHOPIFY_RETURN, {"id": return_gid})).get("return")
    except ShopifyAuthError:
        raise
    except ShopifyError as exc:
        logger.warning("return %s not reconciled: %s", return_gid, exc)
        counts.failed += 1
        return
    if not found:
        return
    try:
        result = await apply_shopify_return(tenant_id, ShopifyReturn.from_node(found))
    except OrderNotHeldYet:
        counts.waiting += 1
        return
    if result.startswith(("applied", "adopted")):
        counts.applied += 1
