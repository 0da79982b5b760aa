"""Portal-safe types: the caller's own order, its items, eligibility and returns; nothing else."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.money import CurrencyCodeEnum, MoneyV2, currency_code_value, money_v2
from app.graphql.core.node import argument_id
from app.graphql.returns.enums import (
    ReturnIneligibilityEnum,
    ReturnReasonEnum,
    ReturnStatusEnum,
)
from app.graphql.returns.errors import ReturnUserError
from app.graphql.returns.types import ReturnItem
from app.graphql.shipping.types import ShipmentStatusEnum
from app.graphql.tenant.types import ResolutionTypeEnum, ReturnMethodEnum
from app.models import Return as ReturnRecord
from app.models.return_request import ReturnShipment as ReturnShipmentRecord
from app.services.notifications.customer_label import tracked, usable_label, web_url
from app.services.portal.status_links import status_token
from app.services.returns.create import RequestedItem, ReturnRequest
from app.services.returns.policy import LineEligibility
from app.services.returns.portal import PortalLookup


@strawberry.type(description="One step of a return, as its customer sees it.")
class PortalTimelineEntry:
    status: ReturnStatusEnum  # type: ignore[valid-type]
    at: datetime


@strawberry.type(description="A tracking status of the return parcel, as its customer sees it.")
class PortalTrackingUpdate:
    status: ShipmentStatusEnum  # type: ignore[valid-type]
    at: datetime = strawberry.field(description="The carrier's time of the update.")


@strawberry.type(
    description="The return parcel's prepaid label and its journey, as its customer sees it "
    "(no cost, no carrier error, no ids). AWAITING_REQUEST, LABEL_PENDING and LABEL_FAILED: "
    "the label is being prepared. The label's addresses are null once it is voided (or being "
    "voided)."
)
class PortalShipment:
    status: ShipmentStatusEnum  # type: ignore[valid-type]
    carrier: str | None
    service: str | None
    tracking_number: str | None
    tracking_url: str | None = strawberry.field(description="The carrier's public tracking page.")
    label_url: str | None = strawberry.field(
        description="The label to print (PDF), on the carrier's host."
    )
    qr_code_url: str | None = strawberry.field(
        description="A QR code (PNG, on the carrier's host) shown at the carrier's counter: a "
        "box-free drop-off's (DROP_OFF), or one to have the label printed there."
    )
    tracking: list[PortalTrackingUpdate] = strawberry.field(
        description="Tracking so far, oldest first."
    )

    @classmethod
    def of(cls, record: ReturnShipmentRecord) -> PortalShipment:
        """What the customer may see of `record`: the label while it can be used, tracking
        once bought, web addresses only."""
        label = usable_label(record)
        moving = tracked(record)
        return cls(
            status=record.status,
            carrier=record.carrier,
            service=record.service,
            tracking_number=moving.tracking_number if moving else None,
            tracking_url=web_url(moving.tracking_url) if moving else None,
            label_url=web_url(label.label_url) if label else None,
            qr_code_url=web_url(label.qr_code_url) if label else None,
            tracking=[PortalTrackingUpdate(status=u.status, at=u.at) for u in record.tracking],
        )


@strawberry.type(name="PortalReturn", description="A return as its customer sees it.")
class PortalReturn:
    record: strawberry.Private[ReturnRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.record.id))

    @strawberry.field
    def order_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.order_id)

    @strawberry.field
    def order_number(self) -> str:
        return self.record.order_number

    @strawberry.field(description="What to quote to the shop, e.g. `R1001-5C1A2B`.")
    def reference(self) -> str:
        return self.record.reference

    @strawberry.field
    def status(self) -> ReturnStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field(
        description="The token of the return's status page (`returnStatus`), a signed link "
        "that needs no sign-in: only its customer is given it."
    )
    def status_token(self, info: Info) -> str:
        secret = info.context.settings.shopify_api_secret
        return status_token(secret, self.record.tenant_id, str(self.record.id))

    @strawberry.field(description="Each change of status, oldest first (no staff notes).")
    def timeline(self) -> list[PortalTimelineEntry]:
        return [
            PortalTimelineEntry(status=change.to_status, at=change.at)
            for change in self.record.history
        ]

    @strawberry.field
    def items(self) -> list[ReturnItem]:
        return [
            ReturnItem(record=item, currency=self.record.currency, tenant_id=self.record.tenant_id)
            for item in self.record.items
        ]

    @strawberry.field
    def return_method(self) -> ReturnMethodEnum:  # type: ignore[valid-type]
        return self.record.return_method

    @strawberry.field
    def resolution_type(self) -> ResolutionTypeEnum:  # type: ignore[valid-type]
        return self.record.resolution_type

    @strawberry.field
    def exchange_variant_id(self) -> str | None:
        return self.record.exchange_variant_id

    @strawberry.field(
        description="The parcel's prepaid label and tracking (PREPAID_LABEL and DROP_OFF "
        "returns); null for other methods."
    )
    def shipment(self) -> PortalShipment | None:
        found = self.record.shipment
        return PortalShipment.of(found) if found else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at


@strawberry.type
class PortalLineItem:
    record: strawberry.Private[LineEligibility]
    currency: strawberry.Private[str]  # the order's

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.line.id)

    @strawberry.field
    def title(self) -> str:
        return self.record.line.title

    @strawberry.field
    def variant_id(self) -> str | None:
        return self.record.line.variant_id

    @strawberry.field
    def variant_title(self) -> str | None:
        return self.record.line.variant_title

    @strawberry.field
    def sku(self) -> str | None:
        return self.record.line.sku

    @strawberry.field
    def quantity(self) -> int:
        return self.record.line.quantity

    @strawberry.field
    def fulfilled_quantity(self) -> int:
        return self.record.line.fulfilled_quantity

    @strawberry.field(description="Fulfilled units minus units in returns not declined/canceled.")
    def returnable_quantity(self) -> int:
        return self.record.returnable_quantity

    @strawberry.field
    def price(self) -> MoneyV2:
        return money_v2(self.record.line.price, self.currency)

    @strawberry.field
    def eligible(self) -> bool:
        return self.record.eligible

    @strawberry.field
    def ineligible_reason(self) -> ReturnIneligibilityEnum | None:  # type: ignore[valid-type]
        return self.record.ineligible_reason


@strawberry.type(description="The customer's order with what can be returned and why not.")
class PortalOrder:
    record: strawberry.Private[PortalLookup]

    @strawberry.field(description="The order's Shopify id (pass it to createReturn).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.eligibility.order.shopify_id)

    @strawberry.field
    def order_number(self) -> str:
        return self.record.eligibility.order.order_number

    @strawberry.field
    def name(self) -> str:
        return self.record.eligibility.order.name

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.eligibility.order.created_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.record.eligibility.order.delivered_at

    @strawberry.field
    def financial_status(self) -> str | None:
        return self.record.eligibility.order.financial_status

    @strawberry.field
    def fulfillment_status(self) -> str | None:
        return self.record.eligibility.order.fulfillment_status

    @strawberry.field(deprecation_reason="Use `currencyCode`.")
    def currency(self) -> str:
        return self.record.eligibility.order.currency

    @strawberry.field
    def currency_code(self) -> CurrencyCodeEnum:  # type: ignore[valid-type]
        return currency_code_value(self.record.eligibility.order.currency)

    @strawberry.field
    def total_price(self) -> MoneyV2:
        order = self.record.eligibility.order
        return money_v2(order.total_price, order.currency)

    @strawberry.field
    def eligible(self) -> bool:
        return self.record.eligibility.eligible

    @strawberry.field
    def ineligible_reason(self) -> ReturnIneligibilityEnum | None:  # type: ignore[valid-type]
        return self.record.eligibility.ineligible_reason

    @strawberry.field(description="Returns are accepted until this instant (exclusive).")
    def return_window_ends_at(self) -> datetime:
        return self.record.eligibility.window_ends_at

    @strawberry.field
    def line_items(self) -> list[PortalLineItem]:
        currency = self.record.eligibility.order.currency
        return [
            PortalLineItem(record=line, currency=currency) for line in self.record.eligibility.lines
        ]

    @strawberry.field
    def allowed_resolutions(self) -> list[ResolutionTypeEnum]:  # type: ignore[valid-type]
        return list(self.record.policy.allowed_resolutions)

    @strawberry.field
    def allowed_methods(self) -> list[ReturnMethodEnum]:  # type: ignore[valid-type]
        return list(self.record.policy.allowed_methods)

    @strawberry.field(
        description="Store credit's bonus on top of the refundable amount (10 = 10%)."
    )
    def store_credit_bonus_percent(self) -> Decimal:
        return self.record.policy.store_credit_bonus_percent

    @strawberry.field(description="Returns already requested for this order (one extra query).")
    async def returns(self, info: Info) -> list[PortalReturn]:
        order = self.record.eligibility.order
        records = await info.context.loaders.returns_by_order.load(order.shopify_id)
        return [PortalReturn(record=r) for r in records if r.tenant_id == order.tenant_id]


@strawberry.input
class CreateReturnItemInput:
    line_item_id: strawberry.ID
    quantity: int
    reason: ReturnReasonEnum  # type: ignore[valid-type]
    note: str | None = None
    photo_tokens: list[str] | None = strawberry.field(
        default=None,
        description="Up to 3 photos of the item, as uploaded to the portal's photos address "
        "(POST the image; the answer's `token`).",
    )

    def to_service(self) -> RequestedItem:
        return RequestedItem(
            line_item_id=str(self.line_item_id),
            quantity=self.quantity,
            reason=self.reason,
            note=self.note,
            photo_tokens=tuple(self.photo_tokens or ()),
        )


@strawberry.input
class CreateReturnInput:
    order_id: strawberry.ID = strawberry.field(description="Shopify id or GID of the order.")
    customer_email: str | None = strawberry.field(
        default=None,
        description="The order's email (required, except for a customer signed in to the "
        "shop's storefront, whose order it must be).",
    )
    return_method: ReturnMethodEnum  # type: ignore[valid-type]
    items: list[CreateReturnItemInput]
    resolution_type: ResolutionTypeEnum  # type: ignore[valid-type]
    exchange_variant_id: strawberry.ID | None = None
    request_id: str | None = strawberry.field(
        default=None,
        description="The client's own id of this request (a UUID), the same when it is sent "
        "again: a retry after a lost answer gets the return the first attempt created.",
    )

    def to_service(self, customer_email: str) -> ReturnRequest:
        return ReturnRequest(
            order_id=argument_id(self.order_id, "Order"),
            customer_email=customer_email,
            return_method=self.return_method,
            resolution_type=self.resolution_type,
            items=[item.to_service() for item in self.items],
            exchange_variant_id=str(self.exchange_variant_id) if self.exchange_variant_id else None,
            request_id=(self.request_id or "").strip()[:64] or None,
        )


@strawberry.type
class CreateReturnPayload:
    return_: PortalReturn | None = strawberry.field(name="return")
    user_errors: list[ReturnUserError]
