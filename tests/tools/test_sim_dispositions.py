"""Locations, inventory, reverse fulfillment orders and `returnProcess` dispositions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.simulator_fixtures import *  # noqa: F403
from tests.tools.sim_helpers import answer, data_of, open_return, paid_order, process
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

LOCATIONS = "{ locations(first: 5) { nodes { id name isActive } pageInfo { hasNextPage } } }"
LOCATION = "query ($id: ID) { location(id: $id) { id name } }"
VARIANT = """
query ($id: ID!) { productVariant(id: $id) { id inventoryQuantity product { id title }
  inventoryItem { id inventoryLevels(first: 5) { nodes { id location { id name }
    quantities(names: ["available", "on_hand"]) { name quantity } } } } } }
"""
REVERSE = """
query ($id: ID!) { return(id: $id) { id status
  returnLineItems(first: 10) { nodes { id processedQuantity fulfillmentLineItem { id } } }
  reverseFulfillmentOrders(first: 5) { nodes { id status
    lineItems(first: 10) { nodes { id totalQuantity fulfillmentLineItem { id }
      dispositions { id quantity type location { id name } createdAt } } } } } } }
"""
CANCEL = "mutation ($id: ID!) { returnCancel(id: $id) { return { status } userErrors { code } } }"
CLOSE = "mutation ($id: ID!) { returnClose(id: $id) { return { status } userErrors { code } } }"


def levels(stock: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        level["location_name"]: (level["available"], level["on_hand"]) for level in stock["levels"]
    }


async def reverse_of(
    control: SimulatorControl, shop: InstalledShop, return_id: str
) -> dict[str, Any]:
    record: dict[str, Any] = (await data_of(control, shop, REVERSE, {"id": return_id}))["return"]
    return record


async def locations_of(control: SimulatorControl, shop: InstalledShop) -> dict[str, str]:
    listed = await control.locations(shop.domain)
    return {location["name"]: location["id"] for location in listed["locations"]}


async def test_locations_and_variant_inventory(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=5)
    data = await answer(sim_control, shop, LOCATIONS)
    nodes = data["data"]["locations"]["nodes"]
    assert [(n["name"], n["isActive"]) for n in nodes] == [
        ("Main warehouse", True),
        ("Returns center", True),
    ]
    assert data["extensions"]["cost"]["requestedQueryCost"] == 2 + 5 * 1
    assert data["extensions"]["cost"]["actualQueryCost"] == 2 + 2 * 1
    listed = await sim_control.locations(shop.domain)
    assert listed == {
        "locations": [{"id": n["id"], "name": n["name"], "is_active": True} for n in nodes]
    }
    by_id = await data_of(sim_control, shop, LOCATION, {"id": nodes[1]["id"]})
    assert by_id["location"] == {"id": nodes[1]["id"], "name": "Returns center"}
    numeric = await data_of(sim_control, shop, LOCATION, {"id": nodes[1]["id"].rsplit("/", 1)[-1]})
    assert numeric["location"]["name"] == "Returns center"
    assert (await data_of(sim_control, shop, LOCATION, {"id": None}))["location"]["name"] == (
        "Main warehouse"
    )
    assert (await data_of(sim_control, shop, LOCATION, {"id": "gid://shopify/Location/1"}))[
        "location"
    ] is None

    order = (await sim_control.orders(shop.domain, limit=1))["orders"][0]
    variant_id = order["lineItems"][0]["variant"]["id"]
    stock = await sim_control.inventory(shop.domain, variant_id)
    assert stock["variant_id"] == variant_id
    assert stock["inventory_item_id"].startswith("gid://shopify/InventoryItem/")
    main, returns_center = stock["levels"]
    assert (main["location_id"], returns_center["location_id"]) == (nodes[0]["id"], nodes[1]["id"])
    assert (returns_center["available"], returns_center["on_hand"]) == (0, 0)
    assert main["available"] == main["on_hand"] == stock["available"] >= 0
    assert (await sim_control.inventory(shop.domain, variant_id.rsplit("/", 1)[-1])) == stock

    answered = await answer(sim_control, shop, VARIANT, {"id": variant_id})
    variant = answered["data"]["productVariant"]
    assert variant["inventoryQuantity"] == stock["available"]
    assert variant["product"]["id"] == order["lineItems"][0]["product"]["id"]
    assert variant["inventoryItem"]["id"] == stock["inventory_item_id"]
    assert [
        (n["id"], n["location"]["id"], n["quantities"])
        for n in variant["inventoryItem"]["inventoryLevels"]["nodes"]
    ] == [
        (
            level["id"],
            level["location_id"],
            [
                {"name": "available", "quantity": level["available"]},
                {"name": "on_hand", "quantity": level["on_hand"]},
            ],
        )
        for level in stock["levels"]
    ]
    # variant 1 + product 1 + item 1 + levels 2 + 5 x (1 + location 1 + 2 quantities x 1)
    assert answered["extensions"]["cost"]["requestedQueryCost"] == 1 + 1 + 1 + 2 + 5 * 4
    assert answered["extensions"]["cost"]["actualQueryCost"] == 1 + 1 + 1 + 2 + 2 * 4
    unknown = await answer(
        sim_control,
        shop,
        'query ($id: ID!) { productVariant(id: $id) { inventoryItem { inventoryLevels(first: 1) { nodes { quantities(names: ["nope"]) { quantity } } } } } }',
        {"id": variant_id},
    )
    assert unknown["errors"]

    out = await sim_control.set_inventory(shop.domain, variant_id, nodes[0]["id"], 0)
    assert levels(out)["Main warehouse"] == (0, main["on_hand"] - main["available"])
    assert out["available"] == 0
    again = await data_of(sim_control, shop, VARIANT, {"id": variant_id})
    assert again["productVariant"]["inventoryQuantity"] == 0
    restocked = await sim_control.set_inventory(
        shop.domain, variant_id, nodes[1]["id"].rsplit("/", 1)[-1], 4
    )
    assert levels(restocked)["Returns center"] == (4, 4) and restocked["available"] == 4
    with pytest.raises(httpx.HTTPStatusError) as bad_location:
        await sim_control.set_inventory(shop.domain, variant_id, "gid://shopify/Location/1", 1)
    assert bad_location.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError) as no_variant:
        await sim_control.inventory(shop.domain, "gid://shopify/ProductVariant/1")
    assert no_variant.value.response.status_code == 404


async def test_dispositions_restock_at_a_location(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    places = await locations_of(sim_control, shop)
    order = await paid_order(sim_control, shop, [{"quantity": 3, "discount": "0"}])
    (line,) = order["lineItems"]
    variant_id = line["variant"]["id"]
    before = levels(await sim_control.inventory(shop.domain, variant_id))
    requested = await open_return(
        sim_control, shop, order["id"], [{"lineItemId": line["id"], "quantity": 3}]
    )
    record = await reverse_of(sim_control, shop, requested["id"])
    (return_line,) = record["returnLineItems"]["nodes"]
    (reverse,) = record["reverseFulfillmentOrders"]["nodes"]
    assert reverse["id"].startswith("gid://shopify/ReverseFulfillmentOrder/")
    assert reverse["status"] == "OPEN"
    (reverse_line,) = reverse["lineItems"]["nodes"]
    assert reverse_line["totalQuantity"] == 3 and reverse_line["dispositions"] == []
    assert reverse_line["fulfillmentLineItem"] == return_line["fulfillmentLineItem"]

    done = await process(
        sim_control,
        shop,
        {
            "returnId": record["id"],
            "returnLineItems": [
                {
                    "id": return_line["id"],
                    "quantity": 2,
                    "dispositions": [
                        {
                            "reverseFulfillmentOrderLineItemId": reverse_line["id"],
                            "quantity": 1,
                            "dispositionType": "RESTOCKED",
                            "locationId": places["Returns center"],
                        },
                        {
                            "reverseFulfillmentOrderLineItemId": reverse_line["id"],
                            "quantity": 1,
                            "dispositionType": "NOT_RESTOCKED",
                        },
                    ],
                }
            ],
        },
    )
    assert done["userErrors"] == [] and done["return"]["status"] == "OPEN"
    after = levels(await sim_control.inventory(shop.domain, variant_id))
    assert after == before | {"Returns center": (1, 1)}
    record = await reverse_of(sim_control, shop, record["id"])
    (reverse,) = record["reverseFulfillmentOrders"]["nodes"]
    assert reverse["status"] == "OPEN"
    restocked, kept = reverse["lineItems"]["nodes"][0]["dispositions"]
    assert restocked["id"].startswith("gid://shopify/ReverseFulfillmentOrderDisposition/")
    assert (restocked["quantity"], restocked["type"], restocked["location"]) == (
        1,
        "RESTOCKED",
        {"id": places["Returns center"], "name": "Returns center"},
    )
    assert restocked["createdAt"].endswith("Z")
    assert (kept["quantity"], kept["type"], kept["location"]) == (1, "NOT_RESTOCKED", None)

    last = await process(
        sim_control,
        shop,
        {
            "returnId": record["id"],
            "returnLineItems": [
                {
                    "id": return_line["id"],
                    "quantity": 1,
                    "dispositions": [
                        {
                            "reverseFulfillmentOrderLineItemId": reverse_line["id"],
                            "quantity": 1,
                            "dispositionType": "RESTOCKED",
                            "locationId": places["Main warehouse"],
                        }
                    ],
                }
            ],
        },
    )
    assert last["userErrors"] == [] and last["return"]["status"] == "CLOSED"
    main_before = before["Main warehouse"]
    assert levels(await sim_control.inventory(shop.domain, variant_id)) == {
        "Main warehouse": (main_before[0] + 1, main_before[1] + 1),
        "Returns center": (1, 1),
    }
    record = await reverse_of(sim_control, shop, record["id"])
    assert record["reverseFulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"

    (shown,) = (await sim_control.shop_state(shop.domain))["returns"]
    (shown_line,) = shown["line_items"]
    assert shown_line["reverse_fulfillment_order_line_item_id"] == reverse_line["id"]
    assert [(d["type"], d["quantity"], d["location_id"]) for d in shown_line["dispositions"]] == [
        ("RESTOCKED", 1, places["Returns center"]),
        ("NOT_RESTOCKED", 1, None),
        ("RESTOCKED", 1, places["Main warehouse"]),
    ]
    assert shown["reverse_fulfillment_orders"] == [
        {"id": reverse["id"], "status": "CLOSED", "line_item_ids": [reverse_line["id"]]}
    ]


async def test_bad_dispositions_are_refused_and_change_nothing(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=0)
    places = await locations_of(sim_control, shop)
    order = await paid_order(
        sim_control,
        shop,
        [{"quantity": 2, "price": "20.00", "discount": "0"}, {"quantity": 1, "discount": "0"}],
    )
    (sale,) = order["transactions"]
    first, second = order["lineItems"]
    other_order = await paid_order(sim_control, shop, [{"quantity": 1, "discount": "0"}])
    mine = await open_return(
        sim_control,
        shop,
        order["id"],
        [{"lineItemId": first["id"], "quantity": 2}, {"lineItemId": second["id"], "quantity": 1}],
    )
    theirs = await open_return(
        sim_control,
        shop,
        other_order["id"],
        [{"lineItemId": other_order["lineItems"][0]["id"], "quantity": 1}],
    )
    record = await reverse_of(sim_control, shop, mine["id"])
    line_one, _line_two = record["returnLineItems"]["nodes"]
    own_first, own_second = record["reverseFulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]
    foreign = (await reverse_of(sim_control, shop, theirs["id"]))["reverseFulfillmentOrders"][
        "nodes"
    ][0]["lineItems"]["nodes"][0]
    stock_before = {
        line["variant"]["id"]: await sim_control.inventory(shop.domain, line["variant"]["id"])
        for line in order["lineItems"]
    }
    refund = {
        "issueRefund": {
            "orderTransactions": [
                {
                    "transactionId": sale["id"],
                    "transactionAmount": {"amount": "5.00", "currencyCode": "USD"},
                }
            ]
        }
    }

    def disposal(reverse_line: str, quantity: int, kind: str, location: str | None) -> Any:
        entry = {
            "reverseFulfillmentOrderLineItemId": reverse_line,
            "quantity": quantity,
            "dispositionType": kind,
        }
        return entry if location is None else entry | {"locationId": location}

    at = ["input", "returnLineItems", "0", "dispositions"]
    for dispositions, code, field in (
        (
            [disposal(foreign["id"], 1, "RESTOCKED", places["Main warehouse"])],
            "NOT_FOUND",
            [*at, "0", "reverseFulfillmentOrderLineItemId"],
        ),
        (
            [disposal(own_second["id"], 1, "RESTOCKED", places["Main warehouse"])],
            "INVALID",
            [*at, "0", "reverseFulfillmentOrderLineItemId"],
        ),
        ([disposal(own_first["id"], 1, "RESTOCKED", None)], "BLANK", [*at, "0", "locationId"]),
        (
            [disposal(own_first["id"], 1, "RESTOCKED", "gid://shopify/Location/1")],
            "NOT_FOUND",
            [*at, "0", "locationId"],
        ),
        (
            [
                disposal(own_first["id"], 1, "MISSING", None),
                disposal(own_first["id"], 1, "RESTOCKED", places["Returns center"]),
            ],
            "LESS_THAN_OR_EQUAL_TO",
            at,
        ),
        (
            [disposal(own_first["id"], 0, "PROCESSING_REQUIRED", None)],
            "GREATER_THAN",
            [*at, "0", "quantity"],
        ),
    ):
        refused = await process(
            sim_control,
            shop,
            {
                "returnId": mine["id"],
                "returnLineItems": [
                    {"id": line_one["id"], "quantity": 1, "dispositions": dispositions}
                ],
                "financialTransfer": refund,
            },
        )
        (error,) = refused["userErrors"]
        assert (error["code"], error["field"]) == (code, field), error
        assert refused["return"]["status"] == "OPEN"
        record = await reverse_of(sim_control, shop, mine["id"])
        assert [n["processedQuantity"] for n in record["returnLineItems"]["nodes"]] == [0, 0]
        reverse_lines = record["reverseFulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]
        assert all(n["dispositions"] == [] for n in reverse_lines)
        for variant_id, stock in stock_before.items():
            assert await sim_control.inventory(shop.domain, variant_id) == stock
        assert (await sim_control.order(shop.domain, order["id"]))["refunds"] == []

    typed = await answer(
        sim_control,
        shop,
        """mutation ($id: ID!, $line: ID!, $rfo: ID!) { returnProcess(input: {returnId: $id,
          returnLineItems: [{id: $line, quantity: 1, dispositions: [{reverseFulfillmentOrderLineItemId: $rfo,
            quantity: 1, dispositionType: BROKEN}]}]}) { userErrors { code } } }""",
        {"id": mine["id"], "line": line_one["id"], "rfo": own_first["id"]},
    )
    assert typed["errors"] and "data" not in typed  # not a ReverseFulfillmentOrderDispositionType


async def test_reverse_fulfillment_orders_follow_the_return(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    order = await paid_order(sim_control, shop, [{"quantity": 4, "discount": "0"}])
    (line,) = order["lineItems"]
    requested = (
        await sim_control.staff_return(
            shop.domain,
            "request",
            orderId=order["id"],
            returnLineItems=[{"lineItemId": line["id"], "quantity": 1}],
        )
    )["return"]
    assert requested["status"] == "REQUESTED" and requested["reverse_fulfillment_orders"] == []
    assert (await reverse_of(sim_control, shop, requested["id"]))["reverseFulfillmentOrders"][
        "nodes"
    ] == []
    canceled = await open_return(
        sim_control, shop, order["id"], [{"lineItemId": line["id"], "quantity": 1}]
    )
    assert (await data_of(sim_control, shop, CANCEL, {"id": canceled["id"]}))["returnCancel"][
        "return"
    ] == {"status": "CANCELED"}
    record = await reverse_of(sim_control, shop, canceled["id"])
    assert record["reverseFulfillmentOrders"]["nodes"][0]["status"] == "CANCELED"
    closed = await open_return(
        sim_control, shop, order["id"], [{"lineItemId": line["id"], "quantity": 1}]
    )
    await data_of(sim_control, shop, CLOSE, {"id": closed["id"]})
    record = await reverse_of(sim_control, shop, closed["id"])
    assert record["reverseFulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    created = (
        await sim_control.staff_return(
            shop.domain,
            "create",
            orderId=order["id"],
            returnLineItems=[{"lineItemId": line["id"], "quantity": 1}],
        )
    )["return"]
    assert created["status"] == "OPEN"
    record = await reverse_of(sim_control, shop, created["id"])
    (reverse,) = record["reverseFulfillmentOrders"]["nodes"]
    assert reverse["status"] == "OPEN"
    assert reverse["lineItems"]["nodes"][0]["totalQuantity"] == 1
    query = """query ($id: ID!) { return(id: $id) { reverseFulfillmentOrders(first: 3) { nodes { id
      lineItems(first: 4) { nodes { id dispositions { id } } } } } } }"""
    cost = (await answer(sim_control, shop, query, {"id": created["id"]}))["extensions"]["cost"]
    # return 1 + 2 + 3 x (1 + 2 + 4 x (1 + dispositions 1))
    assert cost["requestedQueryCost"] == 1 + 2 + 3 * (1 + 2 + 4 * 2)
    assert cost["actualQueryCost"] == 1 + 2 + (1 + 2 + 1)  # no dispositions yet
