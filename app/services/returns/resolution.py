"""What resolving a return is worth: refund, store credit or exchange, in exact Decimal.

Rounding: every amount is quantized to cents with ROUND_HALF_UP (0.005 -> 0.01), once per amount:
- items total   = sum over items of quantity x (unit price - per-unit discount), rounded;
- restocking fee = items total x restocking_fee_percent / 100, rounded (no fee on exchanges);
- refund        = items total - restocking fee (never below zero);
- store credit  = that refund base + base x store_credit_bonus_percent / 100 (bonus rounded).
Items received with condition MISSING are not refunded. Cents assume a two-decimal currency.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from app.models.return_policy import ResolutionType, ReturnPolicy
from app.models.return_request import ItemCondition, ReturnItem, ReturnOutcome

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def items_total(items: list[ReturnItem]) -> Decimal:
    total = sum(
        (
            Decimal(item.quantity) * (item.unit_price - item.unit_discount)
            for item in items
            if item.condition is not ItemCondition.MISSING
        ),
        Decimal(0),
    )
    return to_cents(max(total, Decimal(0)))


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return to_cents(amount * percent / HUNDRED)


def compute_outcome(
    resolution_type: ResolutionType,
    items: list[ReturnItem],
    policy: ReturnPolicy,
    *,
    currency: str = "USD",
    exchange_variant_id: str | None = None,
) -> ReturnOutcome:
    """The recorded outcome of resolving a return under `policy`."""
    total = items_total(items)
    if resolution_type is ResolutionType.EXCHANGE:
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=ZERO,
            refund_amount=ZERO,
            store_credit_amount=ZERO,
            exchange_variant_id=exchange_variant_id,
        )
    fee = percent_of(total, policy.restocking_fee_percent)
    base = max(total - fee, ZERO)
    if resolution_type is ResolutionType.STORE_CREDIT:
        credit = base + percent_of(base, policy.store_credit_bonus_percent)
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=fee,
            refund_amount=ZERO,
            store_credit_amount=credit,
        )
    return ReturnOutcome(
        resolution_type=resolution_type,
        currency=currency,
        items_total=total,
        restocking_fee=fee,
        refund_amount=base,
        store_credit_amount=ZERO,
    )
