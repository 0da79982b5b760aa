"""Order queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.order.inputs import OrderFilterInput
from app.graphql.order.types import Order
from app.services.orders.queries import get_order, list_orders


@strawberry.type
class OrderQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="Orders, newest first.")
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: OrderFilterInput | None = None,
    ) -> Connection[Order]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_orders(
            info.context.tenant_id,
            request,
            filter=filter.to_service() if filter else None,
        )
        return Connection[Order].from_page(page, Order.from_record)

    @strawberry.field(permission_classes=[IsMerchant], description="An order by Shopify id.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        record = await get_order(info.context.tenant_id, argument_id(id, "Order"))
        return Order.from_record(record) if record else None
