"""Return query and mutation inputs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.graphql.core.node import argument_id
from app.graphql.portal.types import CreateReturnItemInput
from app.graphql.returns.enums import ItemConditionEnum, ReturnReasonEnum, ReturnStatusEnum
from app.graphql.shipping.types import ShippingSettingsInput
from app.graphql.tenant.types import ResolutionTypeEnum, ReturnMethodEnum, WindowStartEnum
from app.services.returns.create import ReturnRequest
from app.services.returns.policy_update import AutoApproveChange, PolicyChange, SerialReturnerChange
from app.services.returns.queries import ReturnFilter
from app.services.returns.transitions import ItemReceipt


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


@strawberry.input
class ReturnItemReceiptInput:
    line_item_id: strawberry.ID
    condition: ItemConditionEnum  # type: ignore[valid-type]
    restock: bool | None = strawberry.field(
        default=None, description="Default: restock items that come back NEW or OPENED."
    )

    def to_service(self) -> ItemReceipt:
        return ItemReceipt(
            line_item_id=str(self.line_item_id), condition=self.condition, restock=self.restock
        )


@strawberry.input
class AutoApproveRuleInput:
    enabled: bool
    max_order_total: Decimal | None = None
    reasons: list[ReturnReasonEnum] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="Empty: any reason."
    )


@strawberry.input
class SerialReturnerRuleInput:
    enabled: bool
    max_units: int = 10
    window_days: int = 365


@strawberry.input(description="Settings left out (null) stay as they are.")
class UpdateReturnPolicyInput:
    window_days: int | None = None
    window_starts: WindowStartEnum | None = None  # type: ignore[valid-type]
    allowed_resolutions: list[ResolutionTypeEnum] | None = None  # type: ignore[valid-type]
    allowed_methods: list[ReturnMethodEnum] | None = None  # type: ignore[valid-type]
    non_returnable_tags: list[str] | None = None
    non_returnable_product_types: list[str] | None = None
    final_sale_tag: str | None = None
    restocking_fee_percent: Decimal | None = None
    store_credit_bonus_percent: Decimal | None = None
    auto_approve: AutoApproveRuleInput | None = None
    blocked_emails: list[str] | None = strawberry.field(
        default=None, description="Replaces the list; customers whose requests are refused."
    )
    serial_returner: SerialReturnerRuleInput | None = None
    restock_location_id: str | None = strawberry.field(
        default=None,
        description="The Shopify location where items received resellable are restocked when "
        'the return is processed (`gid://shopify/Location/123`); `""` clears it (Shopify then '
        "leaves them awaiting a disposition).",
    )

    exchange_absorb_limit: Decimal | None = strawberry.field(
        default=None,
        description="A dearer exchange's price difference the shop absorbs, up to this amount in "
        "the shop's currency (sent to Shopify as the exchange's discount); the customer owes the "
        "rest.",
    )

    return_shipping_fee: Decimal | None = strawberry.field(
        default=None,
        description="A fixed fee for shipping the goods back, in the shop's currency, deducted "
        "from refunds and store credit (never from exchanges) of returns requested from now on; "
        "sent to Shopify as the return's shipping fee.",
    )

    shipping: ShippingSettingsInput | None = strawberry.field(
        default=None,
        description="Prepaid labels and tracking: replaces the shipping settings as a whole.",
    )

    def to_service(self) -> PolicyChange:
        rule = self.auto_approve
        serial = self.serial_returner
        return PolicyChange(
            window_days=self.window_days,
            window_starts=self.window_starts,
            allowed_resolutions=self.allowed_resolutions,
            allowed_methods=self.allowed_methods,
            non_returnable_tags=self.non_returnable_tags,
            non_returnable_product_types=self.non_returnable_product_types,
            final_sale_tag=self.final_sale_tag,
            restocking_fee_percent=self.restocking_fee_percent,
            store_credit_bonus_percent=self.store_credit_bonus_percent,
            auto_approve=(
                AutoApproveChange(
                    enabled=rule.enabled,
                    max_order_total=rule.max_order_total,
                    reasons=list(rule.reasons),
                )
                if rule is not None
                else None
            ),
            blocked_emails=self.blocked_emails,
            serial_returner=(
                SerialReturnerChange(
                    enabled=serial.enabled,
                    max_units=serial.max_units,
                    window_days=serial.window_days,
                )
                if serial is not None
                else None
            ),
            restock_location_id=self.restock_location_id,
            exchange_absorb_limit=self.exchange_absorb_limit,
            return_shipping_fee=self.return_shipping_fee,
            shipping=self.shipping.to_record() if self.shipping is not None else None,
        )


@strawberry.input(description="A return staff create for the order's customer.")
class CreateReturnForOrderInput:
    order_id: strawberry.ID = strawberry.field(description="Shopify id or GID of the order.")
    return_method: ReturnMethodEnum  # type: ignore[valid-type]
    items: list[CreateReturnItemInput]
    resolution_type: ResolutionTypeEnum  # type: ignore[valid-type]
    exchange_variant_id: strawberry.ID | None = None
    policy_exception: str | None = strawberry.field(
        default=None,
        description="Why the shop's return policy (window, final sale, non-returnable items, "
        "offered methods and resolutions) is set aside; recorded in the history. Needed only "
        "when the policy would refuse the return.",
    )

    def to_service(self) -> ReturnRequest:
        return ReturnRequest(
            order_id=argument_id(self.order_id, "Order"),
            customer_email="",  # the order's, filled in by the service
            return_method=self.return_method,
            resolution_type=self.resolution_type,
            items=[item.to_service() for item in self.items],
            exchange_variant_id=str(self.exchange_variant_id) if self.exchange_variant_id else None,
        )
