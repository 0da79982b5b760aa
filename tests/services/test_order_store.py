"""Bulk upserts: newer `updated_at` wins, replays change nothing."""

from __future__ import annotations

from datetime import timedelta

from app.clock import utcnow
from app.db import Database
from app.models import Order
from app.services.orders.store import upsert_orders

BASE = utcnow() - timedelta(days=1)


def _order(tenant_id: str, shopify_id: str, number: str, updated_offset: int, total: str) -> Order:
    base = BASE
    return Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        order_number=number,
        name=f"#{number}",
        total_price=total,
        created_at=base,
        updated_at=base + timedelta(minutes=updated_offset),
    )


async def test_insert_then_newer_update_wins(db: Database) -> None:
    first = await upsert_orders([_order("t1", "1", "1001", 0, "10.00")])
    assert (first.upserted, first.unchanged) == (1, 0)
    newer = await upsert_orders([_order("t1", "1", "1001", 5, "12.00")])
    assert (newer.upserted, newer.unchanged) == (1, 0)
    stored = await Order.find_one({"tenant_id": "t1", "shopify_id": "1"})
    assert stored is not None and str(stored.total_price) == "12.00"


async def test_older_payload_never_overwrites_newer(db: Database) -> None:
    await upsert_orders([_order("t1", "1", "1001", 5, "12.00")])
    stale = await upsert_orders([_order("t1", "1", "1001", 0, "10.00")])
    assert (stale.upserted, stale.unchanged, stale.failed) == (0, 1, 0), stale.errors
    stored = await Order.find_one({"tenant_id": "t1", "shopify_id": "1"})
    assert stored is not None and str(stored.total_price) == "12.00"
    assert await Order.find({"tenant_id": "t1"}).count() == 1


async def test_replay_of_same_version_is_unchanged_and_tenants_stay_apart(db: Database) -> None:
    batch = [_order("t1", str(i), str(1000 + i), 0, "5.00") for i in range(20)]
    assert (await upsert_orders(batch)).upserted == 20
    again = await upsert_orders([_order("t1", str(i), str(1000 + i), 0, "5.00") for i in range(20)])
    assert (again.upserted, again.unchanged) == (0, 20)
    other = await upsert_orders([_order("t2", "1", "1001", 0, "5.00")])
    assert other.upserted == 1
    assert await Order.find({"tenant_id": "t1"}).count() == 20


async def test_another_order_holding_the_number_is_a_failure(db: Database) -> None:
    await upsert_orders([_order("t1", "1", "1001", 0, "5.00")])
    clash = await upsert_orders([_order("t1", "2", "1001", 0, "5.00")])
    assert (clash.upserted, clash.unchanged, clash.failed) == (0, 0, 1)


async def test_redacted_customer_never_takes_personal_data_back(db: Database) -> None:
    from app.models import Customer
    from app.services.orders.store import upsert_customers

    def customer(offset: int, email: str, orders_count: int) -> Customer:
        return Customer(
            tenant_id="t1",
            shopify_id="9",
            email=email,
            first_name="Ada",
            last_name="Lovelace",
            phone="+15550001111",
            orders_count=orders_count,
            updated_at=BASE + timedelta(minutes=offset),
        )

    await upsert_customers([customer(0, "ada@example.com", 1)])
    await Customer.get_pymongo_collection().update_one(
        {"tenant_id": "t1", "shopify_id": "9"},
        {
            "$set": {
                "email": "redacted-x@redacted.invalid",
                "first_name": None,
                "last_name": None,
                "phone": None,
                "redacted_at": BASE,
            }
        },
    )
    stale = await upsert_customers([customer(0, "ada@example.com", 1)])
    assert (stale.upserted, stale.unchanged, stale.failed) == (0, 1, 0)
    # A newer payload updates the non-personal fields only (counted as upserted).
    later = await upsert_customers([customer(10, "ada@example.com", 2)])
    assert (later.upserted, later.unchanged, later.failed) == (1, 0, 0), later.errors
    stored = await Customer.get_pymongo_collection().find_one({"tenant_id": "t1"})
    assert stored is not None
    assert stored["email"] == "redacted-x@redacted.invalid"
    assert (stored["first_name"], stored["last_name"], stored["phone"]) == (None, None, None)
    assert stored["redacted_at"] is not None
    assert stored["orders_count"] == 2
    assert stored["updated_at"] == BASE + timedelta(minutes=10)


def _personal_order(offset: int, total: str, financial_status: str) -> Order:
    from app.models.order import Address, OrderCustomer

    order = _order("t1", "1", "1001", offset, total)
    order.email = "ada@example.com"
    order.customer = OrderCustomer(
        id="9", email="ada@example.com", first_name="Ada", last_name="Lovelace", phone="+1555"
    )
    order.shipping_address = Address(name="Ada Lovelace", address1="12 Engine Row", zip="NW1")
    order.financial_status = financial_status
    return order


async def test_a_redacted_order_keeps_its_personal_data_erased_but_stays_current(
    db: Database,
) -> None:
    from app.services.webhooks.handlers.compliance import redact_customer

    await upsert_orders([_personal_order(0, "10.00", "pending")])
    counts = await redact_customer(
        secret="s", tenant_id="t1", customer_id="9", email="ada@example.com", now=utcnow()
    )
    assert counts.orders == 1
    redacted = await Order.get_pymongo_collection().find_one({"tenant_id": "t1"})
    assert redacted is not None and redacted["redacted_at"] is not None
    pseudonym = redacted["email"]
    assert pseudonym.startswith("redacted-")

    # A later sync page (or webhook) with the full, newer order.
    newer = await upsert_orders([_personal_order(10, "12.00", "refunded")])
    assert (newer.upserted, newer.unchanged, newer.failed) == (1, 0, 0), newer.errors
    stored = await Order.get_pymongo_collection().find_one({"tenant_id": "t1"})
    assert stored is not None
    assert stored["email"] == pseudonym and stored["shipping_address"] is None
    assert stored["customer"] == {
        "id": "9",
        "email": pseudonym,
        "first_name": None,
        "last_name": None,
        "phone": None,
    }
    assert stored["redacted_at"] == redacted["redacted_at"]
    # ...while the non-personal fields follow Shopify.
    assert str(stored["total_price"]) == "12.00" and stored["financial_status"] == "refunded"
    assert stored["updated_at"] == BASE + timedelta(minutes=10)
    # An older or same-age payload still changes nothing.
    stale = await upsert_orders([_personal_order(5, "11.00", "paid")])
    assert (stale.upserted, stale.unchanged, stale.failed) == (0, 1, 0)
    again = await upsert_orders([_personal_order(10, "12.00", "refunded")])
    assert (again.upserted, again.unchanged, again.failed) == (0, 1, 0)


async def test_the_newer_wins_filter_has_its_own_index(db: Database) -> None:
    # SecantusDB plans the upsert filter as a collection scan without it (syncs go quadratic).
    from app.models import Customer

    wanted = [("tenant_id", 1), ("shopify_id", 1), ("redacted_at", 1), ("updated_at", 1)]
    for model in (Order, Customer):
        indexes = await (await model.get_pymongo_collection().list_indexes()).to_list()
        assert any(list(index["key"].items()) == wanted for index in indexes), model.__name__
