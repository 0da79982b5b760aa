"""GraphQL types for orders and their line items.

Plain fields are attributes filled once from the record (`from_record`), so GraphQL resolves
them with the cheap default resolver instead of one method call per field: a page of orders is
the hottest list in the API. Only fields that load something keep a resolver.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.money import CurrencyCodeEnum, MoneyV2, currency_code_value, money_v2
from app.graphql.core.node import Node, global_id
from app.models import Order as OrderRecord
from app.models.order import LineItem as LineItemRecord
from app.models.order import OrderCustomer as OrderCustomerRecord

if TYPE_CHECKING:
    from app.graphql.returns.types import Return


@strawberry.type
class OrderCustomer:
    id: strawberry.ID | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None

    @classmethod
    def from_record(cls, record: OrderCustomerRecord) -> OrderCustomer:
        return cls(
            id=strawberry.ID(record.id) if record.id else None,
            email=record.email,
            first_name=record.first_name,
            last_name=record.last_name,
            phone=record.phone,
        )


@strawberry.type
class LineItem:
    id: strawberry.ID
    title: str
    variant_id: str | None
    variant_title: str | None
    product_id: str | None
    product_type: str | None
    sku: str | None
    quantity: int
    fulfilled_quantity: int
    # Amounts are built when asked for: most line selections do not ask, and a MoneyV2 per
    # amount per line was most of the cost of a page of orders.
    record: strawberry.Private[LineItemRecord]
    currency: strawberry.Private[str]

    @strawberry.field(description="Unit price.")
    def price(self) -> MoneyV2:
        return money_v2(self.record.price, self.currency)

    @strawberry.field(description="Discounts allocated to the line.")
    def total_discount(self) -> MoneyV2:
        return money_v2(self.record.total_discount, self.currency)

    @classmethod
    def from_record(cls, record: LineItemRecord, currency: str) -> LineItem:
        return cls(
            id=strawberry.ID(record.id),
            title=record.title,
            variant_id=record.variant_id,
            variant_title=record.variant_title,
            product_id=record.product_id,
            product_type=record.product_type,
            sku=record.sku,
            quantity=record.quantity,
            fulfilled_quantity=record.fulfilled_quantity,
            record=record,
            currency=currency,
        )


@strawberry.type
class Order(Node):
    record: strawberry.Private[OrderRecord]
    id: strawberry.ID = strawberry.field(description="Global id (opaque).")
    shopify_id: strawberry.ID = strawberry.field(
        description="The order's Shopify id, e.g. `5813364687033`."
    )
    admin_graphql_api_id: str | None
    order_number: str = strawberry.field(description="`1001` for the order named `#1001`.")
    name: str
    email: str | None
    customer: OrderCustomer | None
    line_items: list[LineItem]
    financial_status: str | None
    fulfillment_status: str | None
    tags: list[str]
    currency: str = strawberry.field(deprecation_reason="Use `currencyCode`.")
    currency_code: CurrencyCodeEnum  # type: ignore[valid-type]
    subtotal_price: MoneyV2
    total_price: MoneyV2
    total_discounts: MoneyV2
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return cls(
            record=record,
            id=global_id("Order", record.shopify_id),
            shopify_id=strawberry.ID(record.shopify_id),
            admin_graphql_api_id=record.admin_graphql_api_id,
            order_number=record.order_number,
            name=record.name,
            email=record.email,
            customer=OrderCustomer.from_record(record.customer) if record.customer else None,
            line_items=[LineItem.from_record(item, record.currency) for item in record.line_items],
            financial_status=record.financial_status,
            fulfillment_status=record.fulfillment_status,
            tags=record.tags,
            currency=record.currency,
            currency_code=currency_code_value(record.currency),
            subtotal_price=money_v2(record.subtotal_price, record.currency),
            total_price=money_v2(record.total_price, record.currency),
            total_discounts=money_v2(record.total_discounts, record.currency),
            created_at=record.created_at,
            updated_at=record.updated_at,
            delivered_at=record.delivered_at,
        )

    @strawberry.field(description="Returns requested against this order, newest first.")
    async def returns(
        self, info: Info
    ) -> list[Annotated[Return, strawberry.lazy("app.graphql.returns.types")]]:
        from app.graphql.returns.types import Return

        records = await info.context.loaders.returns_by_order.load(self.record.shopify_id)
        return [Return(record=r) for r in records]
