"""Merchant decisions on returns and the return policy; merged into the schema's Mutation."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.returns.errors import to_user_errors
from app.graphql.returns.inputs import ReturnItemReceiptInput, UpdateReturnPolicyInput
from app.graphql.returns.types import Return, ReturnPayload, UpdateReturnPolicyPayload
from app.graphql.tenant.types import Tenant
from app.services.returns.policy_update import change_return_policy
from app.services.returns.transitions import (
    TransitionResult,
    approve_return,
    cancel_return,
    decline_return,
    mark_return_received,
    resolve_return,
)


def _payload(result: TransitionResult) -> ReturnPayload:
    return ReturnPayload(
        return_=Return(record=result.record) if result.record else None,
        user_errors=to_user_errors(result.user_errors),
    )


def _actor(info: Info) -> str:
    principal = info.context.principal
    assert principal is not None  # behind IsMerchant
    return principal.actor


@strawberry.type
class ReturnMutations:
    @strawberry.mutation(permission_classes=[IsMerchant], description="REQUESTED -> APPROVED.")
    async def approve_return(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> ReturnPayload:
        return _payload(
            await approve_return(
                info.context.tenant_id, argument_id(id, "Return"), _actor(info), note
            )
        )

    @strawberry.mutation(permission_classes=[IsMerchant], description="REQUESTED -> DECLINED.")
    async def decline_return(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> ReturnPayload:
        return _payload(
            await decline_return(
                info.context.tenant_id, argument_id(id, "Return"), _actor(info), reason
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="APPROVED -> RECEIVED, recording each item's condition and restocking.",
    )
    async def mark_return_received(
        self,
        info: Info,
        id: strawberry.ID,
        items: list[ReturnItemReceiptInput] | None = None,
        note: str | None = None,
    ) -> ReturnPayload:
        receipts = [item.to_service() for item in items or []]
        return _payload(
            await mark_return_received(
                info.context.tenant_id, argument_id(id, "Return"), _actor(info), receipts, note
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="RECEIVED -> RESOLVED, computing the refund, store credit or exchange.",
    )
    async def resolve_return(self, info: Info, id: strawberry.ID) -> ReturnPayload:
        return _payload(
            await resolve_return(info.context.tenant_id, argument_id(id, "Return"), _actor(info))
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant], description="REQUESTED or APPROVED -> CANCELED."
    )
    async def cancel_return(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> ReturnPayload:
        return _payload(
            await cancel_return(
                info.context.tenant_id, argument_id(id, "Return"), _actor(info), note
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant], description="Change some settings of the return policy."
    )
    async def update_return_policy(
        self, info: Info, input: UpdateReturnPolicyInput
    ) -> UpdateReturnPolicyPayload:
        result = await change_return_policy(info.context.tenant_id, input.to_service())
        return UpdateReturnPolicyPayload(
            tenant=Tenant(record=result.tenant) if result.tenant else None,
            user_errors=to_user_errors(result.user_errors),
        )
