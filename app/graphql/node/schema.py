"""`node(id:)` and `nodes(ids:)`: any object with a global id, refetched within the caller's
tenant. Another tenant's id, an unknown or malformed one gives `null`, never an error, so an id
reveals nothing about what exists elsewhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.errors import BadUserInput
from app.graphql.core.node import Node, parse_global_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.customer.types import Customer
from app.graphql.merchant_webhooks.types import WebhookDelivery, WebhookEndpoint
from app.graphql.notifications.schema import Notification
from app.graphql.order.types import Order
from app.graphql.returns.types import Return
from app.graphql.sync.types import SyncJob
from app.graphql.tenant.types import Tenant
from app.graphql.webhooks.types import CustomerDataExport, WebhookEvent
from app.services.notifications.delivery import get_delivery
from app.services.notifications.email import get_email
from app.services.notifications.endpoints import get_endpoint
from app.services.orders.queries import get_customer, get_order
from app.services.returns.queries import get_return
from app.services.sync.jobs import get_sync_job
from app.services.tenants import get_tenant
from app.services.webhooks.processing import parse_event_id
from app.services.webhooks.queries import get_customer_data_export, get_webhook_event

Fetch = Callable[[str, str], Awaitable[Node | None]]


async def _tenant(tenant_id: str, local: str) -> Node | None:
    record = await get_tenant(tenant_id) if local == tenant_id else None
    return Tenant(record=record) if record else None


async def _order(tenant_id: str, local: str) -> Node | None:
    record = await get_order(tenant_id, local)
    return Order.from_record(record) if record else None


async def _customer(tenant_id: str, local: str) -> Node | None:
    record = await get_customer(tenant_id, local)
    return Customer(record=record) if record else None


async def _return(tenant_id: str, local: str) -> Node | None:
    record = await get_return(tenant_id, local)
    return Return(record=record) if record else None


async def _sync_job(tenant_id: str, local: str) -> Node | None:
    record = await get_sync_job(tenant_id, local)
    return SyncJob(record=record) if record else None


async def _webhook_event(tenant_id: str, local: str) -> Node | None:
    pk = parse_event_id(local)
    record = await get_webhook_event(tenant_id, pk) if pk is not None else None
    return WebhookEvent(record=record) if record else None


async def _export(tenant_id: str, local: str) -> Node | None:
    pk = parse_event_id(local)
    record = await get_customer_data_export(tenant_id, pk) if pk is not None else None
    return CustomerDataExport(record=record) if record else None


async def _webhook_endpoint(tenant_id: str, local: str) -> Node | None:
    record = await get_endpoint(tenant_id, local)
    return WebhookEndpoint(record=record) if record else None


async def _webhook_delivery(tenant_id: str, local: str) -> Node | None:
    record = await get_delivery(tenant_id, local)
    return WebhookDelivery(record=record) if record else None


async def _notification(tenant_id: str, local: str) -> Node | None:
    record = await get_email(tenant_id, local)
    return Notification(record=record) if record else None


FETCHERS: dict[str, Fetch] = {
    "Tenant": _tenant,
    "Order": _order,
    "Customer": _customer,
    "Return": _return,
    "SyncJob": _sync_job,
    "WebhookEvent": _webhook_event,
    "CustomerDataExport": _export,
    "WebhookEndpoint": _webhook_endpoint,
    "WebhookDelivery": _webhook_delivery,
    "Notification": _notification,
}
# The types `node` can answer with, for the schema (an interface needs its implementations).
NODE_TYPES: tuple[type, ...] = (
    Tenant,
    Order,
    Customer,
    Return,
    SyncJob,
    WebhookEvent,
    CustomerDataExport,
    WebhookEndpoint,
    WebhookDelivery,
    Notification,
)


async def fetch_node(tenant_id: str, value: str) -> Node | None:
    parsed = parse_global_id(value)
    if parsed is None:
        return None
    fetch = FETCHERS.get(parsed[0])
    return await fetch(tenant_id, parsed[1]) if fetch is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(
        permission_classes=[IsMerchant],
        description="The object with this global id in your shop; null for any other id.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await fetch_node(info.context.tenant_id, str(id))

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="The objects with these global ids, in order; null where `node` is null.",
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        limit = info.context.settings.graphql_max_page_size
        if len(ids) > limit:
            raise BadUserInput(f"`ids` holds at most {limit} ids", argument="ids")
        return [await fetch_node(info.context.tenant_id, str(value)) for value in ids]
