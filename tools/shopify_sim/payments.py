"""Order transactions and refunds: what an order was paid with and what went back to it.

Transactions and refunds are dicts in the Admin GraphQL shape (`OrderTransaction`, `Refund`);
`_amount` (a Decimal in the order's currency) and `_number` are internal. Their ids come from
the shop's `payments_rng` stream and which seeded orders are split from a per-order rng, so
the shop's own rng stream, and every other seeded value, is what it was before payments.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .models import JSON, ShopState, gid, iso
from .money import bag_amount, fits_currency, money_bag, parse_amount, quantum

PAID_STATUSES = {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}
REFUNDABLE_KINDS = {"SALE", "CAPTURE"}
TRANSACTION_KINDS = {
    "AUTHORIZATION",
    "CAPTURE",
    "CHANGE",
    "EMV_AUTHORIZATION",
    "REFUND",
    "SALE",
    "SUGGESTED_REFUND",
    "VOID",
}
TRANSACTION_STATUSES = {"AWAITING_RESPONSE", "ERROR", "FAILURE", "PENDING", "SUCCESS", "UNKNOWN"}
GATEWAY_NAMES = {
    "shopify_payments": "Shopify Payments",
    "gift_card": "Gift card",
    "manual": "Manual",
    "bogus": "Bogus",
    "paypal": "PayPal Express Checkout",
    "shopify_store_credit": "Store credit",
}
# the gateway of a REFUND paid to the customer's store credit account (no parent transaction)
STORE_CREDIT_GATEWAY = "shopify_store_credit"
SPLIT_SHARE = 0.15  # paid orders partly paid with a gift card


class PaymentError(ValueError):
    """A control API `payments` list the simulator cannot apply."""


@dataclass(frozen=True)
class Payment:
    gateway: str
    amount: Decimal
    kind: str = "SALE"
    status: str = "SUCCESS"


def formatted_gateway(gateway: str) -> str:
    return GATEWAY_NAMES.get(gateway, gateway.replace("_", " ").title())


def new_transaction(
    shop: ShopState,
    order: JSON,
    *,
    kind: str,
    status: str,
    gateway: str,
    amount: Decimal,
    at: datetime,
    parent: JSON | None = None,
) -> JSON:
    number = shop.next_id("OrderTransaction", rng=shop.payments_rng)
    return {
        "id": gid("OrderTransaction", number),
        "kind": kind,
        "status": status,
        "gateway": gateway,
        "formattedGateway": formatted_gateway(gateway),
        "amountSet": money_bag(amount, order["presentmentCurrencyCode"]),
        "parentTransaction": parent,
        "processedAt": iso(at),
        "createdAt": iso(at),
        "test": bool(order.get("test")),
        "_number": number,
        "_amount": amount,
    }


def seeded_payments(shop: ShopState, order: JSON, total: Decimal) -> list[Payment]:
    """How a seeded (or default control API) order was paid: paid orders by card, about
    `SPLIT_SHARE` of them partly by gift card (a whole number of minor units); authorized
    orders have an authorization; pending and other orders nothing yet."""
    status = order["displayFinancialStatus"]
    if total <= 0:
        return []
    if status == "AUTHORIZED":
        return [Payment("shopify_payments", total, kind="AUTHORIZATION")]
    if status not in PAID_STATUSES:
        return []
    rng = random.Random(f"payments:{shop.seed}:{shop.domain}:{order['_number']}")
    unit = quantum(order["presentmentCurrencyCode"])
    minor_units = int(total / unit)
    if minor_units >= 2 and rng.random() < SPLIT_SHARE:
        gift_card = rng.randint(1, minor_units - 1) * unit
        return [Payment("gift_card", gift_card), Payment("shopify_payments", total - gift_card)]
    return [Payment("shopify_payments", total)]


def requested_payments(
    specs: Any, total: Decimal, currency: str, financial_status: str
) -> list[Payment]:
    """The control API's `payments: [{gateway, amount, kind?, status?}]`; the last may omit
    `amount` (the rest of the total). They must add up to the order's total exactly."""
    if not isinstance(specs, list) or not specs:
        raise PaymentError("payments must be a non-empty list")
    default_kind = "AUTHORIZATION" if financial_status == "AUTHORIZED" else "SALE"
    payments: list[Payment] = []
    paid = Decimal(0)
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise PaymentError(f"payments[{index}] must be an object")
        kind = str(spec.get("kind") or default_kind).upper()
        status = str(spec.get("status") or "SUCCESS").upper()
        if kind not in TRANSACTION_KINDS - {"REFUND", "SUGGESTED_REFUND", "VOID", "CHANGE"}:
            raise PaymentError(f"payments[{index}].kind {kind!r} is not a payment")
        if status not in TRANSACTION_STATUSES:
            raise PaymentError(f"payments[{index}].status {status!r} is unknown")
        if spec.get("amount") is None:
            if index != len(specs) - 1:
                raise PaymentError("only the last payment may omit its amount")
            amount = total - paid
        else:
            parsed = parse_amount(spec["amount"])
            if parsed is None or not fits_currency(parsed, currency):
                raise PaymentError(
                    f"payments[{index}].amount must be an amount of {currency}"
                    f" with at most its minor-unit digits"
                )
            amount = parsed
        if amount <= 0:
            raise PaymentError(f"payments[{index}] must pay more than 0 (total {total})")
        paid += amount
        payments.append(
            Payment(str(spec.get("gateway") or "shopify_payments"), amount, kind, status)
        )
    if paid != total:
        raise PaymentError(f"payments add up to {paid}; the order's total price is {total}")
    return payments


