"""GraphQL types for orders and their line items."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.core.context import Info
from app.models import Order as OrderRecord
from app.models.order import LineItem as LineItemRecord

if TYPE_CHECKING:
    from app.graphql.returns.types import Return


@strawberry.type
class OrderCustomer:
    id: strawberry.ID | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None


@strawberry.type
class LineItem:
    record: strawberry.Private[LineItemRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def variant_id(self) -> str | None:
        return self.record.variant_id

    @strawberry.field
    def variant_title(self) -> str | None:
        return self.record.variant_title

    @strawberry.field
    def product_id(self) -> str | None:
        return self.record.product_id

    @strawberry.field
    def product_type(self) -> str | None:
        return self.record.product_type

    @strawberry.field
    def sku(self) -> str | None:
        return self.record.sku

    @strawberry.field
    def quantity(self) -> int:
        return self.record.quantity

    @strawberry.field
    def fulfilled_quantity(self) -> int:
        return self.record.fulfilled_quantity

    @strawberry.field
    def price(self) -> Decimal:
        return self.record.price

    @strawberry.field
    def total_discount(self) -> Decimal:
        return self.record.total_discount


@strawberry.type
class Order:
    record: strawberry.Private[OrderRecord]

    @strawberry.field(description="The order's Shopify id, e.g. `5813364687033`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.shopify_id)

    @strawberry.field
    def admin_graphql_api_id(self) -> str | None:
        return self.record.admin_graphql_api_id

    @strawberry.field(description="`1001` for the order named `#1001`.")
    def order_number(self) -> str:
        return self.record.order_number

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def email(self) -> str | None:
        return self.record.email

    @strawberry.field
    def customer(self) -> OrderCustomer | None:
        c = self.record.customer
        if c is None:
            return None
        return OrderCustomer(
            id=strawberry.ID(c.id) if c.id else None,
            email=c.email,
            first_name=c.first_name,
            last_name=c.last_name,
            phone=c.phone,
        )

    @strawberry.field
    def line_items(self) -> list[LineItem]:
        return [LineItem(record=item) for item in self.record.line_items]

    @strawberry.field
    def financial_status(self) -> str | None:
        return self.record.financial_status

    @strawberry.field
    def fulfillment_status(self) -> str | None:
        return self.record.fulfillment_status

    @strawberry.field
    def tags(self) -> list[str]:
        return self.record.tags

    @strawberry.field
    def currency(self) -> str:
        return self.record.currency

    @strawberry.field
    def subtotal_price(self) -> Decimal:
        return self.record.subtotal_price

    @strawberry.field
    def total_price(self) -> Decimal:
        return self.record.total_price

    @strawberry.field
    def total_discounts(self) -> Decimal:
        return self.record.total_discounts

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.record.delivered_at

    @strawberry.field(description="Returns requested against this order, newest first.")
    async def returns(
        self, info: Info
    ) -> list[Annotated[Return, strawberry.lazy("app.graphql.returns.types")]]:
        from app.graphql.returns.types import Return

        records = await info.context.loaders.returns_by_order.load(self.record.shopify_id)
        return [Return(record=r) for r in records]
