"""Reading a tenant's webhook events (newest first) and customer data exports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.models import CustomerDataExport, WebhookEvent
from app.services.pagination import Page, PageRequest

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


async def list_webhook_events(
    tenant_id: str,
    page: PageRequest,
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
    page = replace(page, field="received_at")
    query.update(page.filter())
    projection = dict.fromkeys(EVENT_LIST_FIELDS, 1)
    docs = (
        await WebhookEvent.get_pymongo_collection()
        .find(query, projection)
        .sort(page.sort)
        .limit(page.limit)
        .to_list(page.limit)
    )
    items = [WebhookEvent.model_validate(doc) for doc in docs]
    return page.page(items, lambda event: (event.received_at, event.id))


async def get_webhook_event(tenant_id: str, event_pk: Any) -> WebhookEvent | None:
    return await WebhookEvent.find_one({"tenant_id": tenant_id, "_id": event_pk})


async def list_customer_data_exports(tenant_id: str, page: PageRequest) -> Page[CustomerDataExport]:
    query: dict[str, Any] = {"tenant_id": tenant_id, **page.filter()}
    items = await CustomerDataExport.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(items, lambda export: (export.created_at, export.id))


async def get_customer_data_export(tenant_id: str, export_pk: Any) -> CustomerDataExport | None:
    return await CustomerDataExport.find_one({"tenant_id": tenant_id, "_id": export_pk})
