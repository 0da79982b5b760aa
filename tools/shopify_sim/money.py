"""Money in a currency: Decimal amounts with exactly the currency's minor-unit digits."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

JSON = dict[str, Any]

# ISO 4217 minor units of the simulator's currencies that do not have two.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}


def minor_digits(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`: 1, 0.01 or 0.001."""
    return Decimal(1).scaleb(-minor_digits(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to the currency's minor unit (half-even, Decimal's default)."""
    return amount.quantize(quantum(currency))


def rounded_half_up(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up (0.005 -> 0.01) to the currency's minor unit."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def money_v2(amount: Decimal, currency: str) -> JSON:
    """A MoneyV2: `{amount, currencyCode}` with the currency's minor-unit digits."""
    return {"amount": amount_text(amount, currency), "currencyCode": currency}


def amount_text(amount: Decimal, currency: str) -> str:
    """`12.50` (USD), `1250` (JPY), `12.500` (KWD)."""
    return str(rounded(amount, currency))


def money_bag(amount: Decimal, currency: str) -> JSON:
    """A MoneyBag whose shop and presentment amounts are the same (one-currency shops)."""
    text = amount_text(amount, currency)
    return {
        "shopMoney": {"amount": text, "currencyCode": currency},
        "presentmentMoney": {"amount": text, "currencyCode": currency},
    }


def bag_amount(bag: JSON) -> Decimal:
    return Decimal(str(bag["presentmentMoney"]["amount"]))


def parse_amount(value: Any) -> Decimal | None:
    """A finite Decimal from a string or number, else None (floats go through `str`)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def fits_currency(amount: Decimal, currency: str) -> bool:
    """No more (non-zero) decimals than the currency has: `12.50` and `12.500` fit USD,
    `12.505` does not; `100` fits JPY, `100.5` does not."""
    try:
        return amount == rounded(amount, currency)
    except InvalidOperation:  # more digits than Decimal's context holds
        return False