def add_payments(shop: ShopState, order: JSON, payments: list[Payment], at: datetime) -> None:
    for payment in payments:
        order["_transactions"].append(
            new_transaction(
                shop,
                order,
                kind=payment.kind,
                status=payment.status,
                gateway=payment.gateway,
                amount=payment.amount,
                at=at,
            )
        )


def refunded_from(order: JSON, parent: JSON) -> Decimal:
    """What successful refunds already gave back from `parent`."""
    return sum(
        (
            transaction["_amount"]
            for transaction in order["_transactions"]
            if transaction["kind"] == "REFUND"
            and transaction["status"] == "SUCCESS"
            and transaction["parentTransaction"] is parent
        ),
        Decimal(0),
    )


def refundable(order: JSON, transaction: JSON) -> Decimal:
    return Decimal(transaction["_amount"]) - refunded_from(order, transaction)


def order_refundable(order: JSON) -> Decimal:
    """What the order's payments can still give back: successful SALE/CAPTURE amounts less every
    successful REFUND (those to store credit, which have no parent, included)."""
    taken = Decimal(0)
    given = Decimal(0)
    for transaction in order["_transactions"]:
        if transaction["status"] != "SUCCESS":
            continue
        if transaction["kind"] in REFUNDABLE_KINDS:
            taken += transaction["_amount"]
        elif transaction["kind"] == "REFUND":
            given += transaction["_amount"]
    return max(taken - given, Decimal(0))


def add_refund(
    shop: ShopState,
    order: JSON,
    shares: list[tuple[JSON, Decimal]],
    *,
    at: datetime,
    note: str | None = None,
    return_record: JSON | None = None,
    store_credits: Sequence[Decimal] = (),
) -> JSON:
    """A Refund paying `shares` (parent transaction, amount) back, one REFUND transaction each,
    then one parentless REFUND on the `shopify_store_credit` gateway per `store_credits` amount,
    recorded on the order (and the return). The order's totals are the caller's to update, and
    crediting the store credit account the caller's too."""
    currency = order["presentmentCurrencyCode"]
    total = sum((amount for _parent, amount in shares), Decimal(0)) + sum(store_credits, Decimal(0))
    number = shop.next_id("Refund", rng=shop.payments_rng)
    refund: JSON = {
        "id": gid("Refund", number),
        "createdAt": iso(at),
        "note": note,
        "totalRefundedSet": money_bag(total, currency),
        "order": order,
        "return": return_record,
        "_number": number,
        "_amount": total,
        "_transactions": [],
    }
    for parent, amount in shares:
        transaction = new_transaction(
            shop,
            order,
            kind="REFUND",
            status="SUCCESS",
            gateway=parent["gateway"],
            amount=amount,
            at=at,
            parent=parent,
        )
        refund["_transactions"].append(transaction)
        order["_transactions"].append(transaction)
    for amount in store_credits:
        transaction = new_transaction(
            shop,
            order,
            kind="REFUND",
            status="SUCCESS",
            gateway=STORE_CREDIT_GATEWAY,
            amount=amount,
            at=at,
        )
        refund["_transactions"].append(transaction)
        order["_transactions"].append(transaction)
    order["_refunds"].append(refund)
    if return_record is not None:
        return_record.setdefault("_refunds", []).append(refund)
    return refund


def refund_all(shop: ShopState, order: JSON, at: datetime) -> None:
    """A seeded REFUNDED order: every payment was given back in one refund."""
    shares = [
        (transaction, transaction["_amount"])
        for transaction in order["_transactions"]
        if transaction["kind"] in REFUNDABLE_KINDS and transaction["status"] == "SUCCESS"
    ]
    if shares:
        add_refund(shop, order, shares, at=at)


def apply_refund_to_order(order: JSON, refund: JSON) -> None:
    """The order's refunded total and financial status after `refund`."""
    currency = order["presentmentCurrencyCode"]
    refunded = bag_amount(order["totalRefundedSet"]) + refund["_amount"]
    order["totalRefundedSet"] = money_bag(refunded, currency)
    if refund["_amount"] > 0:
        paid = bag_amount(order["totalPriceSet"])
        order["displayFinancialStatus"] = "REFUNDED" if refunded >= paid else "PARTIALLY_REFUNDED"


def public_transaction(transaction: JSON) -> JSON:
    """A transaction as the control API shows it (the parent by id)."""
    shown = {key: value for key, value in transaction.items() if not key.startswith("_")}
    parent = transaction["parentTransaction"]
    shown["parentTransaction"] = None if parent is None else {"id": parent["id"]}
    return shown


def public_refund(refund: JSON) -> JSON:
    record = refund["return"]
    return {
        "id": refund["id"],
        "createdAt": refund["createdAt"],
        "note": refund["note"],
        "totalRefundedSet": refund["totalRefundedSet"],
        "orderId": refund["order"]["id"],
        "return": None if record is None else {"id": record["id"]},
        "transactions": [public_transaction(t) for t in refund["_transactions"]],
    }
