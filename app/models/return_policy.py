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
