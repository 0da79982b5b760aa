"""Seeded shops are what they were before locations, inventory, return fees, reverse
fulfillment orders and store credit existed: those draw from their own random streams."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tools.shopify_sim import BucketConfig, store_credit
from tools.shopify_sim import returns as returns_api
from tools.shopify_sim.models import ShopState
from tools.shopify_sim.seed import new_shop

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
# the id kinds that existed before (newer kinds only add counters)
ORIGINAL_KINDS = (
    "Order",
    "Customer",
    "LineItem",
    "Product",
    "ProductVariant",
    "Fulfillment",
    "FulfillmentLineItem",
    "Return",
    "ReturnLineItem",
    "ReverseFulfillmentOrder",
    "WebhookSubscription",
    "BulkOperation",
    "MailingAddress",
    "OrderTransaction",
    "Refund",
)
# fingerprints of seeded shops taken before the newer features were added
SEEDED = {
    ("fp-a.myshopify.com", 7, 60, "USD"): (
        "265e5ed839c1e101392b2a62bbb0918fd36b53b6eaaa4c13bd8e5c59d7f8a0b2"
    ),
    ("fp-b.myshopify.com", 3, 40, "JPY"): (
        "9061788abd8f2c8ac8558eebafd4cef315c50d5a989e65825fb52a97aa906970"
    ),
    ("fp-c.myshopify.com", 11, 30, "KWD"): (
        "df29a29b0a7c19426bc8e756f511094291f76b027a429357889fd670e5886c05"
    ),
}


def _public(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if not key.startswith("_")}


def fingerprint(shop: ShopState) -> str:
    """Every seeded id and value (products, customers, orders, payments), and where the shop's
    own and payments' random streams and id counters stand."""
    rows: list[Any] = []
    for product in shop.products:
        rows.append(
            [
                "P",
                product["id"],
                product["title"],
                product["tags"],
                [_public(v) for v in product["_variants"]],
            ]
        )
    for customer in shop.customers:
        rows.append(
            [
                "C",
                customer["id"],
                customer["email"],
                customer["phone"],
                customer["defaultAddress"],
                customer["createdAt"],
            ]
        )
    for order in shop.orders:
        rows.append(
            [
                "O",
                _public(order) | {"customer": order["customer"]["id"]},
                list(order["_lineItems"]),
                [
                    [
                        f["id"],
                        f["name"],
                        f["createdAt"],
                        f["trackingInfo"],
                        [
                            [i["id"], i["quantity"], i["lineItem"]["id"]]
                            for i in f["_fulfillmentLineItems"]
                        ],
                    ]
                    for f in order["_fulfillments"]
                ],
                [
                    [
                        t["id"],
                        t["kind"],
                        t["gateway"],
                        t["amountSet"],
                        t["parentTransaction"] and t["parentTransaction"]["id"],
                    ]
                    for t in order["_transactions"]
                ],
                [
                    [r["id"], r["totalRefundedSet"], [t["id"] for t in r["_transactions"]]]
                    for r in order["_refunds"]
                ],
            ]
        )
    rows.append(
        [
            "N",
            {kind: shop.id_counters[kind] for kind in ORIGINAL_KINDS},
            shop.rng.random(),
            shop.payments_rng.random(),
        ]
    )
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def seeded(domain: str, seed: int, orders: int, currency: str = "USD") -> ShopState:
    return new_shop(
        domain,
        seed=seed,
        orders=orders,
        bucket=BucketConfig(),
        compliance_url=None,
        currency=currency,
        now=NOW,
    )


@pytest.mark.parametrize(("domain", "seed", "orders", "currency"), sorted(SEEDED))
def test_seeded_shops_are_as_before(domain: str, seed: int, orders: int, currency: str) -> None:
    assert (
        fingerprint(seeded(domain, seed, orders, currency))
        == SEEDED[(domain, seed, orders, currency)]
    )


