"""Return enums as GraphQL sees them (names upper case; stored values lower case)."""

import strawberry

from app.models.return_request import (
    ItemCondition,
    ReturnReason,
    ReturnSource,
    ReturnStatus,
    ShopifySyncStatus,
)
from app.services.returns.policy import Ineligibility

ReturnStatusEnum = strawberry.enum(ReturnStatus, name="ReturnStatus")
ReturnReasonEnum = strawberry.enum(
    ReturnReason, name="ReturnReason", description="Shopify's return reasons."
)
ItemConditionEnum = strawberry.enum(ItemCondition, name="ItemCondition")
ReturnSourceEnum = strawberry.enum(
    ReturnSource,
    name="ReturnSource",
    description="Where the return was asked for: the portal, or staff in Shopify admin.",
)

ShopifySyncStatusEnum = strawberry.enum(ShopifySyncStatus, name="ShopifySyncStatus")
ReturnIneligibilityEnum = strawberry.enum(
    Ineligibility,
    name="ReturnIneligibility",
    description="Why an order or line item cannot be returned now.",
)
