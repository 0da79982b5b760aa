"""Customer queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.permissions import IsMerchant
from app.graphql.customer.types import Customer
from app.services.orders.queries import list_customers


@strawberry.type
class CustomerQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="Customers, newest first.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        email: str | None = None,
    ) -> Connection[Customer]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_customers(info.context.tenant_id, request, email=email)
        return Connection[Customer].from_page(page, lambda record: Customer(record=record))
