"""Return enums as GraphQL sees them (names upper case; stored values lower case)."""

import strawberry

from app.models.return_request import ItemCondition, ReturnReason, ReturnStatus

ReturnStatusEnum = strawberry.enum(ReturnStatus, name="ReturnStatus")
ReturnReasonEnum = strawberry.enum(
    ReturnReason, name="ReturnReason", description="Shopify's return reasons."
)
ItemConditionEnum = strawberry.enum(ItemCondition, name="ItemCondition")
