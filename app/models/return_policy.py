"""A tenant's return policy, embedded in its `tenants` document."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from beanie import DecimalAnnotation
from pydantic import BaseModel, Field


class ResolutionType(StrEnum):
    REFUND = "refund"
    STORE_CREDIT = "store_credit"
    EXCHANGE = "exchange"


class ReturnMethod(StrEnum):
    CUSTOMER_SHIPS = "customer_ships"
    PREPAID_LABEL = "prepaid_label"
    DROP_OFF = "drop_off"


class WindowStart(StrEnum):
    DELIVERY = "delivery"
    ORDER = "order"


class AutoApproveRule(BaseModel):
    """Approve on request when every condition holds; off by default."""

    enabled: bool = False
    max_order_total: DecimalAnnotation | None = None
    reasons: list[str] = Field(default_factory=list)  # empty: any reason


class SerialReturnerRule(BaseModel):
    """Flag a customer who, with this return, returned more than `max_units` units in the last
    `window_days` days: the return says so and is never approved automatically."""

    enabled: bool = False
    max_units: int = Field(default=10, ge=1, le=100_000)
    window_days: int = Field(default=365, ge=1, le=3650)


class LabelPayer(StrEnum):
    """Who pays for a prepaid return label."""

    MERCHANT = "merchant"
    CUSTOMER = "customer"  # its cost is deducted from the refund or store credit


class LabelTiming(StrEnum):
    """When a prepaid label is bought."""

    ON_APPROVAL = "on_approval"  # as soon as the return is approved
    ON_REQUEST = "on_request"  # when staff or the customer ask for it


class ReturnAddress(BaseModel):
    """Where returned parcels go (the shop's warehouse)."""

    name: str
    company: str | None = None
    street1: str
    street2: str | None = None
    city: str
    province: str | None = None  # state / province code
    zip: str
    country_code: str  # ISO 3166-1 alpha-2
    phone: str | None = None


class CarrierService(BaseModel):
    """A carrier the shop accepts labels from, and optionally one of its services only."""

    carrier: str  # as the carrier API names it: "USPS", "UPS", "FedEx"
    service: str | None = None  # None: any service of that carrier


class ShippingSettings(BaseModel):
    """Prepaid return labels and tracking: the shop's address, the carriers it allows (the
    cheapest allowed rate is bought), who pays, when the label is bought, and whether a parcel
    delivered back receives the return."""

    return_address: ReturnAddress | None = None  # None: no label can be bought
    allowed_services: list[CarrierService] = Field(default_factory=list)  # empty: any
    label_payer: LabelPayer = LabelPayer.MERCHANT
    label_timing: LabelTiming = LabelTiming.ON_APPROVAL
    receive_on_delivery: bool = True
    parcel_weight_oz: DecimalAnnotation = Decimal("16")  # the parcel's declared weight


class ReturnPolicy(BaseModel):
    window_days: int = Field(default=30, ge=0, le=3650)
    window_starts: WindowStart = WindowStart.DELIVERY
    allowed_resolutions: list[ResolutionType] = Field(
        default_factory=lambda: [
            ResolutionType.REFUND,
            ResolutionType.STORE_CREDIT,
            ResolutionType.EXCHANGE,
        ]
    )
    allowed_methods: list[ReturnMethod] = Field(
        default_factory=lambda: [ReturnMethod.CUSTOMER_SHIPS, ReturnMethod.PREPAID_LABEL]
    )
    non_returnable_tags: list[str] = Field(default_factory=list)
    non_returnable_product_types: list[str] = Field(default_factory=list)
    final_sale_tag: str = "final-sale"
    restocking_fee_percent: DecimalAnnotation = Decimal("0")
    store_credit_bonus_percent: DecimalAnnotation = Decimal("0")
    # A dearer exchange's difference the shop absorbs, up to this amount (shop currency); the
    # customer owes the rest.
    exchange_absorb_limit: DecimalAnnotation = Decimal("0")
    # A fixed fee (shop currency) for shipping the goods back, deducted from refunds and store
    # credit (never from exchanges); sent to Shopify as the return's shipping fee.
    return_shipping_fee: DecimalAnnotation = Decimal("0")
    auto_approve: AutoApproveRule = Field(default_factory=AutoApproveRule)
    # Customers (e-mail, lower case) whose return requests are refused at request time.
    blocked_emails: list[str] = Field(default_factory=list)
    serial_returner: SerialReturnerRule = Field(default_factory=SerialReturnerRule)
    # The Shopify location (GID) where items received resellable are restocked when the return
    # is processed; None: Shopify leaves them awaiting a disposition in admin.
    restock_location_id: str | None = None
    # Prepaid labels and tracking (read with the policy: a request knows at once whether its
    # label will be bought, and when).
    shipping: ShippingSettings = Field(default_factory=ShippingSettings)
