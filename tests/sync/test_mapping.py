"""Mapping Shopify data to our documents: GraphQL nodes and webhook payloads agree."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.db import Database
from app.services.shopify_values import numeric_id, parse_time
from app.services.sync.mapping import fulfillment_status, order_from_node
from app.services.webhooks.order_mapping import map_order
from tools.shopify_sim import InstalledShop, SimulatorControl, SimulatorServer, payloads


def _graphql_node(record: dict[str, Any]) -> dict[str, Any]:
    """The simulator record as the sync query sees it (lines and fulfillments as selected)."""
    node = {key: value for key, value in record.items() if not key.startswith("_")}
    node["lineItems"] = {"nodes": record["_lineItems"]}
    node["fulfillments"] = record["_fulfillments"]
    return node


def _comparable(order: Any) -> dict[str, Any]:
    document: dict[str, Any] = order.model_dump(exclude={"id", "synced_at", "source"})
    for line in document["line_items"]:
        line.pop("product_tags")  # REST line items do not carry product tags
    return document


async def test_sync_and_the_webhook_path_store_the_same_document(
    db: Database, simulator: SimulatorServer, sim_control: SimulatorControl
) -> None:
    shop = await sim_control.create_shop(orders=40)
    assert isinstance(shop, InstalledShop)
    await sim_control.create_order(shop.domain, email="Gift@Example.com", line_items=[{}] * 3)
    await sim_control.update_order(shop.domain, "#1003", fulfill=True, tags=["b", "a"])
    state = simulator.app.state.sim.shops[shop.domain]
    for record in state.orders:
        from_sync = order_from_node("tenant-x", _graphql_node(record))
        from_webhook = map_order("tenant-x", payloads.order(record, state))
        assert _comparable(from_sync) == _comparable(from_webhook), record["name"]


def test_scalars_follow_the_conventions() -> None:
    assert numeric_id("gid://shopify/Order/5813364687033") == "5813364687033"
    assert numeric_id(5813364687033) == "5813364687033"
    # REST's values, which the webhook path stores.
    assert fulfillment_status("FULFILLED") == "fulfilled"
    assert fulfillment_status("PARTIALLY_FULFILLED") == "partial"
    assert fulfillment_status("UNFULFILLED") is None
    assert fulfillment_status("ON_HOLD") is None
    moment = parse_time("2026-01-01T10:00:00Z")
    assert moment is not None and moment.utcoffset() is not None


def test_an_order_node_maps_every_field(db: Database) -> None:
    node = {
        "id": "gid://shopify/Order/11",
        "legacyResourceId": "11",
        "name": "#1001",
        "email": "Ada@Example.COM",
        "createdAt": "2026-01-01T10:00:00Z",
        "updatedAt": "2026-01-02T10:00:00Z",
        "cancelledAt": None,
        "tags": ["vip"],
        "currencyCode": "EUR",
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "FULFILLED",
        "subtotalPriceSet": {"shopMoney": {"amount": "40.00"}},
        "totalPriceSet": {"shopMoney": {"amount": "43.20"}},
        "totalDiscountsSet": {"shopMoney": {"amount": "5.00"}},
        "customer": {"id": "gid://shopify/Customer/7", "email": "ADA@example.com"},
        "shippingAddress": {"firstName": "Ada", "lastName": "L", "city": "Berlin"},
        "fulfillments": [
            {"status": "SUCCESS", "createdAt": "2026-01-03T00:00:00Z", "deliveredAt": None},
            {
                "status": "SUCCESS",
                "createdAt": "2026-01-04T00:00:00Z",
                "deliveredAt": "2026-01-06T00:00:00Z",
            },
        ],
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/21",
                    "title": "Shirt",
                    "sku": "SH-1",
                    "quantity": 3,
                    "unfulfilledQuantity": 1,
                    "variantTitle": "Red / M",
                    "variant": {"id": "gid://shopify/ProductVariant/31", "title": "Red / M"},
                    "product": {
                        "id": "gid://shopify/Product/41",
                        "productType": "Shirts",
                        "tags": ["sale"],
                    },
                    "originalUnitPriceSet": {"shopMoney": {"amount": "15.00"}},
                    "totalDiscountSet": {"shopMoney": {"amount": "5.00"}},
                }
            ]
        },
    }
    order = order_from_node("tenant-x", node)
    assert (order.shopify_id, order.order_number, order.email) == ("11", "1001", "ada@example.com")
    assert order.admin_graphql_api_id == "gid://shopify/Order/11"
    assert order.customer is not None and order.customer.email == "ada@example.com"
    assert order.customer.id == "7"
    assert (order.financial_status, order.fulfillment_status) == ("partially_refunded", "fulfilled")
    assert order.total_price == Decimal("43.20") and order.currency == "EUR"
    assert order.fulfilled_at == parse_time("2026-01-04T00:00:00Z")
    assert order.delivered_at == parse_time("2026-01-06T00:00:00Z")
    assert order.shipping_address is not None and order.shipping_address.name == "Ada L"
    line = order.line_items[0]
    assert (line.id, line.variant_id, line.product_id) == ("21", "31", "41")
    assert (line.quantity, line.fulfilled_quantity) == (3, 2)
    assert (line.price, line.total_discount) == (Decimal("15.00"), Decimal("5.00"))
    assert line.product_tags == ["sale"] and line.product_type == "Shirts"
