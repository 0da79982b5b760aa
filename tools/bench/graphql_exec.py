"""GraphQL execution cost alone: our Strawberry `Order` type vs plain graphql-core, no I/O.

Both execute the same query (19 leaf fields per order) over the same 1,000 in-memory orders,
with parsing and validation cached on both sides (as the service caches them); the medians of
many timed executions are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import strawberry
from graphql import (
    GraphQLScalarType,
    build_schema,
    execute,
    parse,
    validate,
)
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache

from app.graphql.core.limits import QueryLimits
from app.graphql.core.masking import MaskUnexpectedErrors
from app.graphql.core.node import global_id
from app.graphql.order.types import Order as OrderType
from app.models import Order
from app.models.order import LineItem, OrderCustomer

# 12 scalars + 3 amounts (MoneyV2) + customer { email firstName } + lineItems { id quantity }
# = 19 leaf fields.
QUERY = """
query BenchOrders {
  orders {
    id adminGraphqlApiId orderNumber name email financialStatus fulfillmentStatus tags
    currencyCode subtotalPrice { amount } totalPrice { amount } totalDiscounts { amount }
    createdAt updatedAt deliveredAt
    customer { email firstName }
    lineItems { id quantity }
  }
}
"""
LEAF_FIELDS = 19

PLAIN_SDL = """
scalar Decimal
scalar DateTime
type OrderCustomer { email: String firstName: String }
type LineItem { id: ID! quantity: Int! }
type MoneyV2 { amount: Decimal! currencyCode: String! }
type Order {
  id: ID! adminGraphqlApiId: String orderNumber: String! name: String! email: String
  financialStatus: String fulfillmentStatus: String tags: [String!]! currencyCode: String!
  subtotalPrice: MoneyV2! totalPrice: MoneyV2! totalDiscounts: MoneyV2!
  createdAt: DateTime! updatedAt: DateTime! deliveredAt: DateTime
  customer: OrderCustomer lineItems: [LineItem!]!
}
type Query { orders: [Order!]! }
"""


@dataclass(frozen=True, slots=True)
class ExecutionTiming:
    orders: int
    fields: int
    iterations: int
    ours_ms: float
    plain_ms: float
    ours_samples_ms: list[float]
    plain_samples_ms: list[float]
    same_result: bool


def make_records(count: int) -> list[Order]:
    """In-memory orders (no database: built with `model_construct` from validated parts)."""
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    records = []
    for i in range(count):
        created = now - timedelta(minutes=i)
        records.append(
            Order.model_construct(
                tenant_id="tenant-bench",
                shopify_id=str(5_813_364_000_000 + i),
                admin_graphql_api_id=f"gid://shopify/Order/{5_813_364_000_000 + i}",
                order_number=str(1001 + i),
                name=f"#{1001 + i}",
                email=f"customer{i}@example.com",
                customer=OrderCustomer(
                    id=str(7_000 + i), email=f"customer{i}@example.com", first_name="Ada"
                ),
                line_items=[
                    LineItem(id=str(90_000 + i * 2 + j), quantity=2, price=Decimal("24.50"))
                    for j in range(2)
                ],
                financial_status="paid",
                fulfillment_status="fulfilled",
                tags=["bench", "vip"],
                currency="USD",
                subtotal_price=Decimal("98.00"),
                total_price=Decimal("98.00"),
                total_discounts=Decimal("0.00"),
                created_at=created,
                updated_at=created,
                delivered_at=created + timedelta(days=2),
            )
        )
    return records


def _plain_row(record: Order) -> dict[str, Any]:
    customer = record.customer
    return {
        "id": global_id("Order", record.shopify_id),
        "adminGraphqlApiId": record.admin_graphql_api_id,
        "orderNumber": record.order_number,
        "name": record.name,
        "email": record.email,
        "financialStatus": record.financial_status,
        "fulfillmentStatus": record.fulfillment_status,
        "tags": record.tags,
        "currencyCode": record.currency,
        "subtotalPrice": {"amount": record.subtotal_price, "currencyCode": record.currency},
        "totalPrice": {"amount": record.total_price, "currencyCode": record.currency},
        "totalDiscounts": {"amount": record.total_discounts, "currencyCode": record.currency},
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "deliveredAt": record.delivered_at,
        "customer": None
        if customer is None
        else {"email": customer.email, "firstName": customer.first_name},
        "lineItems": [{"id": line.id, "quantity": line.quantity} for line in record.line_items],
    }


def build_ours(records: list[Order]) -> strawberry.Schema:
    """Our `Order` type under a bench root field, with the service's schema extensions."""

    @strawberry.type
    class BenchQuery:
        @strawberry.field
        def orders(self) -> list[OrderType]:
            return [OrderType.from_record(record) for record in records]

    extensions: list[type[SchemaExtension] | Any] = [
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryLimits(12, 30),
        MaskUnexpectedErrors,
    ]
    return strawberry.Schema(query=BenchQuery, extensions=extensions)


def build_plain() -> Any:
    schema = build_schema(PLAIN_SDL)
    decimal = schema.type_map["Decimal"]
    moment = schema.type_map["DateTime"]
    assert isinstance(decimal, GraphQLScalarType) and isinstance(moment, GraphQLScalarType)
    # graphql-core 3.3 calls `coerce_output_value` (`serialize` is its deprecated alias).
    decimal.coerce_output_value = str
    moment.coerce_output_value = lambda value: value.isoformat()
    return schema


async def measure(count: int = 1000, iterations: int = 20) -> ExecutionTiming:
    records = make_records(count)
    ours = build_ours(records)
    plain = build_plain()
    document = parse(QUERY)
    problems = validate(plain, document)
    if problems:
        raise RuntimeError(f"plain schema rejects the query: {problems}")
    rows = [_plain_row(record) for record in records]

    async def run_ours() -> Any:
        result = await ours.execute(QUERY)
        if result.errors:
            raise RuntimeError(f"our schema failed: {result.errors[0]}")
        return result.data

    def run_plain() -> Any:
        # Like our ParserCache/ValidationCache: the document is parsed and validated once.
        result = execute(plain, document, root_value={"orders": rows})
        assert not hasattr(result, "__await__")
        if result.errors:
            raise RuntimeError(f"plain schema failed: {result.errors[0]}")
        return result.data

    same = await run_ours() == run_plain()
    ours_samples: list[float] = []
    plain_samples: list[float] = []
    for _ in range(iterations):  # interleaved, so drift hurts both alike
        started = time.perf_counter()
        await run_ours()
        ours_samples.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        run_plain()
        plain_samples.append((time.perf_counter() - started) * 1000)
    return ExecutionTiming(
        orders=count,
        fields=LEAF_FIELDS,
        iterations=iterations,
        ours_ms=statistics.median(ours_samples),
        plain_ms=statistics.median(plain_samples),
        ours_samples_ms=ours_samples,
        plain_samples_ms=plain_samples,
        same_result=same,
    )


if __name__ == "__main__":  # pragma: no cover - quick manual check
    timing = asyncio.run(measure())
    print(
        f"ours {timing.ours_ms:.1f} ms, graphql-core {timing.plain_ms:.1f} ms, same={timing.same_result}"
    )
