"""Return query inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.returns.enums import ReturnReasonEnum, ReturnStatusEnum
from app.graphql.tenant.types import ResolutionTypeEnum
from app.services.returns.queries import ReturnFilter


@strawberry.input
class ReturnFilterInput:
    status: ReturnStatusEnum | None = None  # type: ignore[valid-type]
    reason: ReturnReasonEnum | None = None  # type: ignore[valid-type]
    resolution_type: ResolutionTypeEnum | None = None  # type: ignore[valid-type]
    order_number: str | None = None
    customer_email: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_service(self) -> ReturnFilter:
        return ReturnFilter(
            status=self.status,
            reason=self.reason,
            resolution_type=self.resolution_type,
            order_number=self.order_number,
            customer_email=self.customer_email,
            created_after=self.created_after,
            created_before=self.created_before,
        )
