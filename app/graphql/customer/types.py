"""GraphQL type for customers."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.node import Node, global_id
from app.models import Customer as CustomerRecord


@strawberry.type
class Customer(Node):
    record: strawberry.Private[CustomerRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("Customer", self.record.shopify_id)

    @strawberry.field(description="The customer's Shopify id, e.g. `7`.")
    def shopify_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.shopify_id)

    @strawberry.field
    def email(self) -> str | None:
        return self.record.email

    @strawberry.field
    def first_name(self) -> str | None:
        return self.record.first_name

    @strawberry.field
    def last_name(self) -> str | None:
        return self.record.last_name

    @strawberry.field
    def phone(self) -> str | None:
        return self.record.phone

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at
