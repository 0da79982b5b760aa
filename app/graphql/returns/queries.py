"""Return queries for merchants."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.permissions import IsMerchant
from app.graphql.returns.inputs import ReturnFilterInput
from app.graphql.returns.types import Return
from app.services.returns.queries import get_return, list_returns


@strawberry.type
class ReturnQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="Returns, newest first.")
    async def returns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ReturnFilterInput | None = None,
    ) -> Connection[Return]:
        size = checked_page_args(first, after, info.context.settings.graphql_max_page_size)
        page = await list_returns(
            info.context.tenant_id,
            first=size,
            after=after,
            filter=filter.to_service() if filter else None,
        )
        return Connection[Return].from_page(page, lambda record: Return(record=record))

    @strawberry.field(name="return", permission_classes=[IsMerchant])
    async def return_(self, info: Info, id: strawberry.ID) -> Return | None:
        record = await get_return(info.context.tenant_id, str(id))
        return Return(record=record) if record else None
