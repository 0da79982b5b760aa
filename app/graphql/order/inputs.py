"""Order query inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.services.orders.queries import OrderFilter


@strawberry.input
class OrderFilterInput:
    order_number: str | None = None
    customer_email: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_service(self) -> OrderFilter:
        return OrderFilter(
            order_number=self.order_number,
            customer_email=self.customer_email,
            financial_status=self.financial_status,
            fulfillment_status=self.fulfillment_status,
            created_after=self.created_after,
            created_before=self.created_before,
        )
