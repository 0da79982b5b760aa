"""How a return's refund is spread over the payments of its order.

Shopify refunds to the original payment through the order's successful `SALE`/`CAPTURE`
transactions (the parents); an order can be paid by several (a gift card and a card). Rules:

- Each parent gives back at most what it took, less what earlier refunds already gave back
  through it (its REFUND transactions): never more per transaction than it captured.
- Order: every other gateway before gift cards, then oldest first. The customer gets money back
  where they paid money; the gift card takes only what the other payments cannot.
- Amounts are exact in the order's presentment currency (Shopify refunds in the currency the
  customer paid): a return whose amounts are in another currency is refused, never converted.

Pure functions over Shopify's transaction shapes, so that the mirror, its tests and a planner
agree on one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.models.money import minor_unit, round_to_minor_unit
from app.services.shopify_values import presentment

PARENT_KINDS = frozenset({"SALE", "CAPTURE"})
GIFT_CARD_GATEWAY = "gift_card"
STORE_CREDIT_GATEWAY = "shopify_store_credit"  # a refund to store credit (no parent payment)


class RefundNotPossible(Exception):
    """The order's payments cannot carry this refund (currency, or not enough left to refund)."""


@dataclass(frozen=True, slots=True)
class Payment:
    """A parent transaction and what it can still give back."""

    transaction_id: str  # Shopify GID
    gateway: str
    refundable: Decimal


@dataclass(frozen=True, slots=True)
class RefundShare:
    transaction_id: str
    gateway: str
    amount: Decimal


def refundable_payments(transactions: list[dict[str, Any]], currency: str) -> list[Payment]:
    """The order's parent transactions with what each can still refund, in refund order.
    `transactions`: Shopify's `Order.transactions` (id, kind, status, gateway, createdAt,
    amountSet.presentmentMoney, parentTransaction.id)."""
    refunded: dict[str, Decimal] = {}
    for transaction in transactions:
        if transaction.get("kind") == "REFUND" and transaction.get("status") == "SUCCESS":
            parent = (transaction.get("parentTransaction") or {}).get("id")
            if parent:
                refunded[parent] = (
                    refunded.get(parent, Decimal(0)) + presentment(transaction, "amountSet")[0]
                )
    payments: list[tuple[bool, str, int, Payment]] = []
    for index, transaction in enumerate(transactions):
        if transaction.get("kind") not in PARENT_KINDS or transaction.get("status") != "SUCCESS":
            continue
        amount, paid_in = presentment(transaction, "amountSet")
        if paid_in != currency:
            raise RefundNotPossible(
                f"the order was paid in {paid_in}; the return's amounts are in {currency}"
            )
        left = amount - refunded.get(str(transaction["id"]), Decimal(0))
        if left <= 0:
            continue
        gateway = str(transaction.get("gateway") or "")
        payment = Payment(str(transaction["id"]), gateway, left)
        payments.append(
            (gateway == GIFT_CARD_GATEWAY, str(transaction.get("createdAt") or ""), index, payment)
        )
    payments.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in payments]


def allocate_refund(amount: Decimal, currency: str, payments: list[Payment]) -> list[RefundShare]:
    """`amount` spread over `payments` in their order, each share exact in `currency`'s minor
    unit. `RefundNotPossible` when they cannot carry it all."""
    if round_to_minor_unit(amount, currency) != amount or amount <= 0:
        raise RefundNotPossible(
            f"{amount} {currency} is not a positive amount in {minor_unit(currency)} decimals"
        )
    available = sum((payment.refundable for payment in payments), Decimal(0))
    if available < amount:
        raise RefundNotPossible(
            f"the order's payments can refund at most {available} {currency};"
            f" the return's refund is {amount} {currency}"
        )
    shares: list[RefundShare] = []
    left = amount
    for payment in payments:
        if left <= 0:
            break
        take = min(left, payment.refundable)
        shares.append(RefundShare(payment.transaction_id, payment.gateway, take))
        left -= take
    return shares


def money_input(amount: Decimal, currency: str) -> dict[str, str]:
    """Shopify's `MoneyInput`: the amount written out in the currency's minor unit."""
    return {"amount": f"{amount:.{minor_unit(currency)}f}", "currencyCode": currency}


def financial_transfer(shares: list[RefundShare], currency: str) -> dict[str, Any]:
    """`returnProcess`'s `financialTransfer` paying `shares` to the original payments."""
    return {
        "issueRefund": {
            "orderTransactions": [
                {
                    "transactionId": share.transaction_id,
                    "transactionAmount": money_input(share.amount, currency),
                }
                for share in shares
            ],
            "allowOverRefunding": False,
        }
    }


def store_credit_transfer(amount: Decimal, currency: str) -> dict[str, Any]:
    """`returnProcess`'s `financialTransfer` refunding `amount` to the customer's store credit
    (Shopify's `storeCreditRefund` refund method) instead of the original payments."""
    return {
        "issueRefund": {
            "orderTransactions": [],
            "refundMethods": [{"storeCreditRefund": {"amount": money_input(amount, currency)}}],
            "allowOverRefunding": False,
        }
    }
