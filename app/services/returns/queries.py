"""Reading a tenant's returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from app.models import Return
from app.models.return_policy import ResolutionType
from app.models.return_request import ReturnReason, ReturnStatus
from app.services.orders.queries import normalize_email, normalize_order_number
from app.services.pagination import NEWEST_FIRST, Page, PageRequest


@dataclass(frozen=True, slots=True)
class ReturnFilter:
    status: ReturnStatus | None = None
    reason: ReturnReason | None = None
    resolution_type: ResolutionType | None = None
    order_number: str | None = None
    customer_email: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _query(tenant_id: str, filter: ReturnFilter | None) -> dict[str, Any]:
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if filter is None:
        return query
    if filter.status is not None:
        query["status"] = filter.status.value
    if filter.reason is not None:
        query["items.reason"] = filter.reason.value
    if filter.resolution_type is not None:
        query["resolution_type"] = filter.resolution_type.value
    if filter.order_number:
        query["order_number"] = normalize_order_number(filter.order_number)
    if filter.customer_email:
        query["customer_email"] = normalize_email(filter.customer_email)
    bounds: dict[str, Any] = {}
    if filter.created_after is not None:
        bounds["$gte"] = filter.created_after
    if filter.created_before is not None:
        bounds["$lt"] = filter.created_before
    if bounds:
        query["created_at"] = bounds
    return query


async def list_returns(
    tenant_id: str, page: PageRequest, filter: ReturnFilter | None = None
) -> Page[Return]:
    """A page of the tenant's returns, newest first."""
    query = _query(tenant_id, filter)
    cursor = page.filter()
    if cursor:
        query = {"$and": [query, cursor]} if "created_at" in query else {**query, **cursor}
    returns = await Return.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(returns, lambda r: (r.created_at, r.id))


def parse_return_id(return_id: str) -> ObjectId | None:
    try:
        return ObjectId(return_id.strip())
    except (InvalidId, TypeError):
        return None


async def get_return(tenant_id: str, return_id: str) -> Return | None:
    oid = parse_return_id(return_id)
    if oid is None:
        return None
    return await Return.find_one({"_id": oid, "tenant_id": tenant_id})


async def returns_by_order_ids(tenant_id: str, order_ids: list[str]) -> list[list[Return]]:
    """Returns grouped per order id, in key order: one query for the batch."""
    found = (
        await Return.find({"tenant_id": tenant_id, "order_id": {"$in": list(set(order_ids))}})
        .sort(NEWEST_FIRST)
        .to_list()
    )
    grouped: dict[str, list[Return]] = {key: [] for key in order_ids}
    for item in found:
        grouped.setdefault(item.order_id, []).append(item)
    return [grouped[key] for key in order_ids]
