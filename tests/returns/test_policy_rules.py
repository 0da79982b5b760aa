"""Pure rules: the return window in whole UTC days, the ledger repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db import Database
from app.models.order import LineItem, Order
from app.models.return_policy import ReturnPolicy, WindowStart
from app.models.return_request import ReturnStatus
from app.services.returns.ledger import rebuild_ledger, reserved_units
from app.services.returns.policy import Ineligibility, evaluate_order
from tests.factories import make_order, make_return, make_tenant

DELIVERED = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)


def order() -> Order:
    return Order(
        tenant_id="t",
        shopify_id="1",
        order_number="1",
        name="#1",
        line_items=[LineItem(id="9", quantity=1, fulfilled_quantity=1)],
        created_at=DELIVERED - timedelta(days=3),
        updated_at=DELIVERED,
        delivered_at=DELIVERED,
    )


def test_last_day_of_the_window_is_in_and_the_next_is_out() -> None:
    policy = ReturnPolicy(window_days=30)
    last_moment = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert evaluate_order(order(), policy, {}, last_moment).eligible
    first_out = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert evaluate_order(order(), policy, {}, first_out).ineligible_reason == (
        Ineligibility.OUTSIDE_WINDOW
    )


def test_window_may_start_at_the_order_date() -> None:
    policy = ReturnPolicy(window_days=0, window_starts=WindowStart.ORDER)
    assert not evaluate_order(order(), policy, {}, DELIVERED).eligible


async def test_rebuild_ledger_counts_active_returns_only(db: Database) -> None:
    tenant = await make_tenant("shop")
    placed = await make_order(tenant.id, 1, quantity=5)
    await make_return(placed, quantity=2)
    await make_return(placed, quantity=1, status=ReturnStatus.DECLINED)
    await make_return(placed, quantity=1, status=ReturnStatus.RESOLVED)
    held = await rebuild_ledger(tenant.id, "1")
    assert held == {placed.line_items[0].id: 3}
    assert await reserved_units(tenant.id, "1") == held
