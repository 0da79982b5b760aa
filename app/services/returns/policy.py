"""Return eligibility under a tenant's policy: the window, final sale, non-returnable items.

The window is counted in whole UTC days: an order delivered (or placed, per `window_starts`) on
day D with a 30-day window can be returned through the end of day D+30 (the last day is in), and
not from day D+31 on. Without a delivery date the fulfillment date, then the order date, is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from app.models import Order
from app.models.order import LineItem
from app.models.return_policy import ReturnPolicy, WindowStart


class Ineligibility(StrEnum):
    """Why an order or line item cannot be returned now (first reason that applies)."""

    ORDER_CANCELED = "ORDER_CANCELED"
    NOT_FULFILLED = "NOT_FULFILLED"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    FINAL_SALE = "FINAL_SALE"
    NON_RETURNABLE_TAG = "NON_RETURNABLE_TAG"
    NON_RETURNABLE_PRODUCT_TYPE = "NON_RETURNABLE_PRODUCT_TYPE"
    ALREADY_RETURNED = "ALREADY_RETURNED"
    NO_RETURNABLE_ITEMS = "NO_RETURNABLE_ITEMS"


@dataclass(frozen=True, slots=True)
class LineEligibility:
    line: LineItem
    returnable_quantity: int  # fulfilled units minus units in active returns
    ineligible_reason: Ineligibility | None

    @property
    def eligible(self) -> bool:
        return self.ineligible_reason is None


@dataclass(frozen=True, slots=True)
class OrderEligibility:
    order: Order
    window_ends_at: datetime  # exclusive: start of the first day out
    ineligible_reason: Ineligibility | None
    lines: list[LineEligibility]

    @property
    def eligible(self) -> bool:
        return self.ineligible_reason is None

    def line(self, line_item_id: str) -> LineEligibility | None:
        return next((item for item in self.lines if item.line.id == line_item_id), None)


def window_start(order: Order, policy: ReturnPolicy) -> datetime:
    if policy.window_starts is WindowStart.DELIVERY:
        return order.delivered_at or order.fulfilled_at or order.created_at
    return order.created_at


def window_ends_at(order: Order, policy: ReturnPolicy) -> datetime:
    """Start of the first UTC day on which a return is no longer accepted."""
    start_day = window_start(order, policy).astimezone(UTC).date()
    first_day_out = start_day + timedelta(days=policy.window_days + 1)
    return datetime.combine(first_day_out, time.min, tzinfo=UTC)


def _lower(values: list[str]) -> set[str]:
    return {value.strip().lower() for value in values if value.strip()}


def _line_block(order: Order, line: LineItem, policy: ReturnPolicy) -> Ineligibility | None:
    tags = _lower(line.product_tags) | _lower(order.tags)
    final_sale = policy.final_sale_tag.strip().lower()
    if final_sale and final_sale in tags:
        return Ineligibility.FINAL_SALE
    if tags & _lower(policy.non_returnable_tags):
        return Ineligibility.NON_RETURNABLE_TAG
    product_type = (line.product_type or "").strip().lower()
    if product_type and product_type in _lower(policy.non_returnable_product_types):
        return Ineligibility.NON_RETURNABLE_PRODUCT_TYPE
    return None


def evaluate_order(
    order: Order, policy: ReturnPolicy, reserved: Mapping[str, int], now: datetime
) -> OrderEligibility:
    """Eligibility of the order and each line; `reserved` = units held by active returns."""
    ends_at = window_ends_at(order, policy)
    order_block: Ineligibility | None = None
    if order.cancelled_at is not None:
        order_block = Ineligibility.ORDER_CANCELED
    elif not any(line.fulfilled_quantity > 0 for line in order.line_items):
        order_block = Ineligibility.NOT_FULFILLED
    elif now >= ends_at:
        order_block = Ineligibility.OUTSIDE_WINDOW
    lines: list[LineEligibility] = []
    for line in order.line_items:
        returnable = max(0, line.fulfilled_quantity - reserved.get(line.id, 0))
        reason = order_block
        if reason is None and line.fulfilled_quantity <= 0:
            reason = Ineligibility.NOT_FULFILLED
        if reason is None:
            reason = _line_block(order, line, policy)
        if reason is None and returnable == 0:
            reason = Ineligibility.ALREADY_RETURNED
        lines.append(LineEligibility(line, returnable, reason))
    if order_block is None and not any(item.eligible for item in lines):
        order_block = Ineligibility.NO_RETURNABLE_ITEMS
    return OrderEligibility(order, ends_at, order_block, lines)