def test_locations_and_stock_are_seeded_deterministically() -> None:
    first = seeded("stock.myshopify.com", 5, 10)
    second = seeded("stock.myshopify.com", 5, 0)  # orders draw from the shop's own stream
    assert first.locations == second.locations
    assert [loc["name"] for loc in first.locations] == ["Main warehouse", "Returns center"]

    def stock(shop: ShopState) -> list[Any]:
        return [
            (variant_id, item["id"], [(lv["id"], lv["_quantities"]) for lv in item["_levels"]])
            for variant_id, item in shop.inventory_items.items()
        ]

    assert stock(first) == stock(second)
    assert set(first.inventory_items) == set(first.variants_by_id)
    main = [
        item["_levels"][0]["_quantities"]["available"] for item in first.inventory_items.values()
    ]
    assert 0 in main and max(main) > 0  # some variants are out of stock
    assert all(
        item["_levels"][1]["_quantities"] == {"available": 0, "on_hand": 0}
        for item in first.inventory_items.values()
    )
    assert seeded("stock.myshopify.com", 6, 0).inventory_items != first.inventory_items


def _returnable(shop: ShopState) -> tuple[dict[str, Any], dict[str, Any]]:
    for order in shop.orders:
        items = returns_api.returnable_items(shop, order)
        if items and order["displayFinancialStatus"] == "PAID":
            return order, items[0][0]
    raise AssertionError("no returnable paid order")


def test_new_features_leave_the_shops_own_stream_alone() -> None:
    """Approving (a reverse fulfillment order), fees, dispositions and store credit do not move
    `shop.rng`: the next return gets the same ids either way."""
    plain = seeded("streams.myshopify.com", 9, 30)
    busy = seeded("streams.myshopify.com", 9, 30)
    for shop, extras in ((plain, False), (busy, True)):
        order, item = _returnable(shop)
        spec: dict[str, Any] = {"fulfillmentLineItemId": item["id"], "quantity": 1}
        data: dict[str, Any] = {"orderId": order["id"], "returnLineItems": [spec]}
        if extras:
            spec["restockingFee"] = {"percentage": 10.0}
            currency = order["presentmentCurrencyCode"]
            data["returnShippingFee"] = {"amount": {"amount": "1.00", "currencyCode": currency}}
        record = returns_api.request_return(shop, data)["return"]
        if extras:
            state = shop.rng.getstate()
            returns_api.approve(shop, {"id": record["id"]})
            (reverse,) = record["_reverse_fulfillment_orders"]
            processed = returns_api.process(
                shop,
                {
                    "returnId": record["id"],
                    "returnLineItems": [
                        {
                            "id": record["_lines"][0]["id"],
                            "quantity": 1,
                            "dispositions": [
                                {
                                    "reverseFulfillmentOrderLineItemId": reverse["_lines"][0]["id"],
                                    "quantity": 1,
                                    "dispositionType": "RESTOCKED",
                                    "locationId": shop.locations[1]["id"],
                                }
                            ],
                        }
                    ],
                    "financialTransfer": {
                        "issueRefund": {
                            "refundMethods": [
                                {
                                    "storeCreditRefund": {
                                        "amount": {"amount": "1.00", "currencyCode": currency}
                                    }
                                }
                            ]
                        }
                    },
                },
            )
            assert processed["userErrors"] == []
            credited = store_credit.credit_account(
                shop,
                order["customer"]["id"],
                {"creditAmount": {"amount": Decimal("2.00"), "currencyCode": currency}},
            )
            assert credited["userErrors"] == []
            assert shop.rng.getstate() == state
    again = [
        returns_api.request_return(
            shop,
            {
                "orderId": _returnable(shop)[0]["id"],
                "returnLineItems": [
                    {"fulfillmentLineItemId": _returnable(shop)[1]["id"], "quantity": 1}
                ],
            },
        )["return"]
        for shop in (plain, busy)
    ]
    assert again[0]["id"] == again[1]["id"]
    assert [line["id"] for line in again[0]["_lines"]] == [
        line["id"] for line in again[1]["_lines"]
    ]
