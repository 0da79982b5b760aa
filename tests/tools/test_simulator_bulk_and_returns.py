"""Bulk query JSONL output and the Returns API state machine."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.simulator_fixtures import *  # noqa: F403
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }"""
CURRENT = "{ currentBulkOperation { id status errorCode objectCount rootObjectCount url createdAt completedAt } }"
BULK = "{ orders { edges { node { id name lineItems { edges { node { id quantity } } } } } } }"


async def wait_bulk(control: SimulatorControl, shop: InstalledShop) -> dict[str, Any]:
    for _ in range(200):
        current = (await control.graphql(shop, CURRENT)).json()["data"]["currentBulkOperation"]
        if current["status"] not in {"CREATED", "RUNNING"}:
            return dict(current)
        await asyncio.sleep(0.02)
    raise AssertionError("bulk operation did not finish")


async def test_bulk_query_produces_jsonl_with_parent_ids(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=40)
    started = (await sim_control.graphql(shop, RUN, {"q": BULK})).json()["data"][
        "bulkOperationRunQuery"
    ]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
    busy = (await sim_control.graphql(shop, RUN, {"q": BULK})).json()["data"][
        "bulkOperationRunQuery"
    ]
    assert busy["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    done = await wait_bulk(sim_control, shop)
    assert done["status"] == "COMPLETED" and done["completedAt"]
    lines = [orjson.loads(line) for line in (await sim_http.get(done["url"])).content.splitlines()]
    orders = [line for line in lines if "__parentId" not in line]
    children = [line for line in lines if "__parentId" in line]
    assert len(orders) == 40 == int(done["rootObjectCount"])
    assert int(done["objectCount"]) == len(lines)
    order_ids = {order["id"] for order in orders}
    assert children and all(child["__parentId"] in order_ids for child in children)
    assert all(child["id"].startswith("gid://shopify/LineItem/") for child in children)
    assert all("lineItems" not in order for order in orders)


async def test_invalid_bulk_query_is_a_user_error(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=1)
    result = (await sim_control.graphql(shop, RUN, {"q": "{ orders { nope } }"})).json()["data"][
        "bulkOperationRunQuery"
    ]
    assert result["bulkOperation"] is None and result["userErrors"][0]["code"] == "INVALID"


RETURNABLE = """query($id: ID!) { returnableFulfillments(orderId: $id, first: 5) { nodes {
  returnableFulfillmentLineItems(first: 10) { nodes { quantity fulfillmentLineItem { id lineItem { id } } } } } } }"""
REQUEST = """mutation($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status totalQuantity returnLineItems(first: 5) { nodes { id quantity returnReason } } }
  userErrors { field message code } } }"""
APPROVE = "mutation($id: ID!) { returnApproveRequest(input: {id: $id}) { return { id status } userErrors { message code } } }"
DECLINE = "mutation($id: ID!) { returnDeclineRequest(input: {id: $id, declineReason: FINAL_SALE}) { return { status decline { reason } } userErrors { code } } }"
PROCESS = "mutation($id: ID!) { returnProcess(input: {returnId: $id}) { return { id status closedAt } userErrors { message code } } }"


async def fulfilled_item(
    control: SimulatorControl, shop: InstalledShop
) -> tuple[str, dict[str, Any]]:
    order = (await control.create_order(shop.domain, fulfilled=True, line_items=[{"quantity": 2}]))[
        "order"
    ]
    nodes = (await control.graphql(shop, RETURNABLE, {"id": order["id"]})).json()["data"][
        "returnableFulfillments"
    ]["nodes"]
    return order["id"], nodes[0]["returnableFulfillmentLineItems"]["nodes"][0]


async def test_return_request_approve_process(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=0)
    order_id, item = await fulfilled_item(sim_control, shop)
    assert item["quantity"] == 2
    line = {
        "fulfillmentLineItemId": item["fulfillmentLineItem"]["id"],
        "quantity": 2,
        "returnReason": "SIZE_TOO_SMALL",
    }
    too_many = (
        await sim_control.graphql(
            shop,
            REQUEST,
            {"input": {"orderId": order_id, "returnLineItems": [line | {"quantity": 3}]}},
        )
    ).json()
    assert too_many["data"]["returnRequest"]["userErrors"][0]["field"] == [
        "input",
        "returnLineItems",
        "0",
        "quantity",
    ]
    requested = (
        await sim_control.graphql(
            shop, REQUEST, {"input": {"orderId": order_id, "returnLineItems": [line]}}
        )
    ).json()
    record = requested["data"]["returnRequest"]["return"]
    assert record["status"] == "REQUESTED" and record["totalQuantity"] == 2
    assert record["returnLineItems"]["nodes"][0]["returnReason"] == "SIZE_TOO_SMALL"
    early = (await sim_control.graphql(shop, PROCESS, {"id": record["id"]})).json()["data"][
        "returnProcess"
    ]
    assert early["userErrors"][0]["code"] == "INVALID_STATE"
    approved = (await sim_control.graphql(shop, APPROVE, {"id": record["id"]})).json()["data"][
        "returnApproveRequest"
    ]
    assert approved["return"]["status"] == "OPEN"
    processed = (await sim_control.graphql(shop, PROCESS, {"id": record["id"]})).json()["data"][
        "returnProcess"
    ]
    assert processed["return"]["status"] == "CLOSED" and processed["return"]["closedAt"]
    state = await sim_control.shop_state(shop.domain)
    assert state["returns"][0]["status"] == "CLOSED"


async def test_return_request_by_line_item_and_decline(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=0)
    order_id, item = await fulfilled_item(sim_control, shop)
    line = {
        "lineItemId": item["fulfillmentLineItem"]["lineItem"]["id"],
        "quantity": 1,
        "returnReason": "DEFECTIVE",
    }
    record = (
        await sim_control.graphql(
            shop, REQUEST, {"input": {"orderId": order_id, "returnLineItems": [line]}}
        )
    ).json()["data"]["returnRequest"]["return"]
    declined = (await sim_control.graphql(shop, DECLINE, {"id": record["id"]})).json()["data"][
        "returnDeclineRequest"
    ]
    assert declined["return"] == {"status": "DECLINED", "decline": {"reason": "FINAL_SALE"}}
    unfulfilled = (await sim_control.create_order(shop.domain, fulfilled=False))["order"]
    refused = (
        await sim_control.graphql(
            shop,
            REQUEST,
            {
                "input": {
                    "orderId": unfulfilled["id"],
                    "returnLineItems": [
                        {"lineItemId": unfulfilled["lineItems"][0]["id"], "quantity": 1}
                    ],
                }
            },
        )
    ).json()["data"]["returnRequest"]
    assert refused["return"] is None and refused["userErrors"]
