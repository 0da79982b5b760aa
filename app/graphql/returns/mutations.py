"""Merchant decisions on returns and the return policy; merged into the schema's Mutation."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.returns.catalog import shopify_catalog
from app.graphql.returns.errors import to_user_errors
from app.graphql.returns.inputs import (
    CreateReturnForOrderInput,
    ReturnItemReceiptInput,
    UpdateReturnPolicyInput,
)
from app.graphql.returns.types import (
    BulkReturnsPayload,
    Return,
    ReturnPayload,
    UpdateReturnPolicyPayload,
)
from app.graphql.tenant.types import ReturnMethodEnum, Tenant
from app.services.returns.policy_update import change_return_policy
from app.services.returns.staff_create import create_return_for_order
from app.services.returns.state_machine import ReturnAction
from app.services.returns.transitions import (
    BulkResult,
    TransitionResult,
    approve_return,
    bulk_decide,
    cancel_return,
    change_return_method,
    create_return_label,
    decline_return,
    mark_return_received,
    resolve_return,
    retry_shopify_sync,
)


def _payload(result: TransitionResult) -> ReturnPayload:
    return ReturnPayload(
        return_=Return(record=result.record) if result.record else None,
        user_errors=to_user_errors(result.user_errors),
    )


def _bulk_payload(result: BulkResult) -> BulkReturnsPayload:
    return BulkReturnsPayload(
        returns=[Return(record=record) for record in result.records],
        user_errors=to_user_errors(result.user_errors),
    )


def _return_ids(ids: list[strawberry.ID]) -> list[str]:
    return [argument_id(value, "Return") for value in ids]


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
        permission_classes=[IsMerchant],
        description="Staff create a return for the order's customer, APPROVED at once. The "
        "shop's own rules may be set aside with `policyException` (recorded); what cannot be "
        "returned at all (not fulfilled, more than shipped or still free) is refused.",
    )
    async def create_return_for_order(
        self, info: Info, input: CreateReturnForOrderInput
    ) -> ReturnPayload:
        result = await create_return_for_order(
            info.context.tenant_id,
            input.to_service(),
            _actor(info),
            input.policy_exception,
            catalog=shopify_catalog(info.context.tenant_id, info),
        )
        return ReturnPayload(
            return_=Return(record=result.record) if result.record else None,
            user_errors=to_user_errors(result.user_errors),
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="REQUESTED -> APPROVED for up to 100 returns, each on its own: one that "
        "cannot be approved is a `userErrors` entry at `ids.<index>` and stops none of the others.",
    )
    async def bulk_approve_returns(
        self, info: Info, ids: list[strawberry.ID], note: str | None = None
    ) -> BulkReturnsPayload:
        return _bulk_payload(
            await bulk_decide(
                info.context.tenant_id, _return_ids(ids), ReturnAction.APPROVE, _actor(info), note
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="REQUESTED -> DECLINED for up to 100 returns, each on its own, with one "
        "reason for all: one that cannot be declined is a `userErrors` entry at `ids.<index>`.",
    )
    async def bulk_decline_returns(
        self, info: Info, ids: list[strawberry.ID], reason: str | None = None
    ) -> BulkReturnsPayload:
        return _bulk_payload(
            await bulk_decide(
                info.context.tenant_id, _return_ids(ids), ReturnAction.DECLINE, _actor(info), reason
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Try again a Shopify sync that failed (`shopifySync.status` FAILED, the "
        "reason in `shopifySync.error`), e.g. a refund Shopify refused, once its cause is fixed. "
        "A step Shopify already applied is read back, never applied twice.",
    )
    async def retry_return_shopify_sync(self, info: Info, id: strawberry.ID) -> ReturnPayload:
        return _payload(await retry_shopify_sync(info.context.tenant_id, argument_id(id, "Return")))

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Buy a PREPAID_LABEL or DROP_OFF return's label now (a shop that buys labels "
        "on request), or again after a failure (`shipment.error`) or a void. Bought in the "
        "background once the return is approved; the answer shows it LABEL_PENDING.",
    )
    async def create_return_label(self, info: Info, id: strawberry.ID) -> ReturnPayload:
        return _payload(
            await create_return_label(info.context.tenant_id, argument_id(id, "Return"))
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Another way back for a REQUESTED or APPROVED return: away from a label, a "
        "label not yet moving is voided; to PREPAID_LABEL or DROP_OFF, its label is planned as "
        "for a new request. Between the two label methods only before the label is bought.",
    )
    async def change_return_method(
        self,
        info: Info,
        id: strawberry.ID,
        return_method: ReturnMethodEnum,  # type: ignore[valid-type]
    ) -> ReturnPayload:
        return _payload(
            await change_return_method(
                info.context.tenant_id, argument_id(id, "Return"), return_method
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="REQUESTED or APPROVED -> CANCELED. A prepaid label not yet moving is voided.",
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
