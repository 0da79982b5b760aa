"""The customer portal's order lookup: one order find and one ledger find, nothing else.

A wrong order number and a wrong email take the same path and give the same answer (`None`):
the order is fetched by (tenant_id, order_number) and the ledger by its key derived from the same
pair, both always; the email is compared afterwards in constant time. Failures count against the
client's sliding window (`rate_limit`), checked before any database command.
"""

from __future__ import annotations

import hmac
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models import Order
from app.models.return_ledger import ledger_id
from app.models.return_policy import ReturnPolicy
from app.services.orders import normalize_email, normalize_order_number
from app.services.returns.errors import PortalRateLimited
from app.services.returns.ledger import counters_of, ledger_collection
from app.services.returns.policy import OrderEligibility, evaluate_order
from app.services.returns.policy_cache import cached_policy
from app.services.returns.rate_limit import client_key, portal_limiter

MAX_ORDER_NUMBER_LENGTH = 64
MAX_EMAIL_LENGTH = 320


@dataclass(frozen=True, slots=True)
class PortalLookup:
    eligibility: OrderEligibility
    policy: ReturnPolicy


def order_emails(order: Order | dict[str, Any]) -> list[str]:
    """The order's contact email and its customer's email, normalized (raw document or model)."""
    found: list[object]
    if isinstance(order, Order):
        found = [order.email, order.customer.email if order.customer else None]
    else:
        raw: dict[str, Any] = order
        customer = raw.get("customer") or {}
        found = [raw.get("email"), customer.get("email") if isinstance(customer, dict) else None]
    return [normalize_email(e) for e in found if isinstance(e, str) and e.strip()]


def email_matches(order: Order | dict[str, Any], email: str) -> bool:
    wanted = normalize_email(email).encode()
    # Compare against every address without short-circuiting.
    results = [hmac.compare_digest(wanted, known.encode()) for known in order_emails(order)]
    return any(results) and bool(wanted)


def _limiter_scope() -> str:
    return ledger_collection().database.name


def serialized_attempts(tenant_id: str, client_ip: str) -> AbstractAsyncContextManager[None]:
    """Run one portal attempt of this client at a time (see `SlidingWindowLimiter.serialized`)."""
    return portal_limiter(_limiter_scope()).serialized(client_key(tenant_id, client_ip))


def check_rate_limit(tenant_id: str, client_ip: str) -> None:
    if portal_limiter(_limiter_scope()).is_limited(client_key(tenant_id, client_ip)):
        raise PortalRateLimited()


def record_failure(tenant_id: str, client_ip: str) -> None:
    portal_limiter(_limiter_scope()).record_failure(client_key(tenant_id, client_ip))


async def lookup_order(
    tenant_id: str,
    order_number: str,
    customer_email: str,
    client_ip: str,
    *,
    now: datetime | None = None,
) -> PortalLookup | None:
    """The order with per-line eligibility, or `None` (wrong number, email or tenant alike)."""
    async with serialized_attempts(tenant_id, client_ip):
        return await _lookup_order(tenant_id, order_number, customer_email, client_ip, now)


async def _lookup_order(
    tenant_id: str, order_number: str, customer_email: str, client_ip: str, now: datetime | None
) -> PortalLookup | None:
    check_rate_limit(tenant_id, client_ip)
    number = normalize_order_number(order_number)[:MAX_ORDER_NUMBER_LENGTH]
    email = customer_email[:MAX_EMAIL_LENGTH]
    policy = await cached_policy(tenant_id)
    raw: dict[str, Any] | None = await Order.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id, "order_number": number}
    )
    ledger = await ledger_collection().find_one(
        {"_id": ledger_id(tenant_id, number), "tenant_id": tenant_id}, {"reserved": 1}
    )
    if raw is None or policy is None or not email_matches(raw, email):
        record_failure(tenant_id, client_ip)
        return None
    order = Order.model_validate(raw)
    eligibility = evaluate_order(order, policy, counters_of(ledger), now or utcnow())
    return PortalLookup(eligibility=eligibility, policy=policy)
