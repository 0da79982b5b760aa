"""Return enums as GraphQL sees them (names upper case; stored values lower case)."""

import strawberry

from app.models.return_request import ItemCondition, ReturnReason, ReturnStatus, ShopifySyncStatus
from app.services.returns.policy import Ineligibility

ReturnStatusEnum = strawberry.enum(ReturnStatus, name="ReturnStatus")
ReturnReasonEnum = strawberry.enum(
    ReturnReason, name="ReturnReason", description="Shopify's return reasons."
)
ItemConditionEnum = strawberry.enum(ItemCondition, name="ItemCondition")

ShopifySyncStatusEnum = strawberry.enum(ShopifySyncStatus, name="ShopifySyncStatus")
ReturnIneligibilityEnum = strawberry.enum(
    Ineligibility,
    name="ReturnIneligibility",
    description="Why an order or line item cannot be returned now.",
)
