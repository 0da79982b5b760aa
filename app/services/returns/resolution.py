"""What resolving a return is worth: refund, store credit or exchange, in exact Decimal.

Rounding: every amount is rounded half up (0.005 -> 0.01) to the minor unit of the return's
currency (yen to the unit, dollars to the cent, dinars to the fils), once per amount:
- items total   = sum over items of quantity x (unit price - per-unit discount), rounded;
- restocking fee = items total x restocking_fee_percent / 100, rounded (no fee on exchanges);
- refund        = items total - restocking fee (never below zero);
- store credit  = that refund base + base x store_credit_bonus_percent / 100 (bonus rounded).
Items received with condition MISSING are not refunded.
"""

from __future__ import annotations

from decimal import Decimal

from app.models.money import round_to_minor_unit
from app.models.return_policy import ResolutionType, ReturnPolicy
from app.models.return_request import ItemCondition, ReturnItem, ReturnOutcome

HUNDRED = Decimal(100)


def items_total(items: list[ReturnItem], currency: str) -> Decimal:
    total = sum(
        (
            Decimal(item.quantity) * (item.unit_price - item.unit_discount)
            for item in items
            if item.condition is not ItemCondition.MISSING
        ),
        Decimal(0),
    )
    return round_to_minor_unit(max(total, Decimal(0)), currency)


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    return round_to_minor_unit(amount * percent / HUNDRED, currency)


def compute_outcome(
    resolution_type: ResolutionType,
    items: list[ReturnItem],
    policy: ReturnPolicy,
    *,
    currency: str,
    exchange_variant_id: str | None = None,
) -> ReturnOutcome:
    """The recorded outcome of resolving a return under `policy`, in the return's `currency`."""
    total = items_total(items, currency)
    zero = round_to_minor_unit(Decimal(0), currency)
    if resolution_type is ResolutionType.EXCHANGE:
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=zero,
            refund_amount=zero,
            store_credit_amount=zero,
            exchange_variant_id=exchange_variant_id,
        )
    fee = percent_of(total, policy.restocking_fee_percent, currency)
    base = max(total - fee, zero)
    if resolution_type is ResolutionType.STORE_CREDIT:
        credit = base + percent_of(base, policy.store_credit_bonus_percent, currency)
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=fee,
            refund_amount=zero,
            store_credit_amount=credit,
        )
    return ReturnOutcome(
        resolution_type=resolution_type,
        currency=currency,
        items_total=total,
        restocking_fee=fee,
        refund_amount=base,
        store_credit_amount=zero,
    )
