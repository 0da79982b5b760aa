"""GraphQL types for the tenant and its return policy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.graphql.core.node import Node, global_id
from app.graphql.portal.settings import PortalSettings
from app.graphql.shipping.types import ShippingSettings
from app.models import Tenant as TenantRecord
from app.models.return_policy import ResolutionType, ReturnMethod, WindowStart
from app.models.return_policy import ReturnPolicy as ReturnPolicyRecord

ResolutionTypeEnum = strawberry.enum(ResolutionType, name="ResolutionType")
ReturnMethodEnum = strawberry.enum(ReturnMethod, name="ReturnMethod")
WindowStartEnum = strawberry.enum(WindowStart, name="ReturnWindowStart")


@strawberry.type
class AutoApproveRule:
    enabled: bool
    max_order_total: Decimal | None
    reasons: list[str]


@strawberry.type(
    description="Flag a customer who, with a new return, returned more than `maxUnits` units in "
    "`windowDays` days: the return shows it and is never approved automatically."
)
class SerialReturnerRule:
    enabled: bool
    max_units: int
    window_days: int


@strawberry.type
class ReturnPolicy:
    record: strawberry.Private[ReturnPolicyRecord]

    @strawberry.field(description="Prepaid return labels and tracking.")
    def shipping(self) -> ShippingSettings:
        return ShippingSettings(record=self.record.shipping)

    @strawberry.field(description="Days a return may be requested, counted from `windowStarts`.")
    def window_days(self) -> int:
        return self.record.window_days

    @strawberry.field
    def window_starts(self) -> WindowStartEnum:  # type: ignore[valid-type]
        return self.record.window_starts

    @strawberry.field
    def allowed_resolutions(self) -> list[ResolutionTypeEnum]:  # type: ignore[valid-type]
        return list(self.record.allowed_resolutions)

    @strawberry.field
    def allowed_methods(self) -> list[ReturnMethodEnum]:  # type: ignore[valid-type]
        return list(self.record.allowed_methods)

    @strawberry.field
    def non_returnable_tags(self) -> list[str]:
        return self.record.non_returnable_tags

    @strawberry.field
    def non_returnable_product_types(self) -> list[str]:
        return self.record.non_returnable_product_types

    @strawberry.field
    def final_sale_tag(self) -> str:
        return self.record.final_sale_tag

    @strawberry.field
    def restocking_fee_percent(self) -> Decimal:
        return self.record.restocking_fee_percent

    @strawberry.field
    def store_credit_bonus_percent(self) -> Decimal:
        return self.record.store_credit_bonus_percent

    @strawberry.field(description="Customers whose return requests are refused (lower case).")
    def blocked_emails(self) -> list[str]:
        return self.record.blocked_emails

    @strawberry.field(description="A dearer exchange's difference the shop absorbs, up to this.")
    def exchange_absorb_limit(self) -> Decimal:
        return self.record.exchange_absorb_limit

    @strawberry.field(
        description="The fixed return shipping fee (shop currency) deducted from refunds and "
        "store credit."
    )
    def return_shipping_fee(self) -> Decimal:
        return self.record.return_shipping_fee

    @strawberry.field(description="Where items received resellable are restocked (a Location GID).")
    def restock_location_id(self) -> str | None:
        return self.record.restock_location_id

    @strawberry.field
    def serial_returner(self) -> SerialReturnerRule:
        rule = self.record.serial_returner
        return SerialReturnerRule(
            enabled=rule.enabled, max_units=rule.max_units, window_days=rule.window_days
        )

    @strawberry.field
    def auto_approve(self) -> AutoApproveRule:
        rule = self.record.auto_approve
        return AutoApproveRule(
            enabled=rule.enabled, max_order_total=rule.max_order_total, reasons=rule.reasons
        )


@strawberry.type
class Tenant(Node):
    record: strawberry.Private[TenantRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("Tenant", self.record.id)

    @strawberry.field(description="The tenant's own id (`X-Tenant-Id`, `rms tenants`).")
    def tenant_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def shop_domain(self) -> str:
        return self.record.shop_domain

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def return_policy(self) -> ReturnPolicy:
        return ReturnPolicy(record=self.record.return_policy)

    @strawberry.field(description="The storefront returns page's branding.")
    def portal_settings(self) -> PortalSettings:
        return PortalSettings(record=self.record.portal_settings)
