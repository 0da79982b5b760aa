"""Spreading a refund over the order's payments: never more per payment than it took, money
back where money was paid before gift cards, exact in the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.services.returns.refund_allocation import (
    RefundNotPossible,
    allocate_refund,
    financial_transfer,
    refundable_payments,
)


def _transaction(
    number: int,
    amount: str,
    *,
    currency: str = "USD",
    kind: str = "SALE",
    status: str = "SUCCESS",
    gateway: str = "shopify_payments",
    parent: int | None = None,
) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/OrderTransaction/{number}",
        "kind": kind,
        "status": status,
        "gateway": gateway,
        "createdAt": f"2026-11-0{number}T10:00:00Z",
        "amountSet": {"presentmentMoney": {"amount": amount, "currencyCode": currency}},
        "parentTransaction": (
            {"id": f"gid://shopify/OrderTransaction/{parent}"} if parent is not None else None
        ),
    }


def test_the_card_is_refunded_before_the_gift_card_and_each_at_most_what_it_took() -> None:
    transactions = [
        _transaction(1, "60.00", gateway="gift_card"),
        _transaction(2, "40.00"),
    ]
    payments = refundable_payments(transactions, "USD")
    shares = allocate_refund(Decimal("55.50"), "USD", payments)
    assert [(s.gateway, s.amount) for s in shares] == [
        ("shopify_payments", Decimal("40.00")),
        ("gift_card", Decimal("15.50")),
    ]


def test_earlier_refunds_are_taken_off_their_payment() -> None:
    transactions = [
        _transaction(1, "40.00"),
        _transaction(2, "60.00", gateway="gift_card"),
        _transaction(3, "30.00", kind="REFUND", parent=1),
        _transaction(4, "5.00", kind="REFUND", status="FAILURE", parent=1),
    ]
    payments = refundable_payments(transactions, "USD")
    assert [(p.gateway, p.refundable) for p in payments] == [
        ("shopify_payments", Decimal("10.00")),
        ("gift_card", Decimal("60.00")),
    ]


def test_failed_authorizations_and_fully_refunded_payments_carry_nothing() -> None:
    transactions = [
        _transaction(1, "20.00", status="FAILURE"),
        _transaction(2, "20.00", kind="AUTHORIZATION"),
        _transaction(3, "20.00", kind="CAPTURE"),
        _transaction(4, "20.00", kind="REFUND", parent=3),
    ]
    assert refundable_payments(transactions, "USD") == []


def test_more_than_the_payments_can_give_back_is_refused() -> None:
    payments = refundable_payments([_transaction(1, "10.00")], "USD")
    with pytest.raises(RefundNotPossible, match=r"at most 10\.00 USD"):
        allocate_refund(Decimal("10.01"), "USD", payments)


@pytest.mark.parametrize(
    ("currency", "paid", "refund", "sent"),
    [("JPY", "4500", Decimal("1234"), "1234"), ("KWD", "12.345", Decimal("3.005"), "3.005")],
)
def test_amounts_are_sent_in_the_currency_minor_unit(
    currency: str, paid: str, refund: Decimal, sent: str
) -> None:
    payments = refundable_payments([_transaction(1, paid, currency=currency)], currency)
    transfer = financial_transfer(allocate_refund(refund, currency, payments), currency)
    [line] = transfer["issueRefund"]["orderTransactions"]
    assert line["transactionAmount"] == {"amount": sent, "currencyCode": currency}
    assert transfer["issueRefund"]["allowOverRefunding"] is False


def test_an_amount_finer_than_the_minor_unit_is_refused() -> None:
    payments = refundable_payments([_transaction(1, "4500", currency="JPY")], "JPY")
    with pytest.raises(RefundNotPossible, match="0 decimals"):
        allocate_refund(Decimal("10.5"), "JPY", payments)


def test_a_payment_in_another_currency_is_refused_not_converted() -> None:
    with pytest.raises(RefundNotPossible, match="paid in EUR"):
        refundable_payments([_transaction(1, "10.00", currency="EUR")], "USD")


def test_payments_of_one_kind_are_refunded_oldest_first_whatever_their_order_in_the_list() -> None:
    newer = _transaction(2, "5.00")
    older = _transaction(1, "5.00")
    older_card, newer_card = older["id"], newer["id"]
    payments = refundable_payments([newer, older], "USD")
    assert [p.transaction_id for p in payments] == [older_card, newer_card]
