"""Return queries for merchants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import BadUserInput
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.returns.inputs import ReturnFilterInput
from app.graphql.returns.types import Return, ReturnsAnalytics
from app.services.returns.analytics import returns_analytics
from app.services.returns.queries import get_return, list_returns

MAX_ANALYTICS_DAYS = 3660


@strawberry.type
class ReturnQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="Returns, newest first.")
    async def returns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ReturnFilterInput | None = None,
    ) -> Connection[Return]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_returns(
            info.context.tenant_id,
            request,
            filter=filter.to_service() if filter else None,
        )
        return Connection[Return].from_page(page, lambda record: Return(record=record))

    @strawberry.field(name="return", permission_classes=[IsMerchant])
    async def return_(self, info: Info, id: strawberry.ID) -> Return | None:
        record = await get_return(info.context.tenant_id, argument_id(id, "Return"))
        return Return(record=record) if record else None

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Return rates and breakdowns over the orders created in [from, to).",
    )
    async def returns_analytics(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> ReturnsAnalytics:
        if from_.tzinfo is None or to.tzinfo is None:
            raise BadUserInput("`from` and `to` need a time zone", argument="from")
        if to <= from_:
            raise BadUserInput("`to` must be after `from`", argument="to")
        if (to - from_).days > MAX_ANALYTICS_DAYS:
            raise BadUserInput(f"At most {MAX_ANALYTICS_DAYS} days", argument="to")
        record = await returns_analytics(info.context.tenant_id, from_, to)
        return ReturnsAnalytics(record=record)
