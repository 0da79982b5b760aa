"""Shopify search syntax for `query:` arguments: `updated_at:>'2026-01-01T00:00:00Z' AND tag:vip`.

Terms are ANDed (explicit `AND` or whitespace), `OR` separates alternatives, a leading `-` negates.
Unknown fields and unparsable values are ignored, as Shopify ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

_TOKEN = re.compile(
    r"""-?[\w.]+:(?:>=|<=|>|<|=)?\s*(?:'[^']*'|"[^"]*"|[^\s()]+)|'[^']*'|"[^"]*"|\S+"""
)
_TERM = re.compile(r"""^(-?)([\w.]+):(>=|<=|>|<|=)?\s*(.*)$""", re.S)


def parse_datetime(text: str) -> datetime | None:
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    return bool(left == right)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


FieldMatcher = Callable[[str, str], Predicate | None]


def compile_query(
    query: str | None, field_matcher: FieldMatcher, free_text: Callable[[str], Predicate]
) -> Predicate:
    """Turn a search string into a predicate over records."""
    if not query or not query.strip():
        return lambda _record: True
    groups: list[list[Predicate]] = [[]]
    for token in _TOKEN.findall(query):
        if token == "AND":
            continue
        if token == "OR":
            groups.append([])
            continue
        match = _TERM.match(token)
        negate = False
        predicate: Predicate | None
        if match:
            negate = match.group(1) == "-"
            predicate = field_matcher(
                match.group(2).lower(), (match.group(3) or "=") + "\x00" + _unquote(match.group(4))
            )
        else:
            if token.startswith("-"):
                negate, token = True, token[1:]
            predicate = free_text(_unquote(token).lower())
        if predicate is None:
            continue
        if negate:
            predicate = _negate(predicate)
        groups[-1].append(predicate)
    alternatives = [group for group in groups if group]
    if not alternatives:
        return lambda _record: True
    return lambda record: any(all(p(record) for p in group) for group in alternatives)


def _negate(predicate: Predicate) -> Predicate:
    return lambda record: not predicate(record)


def date_term(key: str, op: str, value: str) -> Predicate | None:
    moment = parse_datetime(value)
    if moment is None:
        return None
    return lambda record: _compare(record[key], op, moment)


def number_term(key: str, op: str, value: str) -> Predicate | None:
    tail = value.rsplit("/", 1)[-1]
    if not tail.isdigit():
        return None
    number = int(tail)
    return lambda record: _compare(int(record[key]), op, number)


def text_term(getter: Callable[[JSON], Any], value: str) -> Predicate:
    wanted = value.lower()

    def predicate(record: JSON) -> bool:
        found = getter(record)
        if isinstance(found, list):
            return any(str(item).lower() == wanted for item in found)
        return found is not None and str(found).lower() == wanted

    return predicate


FULFILLMENT_ALIASES = {
    "shipped": "FULFILLED",
    "fulfilled": "FULFILLED",
    "unshipped": "UNFULFILLED",
    "unfulfilled": "UNFULFILLED",
    "partial": "PARTIALLY_FULFILLED",
    "partially_fulfilled": "PARTIALLY_FULFILLED",
}


# Shopify's OrderReturnStatus of an order, from its returns' statuses, most pressing first.
RETURN_STATUS_PRECEDENCE = (
    ("OPEN", "IN_PROGRESS"),
    ("REQUESTED", "RETURN_REQUESTED"),
    ("CLOSED", "RETURNED"),
    ("DECLINED", "RETURN_FAILED"),
    ("CANCELED", "RETURN_FAILED"),
)


def order_return_status(order: JSON) -> str:
    """The order's aggregated return status (`Order.returnStatus`, the `return_status` filter)."""
    statuses = {record["status"] for record in order.get("_returns") or []}
    for status, shown in RETURN_STATUS_PRECEDENCE:
        if status in statuses:
            return shown
    return "NO_RETURN"


def order_field(name: str, spec: str) -> Predicate | None:
    op, value = spec.split("\x00", 1)
    if name in {"created_at", "updated_at", "processed_at"}:
        return date_term(
            {"created_at": "_created", "updated_at": "_updated", "processed_at": "_created"}[name],
            op,
            value,
        )
    if name == "id":
        return number_term("_number", op, value)
    if name == "name":
        wanted = value if value.startswith("#") else f"#{value}"
        return lambda record: record["name"] == wanted
    if name == "email":
        return text_term(lambda record: record.get("email"), value)
    if name == "tag":
        return text_term(lambda record: record["tags"], value)
    if name == "financial_status":
        return text_term(lambda record: record["displayFinancialStatus"], value)
    if name == "fulfillment_status":
        wanted = FULFILLMENT_ALIASES.get(value.lower(), value.upper())
        return lambda record: record["displayFulfillmentStatus"] == wanted
    if name == "customer_id":
        return lambda record: (
            bool(record.get("customer"))
            and record["customer"]["id"].endswith(f"/{value.rsplit('/', 1)[-1]}")
        )
    if name == "return_status":
        wanted_status = value.upper()
        return lambda record: order_return_status(record) == wanted_status
    if name == "status":
        lowered = value.lower()
        if lowered == "any":
            return lambda _record: True
        if lowered == "open":
            return lambda record: not record["closed"] and record["cancelledAt"] is None
        if lowered == "closed":
            return lambda record: bool(record["closed"])
        if lowered == "cancelled":
            return lambda record: record["cancelledAt"] is not None
    return None


def order_free_text(value: str) -> Predicate:
    return lambda record: (
        value in record["name"].lower() or value in (record.get("email") or "").lower()
    )


def customer_field(name: str, spec: str) -> Predicate | None:
    op, value = spec.split("\x00", 1)
    if name in {"created_at", "updated_at"}:
        return date_term("_created" if name == "created_at" else "_updated", op, value)
    if name == "id":
        return number_term("legacyResourceId", op, value)
    if name in {"email", "first_name", "last_name", "phone"}:
        key = {
            "email": "email",
            "first_name": "firstName",
            "last_name": "lastName",
            "phone": "phone",
        }[name]
        return text_term(lambda record: record.get(key), value)
    if name == "tag":
        return text_term(lambda record: record["tags"], value)
    return None


def customer_free_text(value: str) -> Predicate:
    return lambda record: (
        value in (record.get("email") or "").lower() or value in record["displayName"].lower()
    )
