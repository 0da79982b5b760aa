"""Normalising values from Shopify payloads, shared by the webhook (REST) and sync (GraphQL) paths
so both store the same documents, and by every service that takes a Shopify id from a client.

One function per kind of value: an id (numeric or GID), a timestamp, an amount, text, tags and an
address. None of them raises on a malformed value: a missing or blank id, a missing or
unparseable time is None, a bad amount zero; callers that require a value check for None. An id
is not checked to be numeric: an unknown one simply matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.models.order import Address


def numeric_id(value: Any) -> str | None:
    """`gid://shopify/Order/123`, `"123"`, ` 123 ` or 123 -> `"123"`; None when absent or blank.

    A GID's query part (`gid://shopify/Order/1?x=y`) is dropped; booleans are not ids.
    """
    if value is None or isinstance(value, bool):
        return None
    tail = str(value).strip().rsplit("/", 1)[-1].split("?", 1)[0].strip()
    return tail or None


def gid(kind: str, value: Any) -> str | None:
    """The Shopify GID of a `kind` (`Order`, `Customer`, ...) from its numeric id or GID."""
    number = numeric_id(value)
    return None if number is None else f"gid://shopify/{kind}/{number}"


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (`Z` or an offset) -> tz-aware UTC truncated to milliseconds (what MongoDB keeps);
    None when absent or unparseable. A naive time is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def money(value: Any) -> Decimal:
    """An amount from REST (`"19.99"`), a GraphQL `MoneyV2` (`{amount}`) or `MoneyBag`
    (`{shopMoney: {amount}}`); zero when absent, malformed or not finite (NaN, Infinity)."""
    if isinstance(value, Mapping):
        for bag in ("shopMoney", "shop_money"):
            if bag in value:
                value = value[bag]
                break
        value = value.get("amount") if isinstance(value, Mapping) else value
    if value is None or value == "" or isinstance(value, bool):
        return Decimal("0")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal("0")
    return amount if amount.is_finite() else Decimal("0")


def presentment(node: Mapping[str, Any] | None, key: str) -> tuple[Decimal, str]:
    """(amount, currency) of a `MoneyBag` field's `presentmentMoney` (the currency the customer
    paid in); zero and "" when absent or malformed."""
    bag = (node or {}).get(key) or {}
    found = bag.get("presentmentMoney") or {} if isinstance(bag, Mapping) else {}
    return money(found), str(found.get("currencyCode") or "")


def text(value: Any) -> str | None:
    """Stripped text, or None for missing and blank values."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def split_tags(value: Any) -> list[str]:
    """Shopify REST sends `"vip, gift"`; GraphQL sends a list."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).split(",")
    return [tag for tag in (str(part).strip() for part in parts) if tag]


def address(value: Any, first_name_key: str, last_name_key: str) -> Address | None:
    """An address from either shape (the Admin API's camelCase or a webhook's snake_case); the
    name falls back to first and last name."""
    if not isinstance(value, Mapping):
        return None
    name = text(value.get("name")) or text(
        " ".join(str(value.get(key) or "") for key in (first_name_key, last_name_key))
    )
    return Address(
        name=name,
        address1=text(value.get("address1")),
        address2=text(value.get("address2")),
        city=text(value.get("city")),
        province=text(value.get("province")),
        zip=text(value.get("zip")),
        country=text(value.get("country")),
        country_code=text(value.get("countryCodeV2") or value.get("country_code")),
        province_code=text(value.get("provinceCode") or value.get("province_code")),
        phone=text(value.get("phone")),
    )
