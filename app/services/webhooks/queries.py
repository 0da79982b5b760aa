"""Reading a tenant's webhook events (newest first) and customer data exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beanie import SortDirection

from app.models import CustomerDataExport, WebhookEvent
from app.services.pagination import Page, decode_cursor, make_page

EVENT_LIST_FIELDS = [
    "tenant_id",
    "shop_domain",
    "topic",
    "event_id",
    "webhook_id",
    "api_version",
    "processed",
    "dead",
    "attempts",
    "error",
    "result",
    "next_attempt_at",
    "received_at",
    "triggered_at",
    "processed_at",
]


@dataclass(frozen=True, slots=True)
class WebhookEventFilter:
    topic: str | None = None
    processed: bool | None = None
    dead: bool | None = None


def _received_after(cursor: str | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    position = decode_cursor(cursor)
    return {
        "$or": [
            {"received_at": {"$lt": position.created_at}},
            {"received_at": position.created_at, "_id": {"$lt": position.id}},
        ]
    }


async def list_webhook_events(
    tenant_id: str,
    *,
    first: int,
    after: str | None = None,
    filter: WebhookEventFilter | None = None,
) -> Page[WebhookEvent]:
    """A page of events, newest first by `received_at`; payloads are not read."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if filter is not None:
        if filter.topic is not None:
            query["topic"] = filter.topic
        if filter.processed is not None:
            query["processed"] = filter.processed
        if filter.dead is not None:
            query["dead"] = filter.dead
    query.update(_received_after(after))
    projection = dict.fromkeys(EVENT_LIST_FIELDS, 1)
    docs = (
        await WebhookEvent.get_pymongo_collection()
        .find(query, projection)
        .sort([("received_at", -1), ("_id", -1)])
        .limit(first + 1)
        .to_list(first + 1)
    )
    items = [WebhookEvent.model_validate(doc) for doc in docs]
    return make_page(items, first, after, lambda event: (event.received_at, event.id))


async def get_webhook_event(tenant_id: str, event_pk: Any) -> WebhookEvent | None:
    return await WebhookEvent.find_one({"tenant_id": tenant_id, "_id": event_pk})


async def list_customer_data_exports(
    tenant_id: str, *, first: int, after: str | None = None
) -> Page[CustomerDataExport]:
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if after is not None:
        position = decode_cursor(after)
        query["$or"] = [
            {"created_at": {"$lt": position.created_at}},
            {"created_at": position.created_at, "_id": {"$lt": position.id}},
        ]
    items = (
        await CustomerDataExport.find(query)
        .sort([("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)])
        .limit(first + 1)
        .to_list()
    )
    return make_page(items, first, after, lambda export: (export.created_at, export.id))


async def get_customer_data_export(tenant_id: str, export_pk: Any) -> CustomerDataExport | None:
    return await CustomerDataExport.find_one({"tenant_id": tenant_id, "_id": export_pk})
