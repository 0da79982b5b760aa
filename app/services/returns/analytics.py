"""Returns analytics over the orders created in a date range, by aggregation pipelines.

Every pipeline starts with `$match: {tenant_id, ...}` on an indexed prefix:
orders by (tenant_id, created_at), returns by (tenant_id, order_created_at) (the order's creation
time, copied onto the return when it is created). Active returns are those not declined or
canceled: they count towards the return rates, reasons, resolutions and products; `byStatus`
counts every return. Ratios are Decimals rounded to 4 places (ROUND_HALF_UP); money is summed per
currency (amounts in different currencies are never added) and rounded to each one's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bson.decimal128 import Decimal128

from app.models import Order, Return
from app.models.money import DEFAULT_CURRENCY, round_to_minor_unit
from app.models.return_request import ACTIVE_RETURN_STATUSES, ReturnStatus

RATIO = Decimal("0.0001")
_ACTIVE = sorted(status.value for status in ACTIVE_RETURN_STATUSES)


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    label: str
    count: int  # returns (status, resolution) or return lines (reason, product)
    units: int


@dataclass(frozen=True, slots=True)
class ReturnsAnalytics:
    orders: int
    units_sold: int
    returns: int  # active
    units_returned: int  # active
    unit_return_rate: Decimal
    order_return_rate: Decimal  # active returns per order
    by_status: list[Bucket]
    by_reason: list[Bucket]
    by_resolution: list[Bucket]
    by_product: list[Bucket]
    refund_total: dict[str, Decimal]  # per currency code, in code order
    store_credit_total: dict[str, Decimal]
    resolved: int
    average_resolution_seconds: Decimal | None


def _ratio(numerator: int, denominator: int) -> Decimal:
    if denominator == 0:
        return Decimal("0.0000")
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_UP)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(str(value or 0))


def _per_currency(rows: list[dict[str, Any]], key: str) -> dict[str, Decimal]:
    """`{currency: sum}` of one field summed per stored currency, in code order, each rounded
    to its currency's minor unit. Stored codes are merged case-insensitively; a return without
    one is in the model's default, USD."""
    sums: dict[str, Decimal] = {}
    for row in rows:
        code = str(row["_id"] or DEFAULT_CURRENCY).strip().upper()
        sums[code] = sums.get(code, Decimal(0)) + _decimal(row[key])
    return {code: round_to_minor_unit(sums[code], code) for code in sorted(sums)}


def _range(start: datetime, end: datetime) -> dict[str, datetime]:
    return {"$gte": start, "$lt": end}


async def _aggregate(
    model: type[Order] | type[Return], pipeline: list[dict[str, Any]]
) -> list[Any]:
    cursor = await model.get_pymongo_collection().aggregate(pipeline)
    return [row async for row in cursor]


def _buckets(rows: list[dict[str, Any]], label_of: Any = None) -> list[Bucket]:
    buckets = [
        Bucket(
            key=str(row["_id"] if not isinstance(row["_id"], dict) else row["_id"].get("key")),
            label=str(label_of(row) if label_of else row["_id"]),
            count=int(row["count"]),
            units=int(row["units"]),
        )
        for row in rows
        if row["_id"] is not None
    ]
    return sorted(buckets, key=lambda b: (-b.count, -b.units, b.key))


def _per_return(match: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Returns and their units grouped by `key` (a field of the return)."""
    return [
        {"$match": match},
        {"$unwind": "$items"},
        {
            "$group": {
                "_id": {"key": key, "return": "$_id"},
                "units": {"$sum": "$items.quantity"},
            }
        },
        {"$group": {"_id": "$_id.key", "count": {"$sum": 1}, "units": {"$sum": "$units"}}},
    ]


async def returns_analytics(tenant_id: str, start: datetime, end: datetime) -> ReturnsAnalytics:
    """Return rates, breakdowns, refund value and time to resolution for orders in [start, end)."""
    order_match = {"tenant_id": tenant_id, "created_at": _range(start, end)}
    orders_count = await Order.get_pymongo_collection().count_documents(order_match)
    # `$unwind` rather than `$sum` over an array path: SecantusDB evaluates only the former.
    units_rows = await _aggregate(
        Order,
        [
            {"$match": order_match},
            {"$unwind": "$line_items"},
            {"$group": {"_id": None, "units": {"$sum": "$line_items.quantity"}}},
        ],
    )
    base = {"tenant_id": tenant_id, "order_created_at": _range(start, end)}
    active = {**base, "status": {"$in": _ACTIVE}}
    by_status = await _aggregate(Return, _per_return(base, "$status"))
    by_resolution = await _aggregate(Return, _per_return(active, "$resolution_type"))
    by_reason = await _aggregate(
        Return,
        [
            {"$match": active},
            {"$unwind": "$items"},
            {
                "$group": {
                    "_id": "$items.reason",
                    "count": {"$sum": 1},
                    "units": {"$sum": "$items.quantity"},
                }
            },
        ],
    )
    by_product = await _aggregate(
        Return,
        [
            {"$match": active},
            {"$unwind": "$items"},
            {
                "$group": {
                    "_id": {"$ifNull": ["$items.product_id", "$items.title"]},
                    "title": {"$first": "$items.title"},
                    "count": {"$sum": 1},
                    "units": {"$sum": "$items.quantity"},
                }
            },
        ],
    )
    resolved_match = {"$match": {**base, "status": ReturnStatus.RESOLVED.value}}
    resolved_rows = await _aggregate(
        Return,
        [
            resolved_match,
            {
                "$group": {
                    "_id": None,
                    "count": {"$sum": 1},
                    # $avg skips returns without `resolved_at` (the average is over those that
                    # have one; none: null)
                    "millis": {"$avg": {"$subtract": ["$resolved_at", "$created_at"]}},
                }
            },
        ],
    )
    money_rows = await _aggregate(
        Return,
        [
            resolved_match,
            {
                "$group": {
                    "_id": {"$ifNull": ["$outcome.currency", "$currency"]},
                    "refund": {"$sum": "$outcome.refund_amount"},
                    "credit": {"$sum": "$outcome.store_credit_amount"},
                }
            },
        ],
    )
    order_totals = {
        "orders": orders_count,
        "units": int(units_rows[0]["units"]) if units_rows else 0,
    }
    resolutions = _buckets(by_resolution)
    active_returns = sum(b.count for b in resolutions)
    units_returned = sum(b.units for b in resolutions)
    resolved_row = resolved_rows[0] if resolved_rows else {}
    millis = resolved_row.get("millis")
    return ReturnsAnalytics(
        orders=int(order_totals["orders"]),
        units_sold=int(order_totals["units"]),
        returns=active_returns,
        units_returned=units_returned,
        unit_return_rate=_ratio(units_returned, int(order_totals["units"])),
        order_return_rate=_ratio(active_returns, int(order_totals["orders"])),
        by_status=_buckets(by_status),
        by_reason=_buckets(by_reason),
        by_resolution=resolutions,
        by_product=_buckets(by_product, lambda row: row.get("title") or row["_id"]),
        refund_total=_per_currency(money_rows, "refund"),
        store_credit_total=_per_currency(money_rows, "credit"),
        resolved=int(resolved_row.get("count") or 0),
        average_resolution_seconds=(
            (_decimal(millis) / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
            if millis is not None
            else None
        ),
    )
