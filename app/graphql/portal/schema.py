"""Customer-portal operations: public, scoped by X-Tenant-Id (or, through Shopify's app proxy,
by the verified shop), proven by order number + email or by Shopify's signed-in customer."""

from __future__ import annotations

import strawberry
from bson import ObjectId

from app.graphql.core.context import Info
from app.graphql.core.errors import Forbidden, RateLimited
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsPortalRequest
from app.graphql.portal.types import (
    CreateReturnInput,
    CreateReturnPayload,
    PortalOrder,
    PortalReturn,
)
from app.graphql.returns.catalog import shopify_catalog
from app.graphql.returns.errors import to_user_errors
from app.models import Return as ReturnRecord
from app.services.portal.status_links import verified_return_id
from app.services.returns.create import ORDER_NOT_FOUND, create_return
from app.services.returns.errors import PortalRateLimited, ReturnErrorCode, ReturnUserError
from app.services.returns.portal import customer_orders, lookup_order, signed_in_customer_email
from app.services.shopify_values import numeric_id

RATE_LIMITED_MESSAGE = "Too many failed attempts; try again in a few minutes."
EMAIL_REQUIRED = ReturnUserError(
    ["customer_email"], ReturnErrorCode.BLANK, "Enter the email address of the order."
)
SIGNED_IN_ONLY = "Only a customer signed in to the shop's storefront has orders listed here."


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

    @strawberry.field(
        permission_classes=[IsPortalRequest],
        description="The signed-in customer's 10 most recent orders, newest first. Only "
        "through the shop's storefront (Shopify's app proxy), which says who is signed in.",
    )
    async def customer_orders(self, info: Info) -> list[PortalOrder]:
        context = info.context
        if context.portal_customer_id is None:
            raise Forbidden(SIGNED_IN_ONLY)
        found = await customer_orders(context.portal_tenant_id, context.portal_customer_id)
        return [PortalOrder(record=lookup) for lookup in found]

    @strawberry.field(
        permission_classes=[IsPortalRequest],
        description="The return a status link names (`PortalReturn.statusToken`), or null when "
        "the token is not one of this shop's.",
    )
    async def return_status(self, info: Info, token: str) -> PortalReturn | None:
        context = info.context
        tenant_id = context.portal_tenant_id
        return_id = verified_return_id(context.settings.shopify_api_secret, tenant_id, token)
        if return_id is None:
            return None
        record = await ReturnRecord.find_one({"_id": ObjectId(return_id), "tenant_id": tenant_id})
        return PortalReturn(record=record) if record else None


@strawberry.type
class PortalMutations:
    @strawberry.mutation(
        permission_classes=[IsPortalRequest], description="A customer's return request."
    )
    async def create_return(self, info: Info, input: CreateReturnInput) -> CreateReturnPayload:
        context = info.context
        email = input.customer_email
        if context.portal_customer_id is not None and not email:
            # Shopify signed the customer in: the order's own email proves the request.
            order_id = numeric_id(argument_id(input.order_id, "Order")) or ""
            email = await signed_in_customer_email(
                context.portal_tenant_id, order_id, context.portal_customer_id
            )
            if email is None:
                return CreateReturnPayload(
                    return_=None, user_errors=to_user_errors([ORDER_NOT_FOUND])
                )
        if not email:
            return CreateReturnPayload(return_=None, user_errors=to_user_errors([EMAIL_REQUIRED]))
        try:
            result = await create_return(
                context.portal_tenant_id,
                input.to_service(email),
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
