"""Risk signals on a return request: the tenant's block list, and what the customer returned
before (count, units, value and the rate of units returned to units ordered, over the policy's
window) with the serial-returner flag.

Two indexed reads per request (`returns (tenant_id, customer_email)`, `orders (tenant_id,
customer.email)`), projected to what the figures need. Declined and canceled returns do not
count: nothing came back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from app.models import Order, Return
from app.models.return_policy import ReturnPolicy
from app.models.return_request import ACTIVE_RETURN_STATUSES, ReturnItem, ReturnRisk
from app.services.orders.queries import normalize_email
from app.services.returns.resolution import items_total

# The figures read at most this many earlier returns (the newest): beyond it a customer is a
# serial returner by any rule, and the request stays cheap.
MAX_HISTORY = 500


def is_blocked(policy: ReturnPolicy, email: str) -> bool:
    return normalize_email(email) in policy.blocked_emails


async def assess(
    tenant_id: str,
    email: str,
    items: list[ReturnItem],
    currency: str,
    policy: ReturnPolicy,
    now: datetime,
) -> ReturnRisk:
    """The customer's earlier returns over the rule's window, and the flag for this request."""
    rule = policy.serial_returner
    since = now - timedelta(days=rule.window_days)
    cursor = (
        Return.get_pymongo_collection()
        .find(
            {"tenant_id": tenant_id, "customer_email": normalize_email(email)},
            {"status": 1, "items": 1, "currency": 1, "created_at": 1},
        )
        .sort("created_at", -1)
        .limit(MAX_HISTORY)
    )
    active = {status.value for status in ACTIVE_RETURN_STATUSES}
    count, units, value = 0, 0, Decimal(0)
    async for doc in cursor:
        created = doc.get("created_at")
        if not isinstance(created, datetime) or created < since or doc.get("status") not in active:
            continue
        earlier = [ReturnItem.model_validate(item) for item in doc.get("items") or []]
        count += 1
        units += sum(item.quantity for item in earlier)
        if doc.get("currency") == currency:
            value += items_total(earlier, currency)  # priced as a refund would be
    ordered = await ordered_units(tenant_id, email, since)
    with_this = units + sum(item.quantity for item in items)
    flagged = rule.enabled and with_this > rule.max_units
    return ReturnRisk(
        window_days=rule.window_days,
        returns_count=count,
        units=units,
        value=value,
        ordered_units=ordered,
        rate=round(units / ordered, 4) if ordered else None,
        flagged=flagged,
        reason=(
            f"{with_this} units returned in {rule.window_days} days with this return"
            f" (more than {rule.max_units})"
            if flagged
            else None
        ),
    )


async def ordered_units(tenant_id: str, email: str, since: datetime) -> int:
    """Units the customer ordered since `since` (the newest MAX_HISTORY orders)."""
    cursor = (
        Order.get_pymongo_collection()
        .find(
            {
                "tenant_id": tenant_id,
                "customer.email": normalize_email(email),
                "created_at": {"$gte": since},
            },
            {"line_items.quantity": 1},
        )
        .sort("created_at", -1)
        .limit(MAX_HISTORY)
    )
    return sum(
        [
            sum(int(line.get("quantity") or 0) for line in doc.get("line_items") or [])
            async for doc in cursor
        ]
    )
