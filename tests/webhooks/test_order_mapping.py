"""Shopify REST order payload -> Order and Customer (Beanie documents: need `db`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.db import Database
from app.services.shopify_values import parse_time, split_tags
from app.services.webhooks.order_mapping import map_customer, map_order
from tests.webhooks.helpers import order_payload


async def test_ids_numbers_email_tags_money_and_times_are_normalised(db: Database) -> None:
    payload = order_payload(order_id=5813364687033, number=1001, email="Ada@Example.COM")
    payload["created_at"] = "2026-01-02T10:00:00-05:00"
    payload["updated_at"] = "2026-01-03T10:00:00.123456Z"
    order = map_order("tenant-x", payload)
    assert order.shopify_id == "5813364687033" and order.order_number == "1001"
    assert order.name == "#1001" and order.email == "ada@example.com"
    assert order.tags == ["vip", "gift"]
    assert order.total_price == Decimal("50.00") and isinstance(order.total_price, Decimal)
    assert order.created_at == datetime(2026, 1, 2, 15, 0, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 1, 3, 10, 0, 0, 123000, tzinfo=UTC)
    assert order.customer is not None and order.customer.email == "ada@example.com"
    assert order.customer.id == str(payload["customer"]["id"])
    [line] = order.line_items
    assert line.id == str(payload["line_items"][0]["id"]) and line.price == Decimal("25.00")
    assert (line.quantity, line.fulfilled_quantity) == (2, 2)
    assert order.delivered_at is not None and order.fulfilled_at is not None
    assert order.shipping_address is not None and order.shipping_address.zip == "NW1 6XE"
    assert order.source == "webhook"


async def test_fulfilled_quantity_comes_from_fulfillments_else_fulfillable_quantity(
    db: Database,
) -> None:
    payload = order_payload(quantity=3, fulfilled_quantity=1)
    assert map_order("t", payload).line_items[0].fulfilled_quantity == 1
    payload["fulfillments"][0]["status"] = "cancelled"
    assert map_order("t", payload).line_items[0].fulfilled_quantity == 0
    del payload["fulfillments"]
    payload["line_items"][0]["fulfillable_quantity"] = 1
    assert map_order("t", payload).line_items[0].fulfilled_quantity == 2


async def test_customer_record_and_guest_checkout(db: Database) -> None:
    payload = order_payload()
    order = map_order("t", payload)
    customer = map_customer("t", payload, order)
    assert customer is not None and customer.shopify_id == str(payload["customer"]["id"])
    assert customer.email == "ada.lovelace@example.com" and customer.first_name == "Ada"
    payload["customer"] = None
    guest = map_order("t", payload)
    assert guest.customer is None and map_customer("t", payload, guest) is None


async def test_helpers(db: Database) -> None:
    assert split_tags(" a, b ,,c ") == ["a", "b", "c"] and split_tags(None) == []
    assert parse_time("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time("garbage") is None
