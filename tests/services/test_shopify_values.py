"""Shopify values normalised one way, whichever path (webhook, sync, a client's argument) reads
them: the webhook and sync paths used to parse times, amounts and ids each their own way (one
rejected NaN amounts, the other stored them; one raised on a malformed time, the other did not)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.shopify_values import gid, money, numeric_id, parse_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gid://shopify/Order/5813364687033", "5813364687033"),
        ("gid://shopify/Order/11?from=bulk", "11"),
        (" 123 ", "123"),
        (123, "123"),
        ("", None),
        ("   ", None),
        (None, None),
        (True, None),
        ("gid://shopify/Order/", None),
    ],
)
def test_numeric_id(value: object, expected: str | None) -> None:
    assert numeric_id(value) == expected


def test_gid_from_either_form() -> None:
    assert gid("Order", 11) == "gid://shopify/Order/11"
    assert gid("Customer", "gid://shopify/Customer/7") == "gid://shopify/Customer/7"
    assert gid("Order", "") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19.99", Decimal("19.99")),
        ({"amount": "5.000", "currencyCode": "KWD"}, Decimal("5.000")),
        ({"shopMoney": {"amount": "1500"}}, Decimal("1500")),
        ({"shop_money": {"amount": "2.5"}}, Decimal("2.5")),
        ("NaN", Decimal(0)),
        ("Infinity", Decimal(0)),
        ("-inf", Decimal(0)),
        ("twelve", Decimal(0)),
        (None, Decimal(0)),
        (False, Decimal(0)),
    ],
)
def test_money(value: object, expected: Decimal) -> None:
    amount = money(value)
    assert amount == expected
    assert amount.is_finite()


def test_parse_time_normalises_to_utc_milliseconds() -> None:
    assert parse_time("2026-01-01T10:00:00.123456+02:00") == datetime(
        2026, 1, 1, 8, 0, 0, 123000, tzinfo=UTC
    )
    assert parse_time("2026-01-01T10:00:00Z") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parse_time(datetime(2026, 1, 1, 10)) == datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-01T00:00:00Z"])
def test_parse_time_refuses_without_raising(value: object) -> None:
    assert parse_time(value) is None
