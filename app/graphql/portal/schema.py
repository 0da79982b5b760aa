"""Customer-portal operations: public, scoped by X-Tenant-Id, proven by order number + email."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.errors import RateLimited
from app.graphql.core.permissions import IsPortalRequest
from app.graphql.portal.types import (
    CreateReturnInput,
    CreateReturnPayload,
    PortalOrder,
    PortalReturn,
)
from app.graphql.returns.catalog import shopify_catalog
from app.graphql.returns.errors import to_user_errors
from app.services.returns.create import create_return
from app.services.returns.errors import PortalRateLimited
from app.services.returns.portal import lookup_order

RATE_LIMITED_MESSAGE = "Too many failed attempts; try again in a few minutes."


@strawberry.type
class PortalQueries:
    @strawberry.field(
        permission_classes=[IsPortalRequest],
        description=(
            "The order with this number (`1001` or `#1001`) and email, or null. A wrong number "
            "and a wrong email give the same answer; repeated failures are rate-limited."
        ),
    )
    async def lookup_order(
        self, info: Info, order_number: str, customer_email: str
    ) -> PortalOrder | None:
        context = info.context
        try:
            found = await lookup_order(
                context.portal_tenant_id,
                order_number,
                customer_email,
                context.client_ip,
                locks=context.portal_locks,
            )
        except PortalRateLimited as exc:
            raise RateLimited(RATE_LIMITED_MESSAGE) from exc
        return PortalOrder(record=found) if found else None


@strawberry.type
class PortalMutations:
    @strawberry.mutation(
        permission_classes=[IsPortalRequest], description="A customer's return request."
    )
    async def create_return(self, info: Info, input: CreateReturnInput) -> CreateReturnPayload:
        context = info.context
        try:
            result = await create_return(
                context.portal_tenant_id,
                input.to_service(),
                context.client_ip,
                locks=context.portal_locks,
                catalog=shopify_catalog(context.portal_tenant_id, info),
            )
        except PortalRateLimited as exc:
            raise RateLimited(RATE_LIMITED_MESSAGE) from exc
        return CreateReturnPayload(
            return_=PortalReturn(record=result.record) if result.record else None,
            user_errors=to_user_errors(result.user_errors),
        )
