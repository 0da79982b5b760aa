"""The customer portal's order lookup.

A wrong order number and a wrong email take the same path and give the same answer (`None`):
the order is fetched by (tenant_id, order_number) and the ledger by its key derived from the same
pair, both always, together with the tenant's policy (three reads sent at once); the email is
compared afterwards in constant time. The client's recent failures are read with them; a
failure is recorded (`portal_attempts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models import Order
from app.models.return_ledger import ledger_id
from app.models.return_policy import ReturnPolicy
from app.services.orders.queries import normalize_email, normalize_order_number
from app.services.returns.errors import PortalRateLimited
from app.services.returns.ledger import counters_of, ledger_collection
from app.services.returns.policy import OrderEligibility, evaluate_order
from app.services.returns.policy_store import load_policy
from app.services.returns.portal_attempts import (
    ClientLocks,
    is_limited,
    recent_failures,
    record_failure,
)

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


async def lookup_order(
    tenant_id: str,
    order_number: str,
    customer_email: str,
    client_ip: str,
    *,
    locks: ClientLocks | None = None,
    now: datetime | None = None,
) -> PortalLookup | None:
    """The order with per-line eligibility, or `None` (wrong number, email or tenant alike).
    `PortalRateLimited` when the client has used up its failures. `locks`: the process's
    (the GraphQL edge passes the app's), so this client's attempts run one at a time."""
    async with _one_at_a_time(locks, tenant_id, client_ip):
        return await _lookup_order(tenant_id, order_number, customer_email, client_ip, now)


def _one_at_a_time(
    locks: ClientLocks | None, tenant_id: str, client_ip: str
) -> AbstractAsyncContextManager[None]:
    return (
        locks.one_at_a_time(tenant_id, client_ip) if locks is not None else contextlib.nullcontext()
    )


async def _lookup_order(
    tenant_id: str, order_number: str, customer_email: str, client_ip: str, now: datetime | None
) -> PortalLookup | None:
    number = normalize_order_number(order_number)[:MAX_ORDER_NUMBER_LENGTH]
    email = customer_email[:MAX_EMAIL_LENGTH]
    # The client's failures are read with the order; a limited client's reads are discarded.
    # Every outcome is collected, so none is left running unobserved when one fails.
    outcomes = await asyncio.gather(
        recent_failures(tenant_id, client_ip),
        load_policy(tenant_id),
        Order.get_pymongo_collection().find_one({"tenant_id": tenant_id, "order_number": number}),
        ledger_collection().find_one(
            {"_id": ledger_id(tenant_id, number), "tenant_id": tenant_id}, {"reserved": 1}
        ),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    failures, policy, raw, ledger = outcomes
    if is_limited(failures):
        raise PortalRateLimited()
    if raw is None or policy is None or not email_matches(raw, email):
        await record_failure(tenant_id, client_ip)
        return None
    order = Order.model_validate(raw)
    eligibility = evaluate_order(order, policy, counters_of(ledger), now or utcnow())
    return PortalLookup(eligibility=eligibility, policy=policy)


CUSTOMER_ORDERS = 10  # a returns page lists recent orders; older ones are found by number


async def customer_orders(
    tenant_id: str, customer_id: str, *, now: datetime | None = None
) -> list[PortalLookup]:
    """A signed-in customer's most recent orders, newest first, each with its eligibility.

    `customer_id` is Shopify's, from a verified app proxy request: Shopify has signed the
    customer in, so no email is asked for. Two reads and one for the ledgers, however many orders.
    """
    count = CUSTOMER_ORDERS
    cursor = (
        Order.get_pymongo_collection()
        .find({"tenant_id": tenant_id, "customer.id": customer_id})
        .sort("created_at", -1)
        .limit(count)
    )
    raw_orders, policy = await asyncio.gather(cursor.to_list(count), load_policy(tenant_id))
    if not raw_orders or policy is None:
        return []
    orders = [Order.model_validate(raw) for raw in raw_orders]
    ledgers = {
        doc["_id"]: doc
        async for doc in ledger_collection().find(
            {
                "_id": {"$in": [ledger_id(tenant_id, o.order_number) for o in orders]},
                "tenant_id": tenant_id,
            },
            {"reserved": 1},
        )
    }
    moment = now or utcnow()
    return [
        PortalLookup(
            eligibility=evaluate_order(
                order,
                policy,
                counters_of(ledgers.get(ledger_id(tenant_id, order.order_number))),
                moment,
            ),
            policy=policy,
        )
        for order in orders
    ]


async def signed_in_customer_email(tenant_id: str, order_id: str, customer_id: str) -> str | None:
    """The email of an order of this signed-in customer (what proves a guest's request), or
    `None` when the order is not theirs."""
    raw = await Order.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id, "shopify_id": order_id, "customer.id": customer_id},
        {"email": 1, "customer": 1},
    )
    if raw is None:
        return None
    emails = order_emails(raw)
    return emails[0] if emails else None
