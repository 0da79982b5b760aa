"""What resolving a return is worth: refund, store credit or exchange, in exact Decimal.

Rounding: every amount is rounded half up (0.005 -> 0.01) to the minor unit of the return's
currency (yen to the unit, dollars to the cent, dinars to the fils), per returned line and then
summed, the way Shopify computes a return's `suggestedFinancialOutcome` (so that the two agree
to the minor unit before anything is paid):
- line subtotal  = quantity x (unit price - per-unit discount), rounded;
- line fee       = line subtotal x restocking_fee_percent / 100, rounded (no fee on exchanges);
- items total    = sum of line subtotals; restocking fee = sum of line fees;
- shipping fee   = the policy's fixed return shipping fee, rounded (no fee on exchanges);
- refund         = items total - restocking fee - shipping fee (never below zero);
- store credit   = that refund base + bonus, bonus = base x store_credit_bonus_percent / 100,
                   rounded (the base is refunded to store credit, the bonus credited on top).
- exchange       = items total - (exchange price x units - the absorbed part): refunded when
                   positive (a cheaper exchange), owed (`balance_due`) when negative.
Items received with condition MISSING are not refunded.
"""

from __future__ import annotations

from decimal import Decimal

from app.models.money import round_to_minor_unit
from app.models.return_policy import ResolutionType, ReturnPolicy
from app.models.return_request import ItemCondition, ReturnExchange, ReturnItem, ReturnOutcome

HUNDRED = Decimal(100)


def line_subtotal(item: ReturnItem, currency: str) -> Decimal:
    """What one returned line is worth after its discount (0 when it came back MISSING)."""
    if item.condition is ItemCondition.MISSING:
        return round_to_minor_unit(Decimal(0), currency)
    value = Decimal(item.quantity) * (item.unit_price - item.unit_discount)
    return round_to_minor_unit(max(value, Decimal(0)), currency)


def items_total(items: list[ReturnItem], currency: str) -> Decimal:
    return sum(
        (line_subtotal(item, currency) for item in items),
        round_to_minor_unit(Decimal(0), currency),
    )


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    return round_to_minor_unit(amount * percent / HUNDRED, currency)


def compute_outcome(
    resolution_type: ResolutionType,
    items: list[ReturnItem],
    policy: ReturnPolicy,
    *,
    currency: str,
    exchange_variant_id: str | None = None,
    exchange: ReturnExchange | None = None,
    label_fee: Decimal | None = None,
) -> ReturnOutcome:
    """The recorded outcome of resolving a return under `policy`, in the return's `currency`.
    An exchange priced when asked (`exchange`) settles the difference: the items' value less
    what the exchange costs after the absorbed part is refunded when positive, owed when not.
    `label_fee`: a prepaid label the customer pays for, deducted after the fees (never from an
    exchange, like the return shipping fee)."""
    total = items_total(items, currency)
    zero = round_to_minor_unit(Decimal(0), currency)
    if resolution_type is ResolutionType.EXCHANGE:
        net = total - (exchange.total - exchange.absorbed) if exchange is not None else zero
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=zero,
            refund_amount=max(net, zero),
            store_credit_amount=zero,
            exchange_variant_id=exchange_variant_id,
            exchange_total=exchange.total if exchange is not None else zero,
            exchange_discount=exchange.absorbed if exchange is not None else zero,
            balance_due=max(-net, zero),
            restock_location_id=policy.restock_location_id,
            pays_in_shopify=True,
        )
    fee = sum(
        (
            percent_of(line_subtotal(item, currency), policy.restocking_fee_percent, currency)
            for item in items
        ),
        zero,
    )
    shipping = round_to_minor_unit(max(policy.return_shipping_fee, zero), currency)
    label = min(
        round_to_minor_unit(max(label_fee or zero, zero), currency),
        max(total - fee - shipping, zero),
    )
    base = max(total - fee - shipping - label, zero)
    if resolution_type is ResolutionType.STORE_CREDIT:
        bonus = percent_of(base, policy.store_credit_bonus_percent, currency)
        return ReturnOutcome(
            resolution_type=resolution_type,
            currency=currency,
            items_total=total,
            restocking_fee=fee,
            return_shipping_fee=shipping,
            label_fee=label,
            refund_amount=zero,
            store_credit_amount=base + bonus,
            store_credit_bonus=bonus,
            restock_location_id=policy.restock_location_id,
            pays_in_shopify=True,
        )
    return ReturnOutcome(
        resolution_type=resolution_type,
        currency=currency,
        items_total=total,
        restocking_fee=fee,
        return_shipping_fee=shipping,
        label_fee=label,
        refund_amount=base,
        store_credit_amount=zero,
        restock_location_id=policy.restock_location_id,
        pays_in_shopify=True,
    )
