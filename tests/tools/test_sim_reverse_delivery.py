"""Reverse deliveries on the simulator: `reverseDeliveryCreateWithShipping` (tracking, a return
label), reading them back, user errors that write nothing, several deliveries per reverse
fulfillment order, a lost answer, scopes, the webhook. Creating and reading go through the very
documents the service sends (app/shopify/documents/returns.py), so they must validate here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.shopify.documents.returns import RETURN_REVERSE_DELIVERIES, REVERSE_DELIVERY_CREATE
from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import WebhookReceiver, graphql_errors
from tests.tools.sim_helpers import (
    answer,
    data_of,
    every_unit,
    open_return,
    paid_order,
    request_return,
)
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

DELIVERY = """
query ($id: ID!) { reverseDelivery(id: $id) { id
  reverseFulfillmentOrder { id status }
  deliverable { ... on ReverseDeliveryShippingDeliverable {
    tracking { number url carrierName } label { publicFileUrl createdAt updatedAt } } }
  reverseDeliveryLineItems(first: 10) { nodes { id quantity
    reverseFulfillmentOrderLineItem { id totalQuantity } } } } }
"""
PAGE = """
query ($id: ID!, $after: String) { reverseFulfillmentOrder(id: $id) { id status
  reverseDeliveries(first: 1, after: $after) { nodes { id }
    pageInfo { hasNextPage endCursor } } } }
"""
STATUS = "query ($id: ID!) { return(id: $id) { status reverseFulfillmentOrders(first: 5) { nodes { id } } } }"
CANCEL = "mutation ($id: ID!) { returnCancel(id: $id) { userErrors { code } } }"
CLOSE = "mutation ($id: ID!) { returnClose(id: $id) { userErrors { code } } }"
REOPEN = "mutation ($id: ID!) { returnReopen(id: $id) { userErrors { code } } }"
SUBSCRIBE = """
mutation ($url: URL!) { webhookSubscriptionCreate(topic: REVERSE_DELIVERIES_ATTACH_DELIVERABLE,
  webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { field message } } }
"""
ATTACH = "reverse_deliveries/attach_deliverable"
UPS_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784"
LABEL_URL = "https://labels.example.com/returns/rl-1.pdf"
LINES = "reverseDeliveryLineItems"


@dataclass
class Opened:
    """An OPEN return and its one reverse fulfillment order (line ids in return line order)."""

    return_id: str
    reverse_id: str
    line_ids: list[str]


async def opened(control: SimulatorControl, shop: InstalledShop, *quantities: int) -> Opened:
    """An order of one line per quantity, every unit returned and the return approved."""
    order = await paid_order(
        control, shop, [{"quantity": quantity, "discount": "0"} for quantity in quantities]
    )
    requested = await open_return(control, shop, order["id"], every_unit(order))
    record = await read_back(control, shop, requested["id"])
    (reverse,) = record["reverseFulfillmentOrders"]["nodes"]
    lines = reverse["lineItems"]["nodes"]
    assert [line["totalQuantity"] for line in lines] == list(quantities)
    return Opened(requested["id"], reverse["id"], [line["id"] for line in lines])


async def read_back(
    control: SimulatorControl, shop: InstalledShop, return_id: str
) -> dict[str, Any]:
    record: dict[str, Any] = (
        await data_of(control, shop, RETURN_REVERSE_DELIVERIES, {"id": return_id})
    )["return"]
    return record


def delivered(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reverse delivery of a `RETURN_REVERSE_DELIVERIES` answer."""
    return [
        delivery
        for reverse in record["reverseFulfillmentOrders"]["nodes"]
        for delivery in reverse["reverseDeliveries"]["nodes"]
    ]


async def create(
    control: SimulatorControl,
    shop: InstalledShop,
    reverse_id: str,
    lines: list[dict[str, Any]],
    **variables: Any,
) -> dict[str, Any]:
    """`reverseDeliveryCreateWithShipping` through the service's document (its payload)."""
    data = await data_of(
        control,
        shop,
        REVERSE_DELIVERY_CREATE,
        {"reverseFulfillmentOrderId": reverse_id, "lines": lines, **variables},
    )
    payload: dict[str, Any] = data["reverseDeliveryCreateWithShipping"]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    """(field, code) of each user error."""
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def line(line_id: str, quantity: int) -> dict[str, Any]:
    return {"reverseFulfillmentOrderLineItemId": line_id, "quantity": quantity}


async def attach_events(control: SimulatorControl, shop: InstalledShop) -> list[dict[str, Any]]:
    events = (await control.deliveries(shop.domain))["events"]
    return [event for event in events if event["topic"] == ATTACH]


async def test_a_delivery_with_tracking_and_a_label_reads_back(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=1)
    opened_return = await opened(sim_control, shop, 3, 1)
    empty = await answer(
        sim_control, shop, RETURN_REVERSE_DELIVERIES, {"id": opened_return.return_id}
    )
    assert delivered(empty["data"]["return"]) == []
    # return 1 + RFOs 2 + 5 x (1 + lineItems (2 + 50 x 1) + deliveries (2 + 10 x (1 + deliverable
    # 1 + tracking 1 + label 1)))
    assert empty["extensions"]["cost"]["requestedQueryCost"] == 1 + 2 + 5 * (1 + 52 + 42)
    assert empty["extensions"]["cost"]["actualQueryCost"] == 1 + 2 + (1 + (2 + 2) + 2)

    created = await answer(
        sim_control,
        shop,
        REVERSE_DELIVERY_CREATE,
        {
            "reverseFulfillmentOrderId": opened_return.reverse_id,
            "lines": [line(opened_return.line_ids[0], 2), line(opened_return.line_ids[1], 1)],
            "tracking": {"number": "1Z999AA10123456784", "url": UPS_URL},
            "label": {"fileUrl": LABEL_URL},
            "notifyCustomer": True,
        },
    )
    payload = created["data"]["reverseDeliveryCreateWithShipping"]
    assert payload["userErrors"] == []
    delivery_id = payload["reverseDelivery"]["id"]
    assert delivery_id.startswith("gid://shopify/ReverseDelivery/")
    assert created["extensions"]["cost"]["requestedQueryCost"] == 10
    assert created["extensions"]["cost"]["actualQueryCost"] == 10

    read = await answer(
        sim_control, shop, RETURN_REVERSE_DELIVERIES, {"id": opened_return.return_id}
    )
    record = read["data"]["return"]
    assert record["status"] == "OPEN"
    assert delivered(record) == [
        {
            "id": delivery_id,
            "deliverable": {
                "__typename": "ReverseDeliveryShippingDeliverable",
                "tracking": {"number": "1Z999AA10123456784", "url": UPS_URL, "carrierName": "UPS"},
                "label": {"publicFileUrl": LABEL_URL},
            },
        }
    ]
    assert read["extensions"]["cost"]["actualQueryCost"] == 1 + 2 + (1 + (2 + 2) + (2 + 4))

    by_id = (await data_of(sim_control, shop, DELIVERY, {"id": delivery_id}))["reverseDelivery"]
    assert by_id["reverseFulfillmentOrder"] == {"id": opened_return.reverse_id, "status": "OPEN"}
    label = by_id["deliverable"]["label"]
    assert label["createdAt"] == label["updatedAt"] and label["createdAt"].endswith("Z")
    assert [
        (n["quantity"], n["reverseFulfillmentOrderLineItem"])
        for n in by_id["reverseDeliveryLineItems"]["nodes"]
    ] == [
        (2, {"id": opened_return.line_ids[0], "totalQuantity": 3}),
        (1, {"id": opened_return.line_ids[1], "totalQuantity": 1}),
    ]
    line_ids = [n["id"] for n in by_id["reverseDeliveryLineItems"]["nodes"]]
    assert all(i.startswith("gid://shopify/ReverseDeliveryLineItem/") for i in line_ids)

    (shown,) = await sim_control.reverse_deliveries(shop.domain, opened_return.return_id)
    assert shown == {
        "id": delivery_id,
        "reverse_fulfillment_order_id": opened_return.reverse_id,
        "created_at": label["createdAt"],
        "tracking": {
            "carrier_name": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": UPS_URL,
        },
        "label_url": LABEL_URL,
        "notify_customer": True,
        "customer_notified": True,
        "line_items": [
            {
                "id": line_ids[0],
                "reverse_fulfillment_order_line_item_id": opened_return.line_ids[0],
                "quantity": 2,
            },
            {
                "id": line_ids[1],
                "reverse_fulfillment_order_line_item_id": opened_return.line_ids[1],
                "quantity": 1,
            },
        ],
    }
    state = await sim_control.return_state(shop.domain, opened_return.return_id.rsplit("/", 1)[-1])
    (reverse,) = state["reverse_fulfillment_orders"]
    assert reverse["reverse_deliveries"] == [shown]
    assert state["id"] == opened_return.return_id and state["status"] == "OPEN"


async def test_invalid_input_is_a_user_error_and_writes_nothing(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=1)
    mine = await opened(sim_control, shop, 3)
    sibling = await opened(sim_control, shop, 1)  # another return of the same shop
    elsewhere_shop = await sim_control.create_shop(orders=1)
    elsewhere = await opened(sim_control, elsewhere_shop, 1)
    first = mine.line_ids[0]
    rfo = mine.reverse_id
    root, line_id = ["reverseFulfillmentOrderId"], [LINES, "0", "reverseFulfillmentOrderLineItemId"]
    quantity, url = [LINES, "0", "quantity"], ["trackingInput", "url"]
    unknown_line = "gid://shopify/ReverseFulfillmentOrderLineItem/1"
    ftp = {"tracking": {"number": "1", "url": "ftp://carrier.example/1"}}
    script = {"label": {"fileUrl": "javascript:alert(1)"}}
    cases: list[tuple[str, list[dict[str, Any]], dict[str, Any], list[str], str]] = [
        ("gid://shopify/ReverseFulfillmentOrder/1", [line(first, 1)], {}, root, "NOT_FOUND"),
        (elsewhere.reverse_id, [line(elsewhere.line_ids[0], 1)], {}, root, "NOT_FOUND"),
        (rfo, [line(sibling.line_ids[0], 1)], {}, line_id, "NOT_FOUND"),
        (rfo, [line(unknown_line, 1)], {}, line_id, "NOT_FOUND"),
        (rfo, [line(first, 0)], {}, quantity, "GREATER_THAN"),
        (rfo, [line(first, -2)], {}, quantity, "GREATER_THAN"),
        (rfo, [line(first, 4)], {}, quantity, "LESS_THAN_OR_EQUAL_TO"),
        # repeats of a line add up against what is left of it
        (
            rfo,
            [line(first, 2), line(first, 2)],
            {},
            [LINES, "1", "quantity"],
            "LESS_THAN_OR_EQUAL_TO",
        ),
        (rfo, [line(first, 1)], ftp, url, "INVALID"),
        (rfo, [line(first, 1)], {"tracking": {"url": "not a url"}}, url, "INVALID"),
        # the lines are fine: a bad label alone refuses the whole delivery
        (rfo, [line(first, 3)], script, ["labelInput", "fileUrl"], "INVALID"),
    ]
    for reverse_id, lines, extra, field, code in cases:
        payload = await create(sim_control, shop, reverse_id, lines, **extra)
        assert payload["reverseDelivery"] is None, (lines, extra)
        assert problems(payload) == [(field, code)], (lines, extra)
        assert payload["userErrors"][0]["message"]

    canceled = await opened(sim_control, shop, 1)
    assert (await data_of(sim_control, shop, CANCEL, {"id": canceled.return_id}))["returnCancel"][
        "userErrors"
    ] == []
    closed = await opened(sim_control, shop, 1)
    assert (await data_of(sim_control, shop, CLOSE, {"id": closed.return_id}))["returnClose"][
        "userErrors"
    ] == []
    for shut in (canceled, closed):
        payload = await create(sim_control, shop, shut.reverse_id, [line(shut.line_ids[0], 1)])
        assert problems(payload) == [(["reverseFulfillmentOrderId"], "INVALID_STATE")]
    # a REQUESTED (or, from there, DECLINED) return has no reverse fulfillment order to name
    order = await paid_order(sim_control, shop, [{"quantity": 1, "discount": "0"}])
    requested = await request_return(sim_control, shop, order["id"], every_unit(order))
    status = (await data_of(sim_control, shop, STATUS, {"id": requested["return"]["id"]}))["return"]
    assert status == {"status": "REQUESTED", "reverseFulfillmentOrders": {"nodes": []}}

    for record, owner in (
        (mine, shop),
        (sibling, shop),
        (canceled, shop),
        (closed, shop),
        (elsewhere, elsewhere_shop),
    ):
        assert delivered(await read_back(sim_control, owner, record.return_id)) == []
        assert await sim_control.reverse_deliveries(owner.domain, record.return_id) == []

    # reopened, the closed return's goods can be sent back again
    assert (await data_of(sim_control, shop, REOPEN, {"id": closed.return_id}))["returnReopen"][
        "userErrors"
    ] == []
    fedex = "https://www.fedex.com/fedextrack/?trknbr=7489"
    reopened = await create(
        sim_control, shop, closed.reverse_id, [line(closed.line_ids[0], 1)], tracking={"url": fedex}
    )
    assert reopened["userErrors"] == []
    (shown,) = await sim_control.reverse_deliveries(shop.domain, closed.return_id)
    assert shown["tracking"] == {
        "carrier_name": "FedEx",
        "tracking_number": None,
        "tracking_url": fedex,
    }


async def test_several_deliveries_share_out_the_units(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=1)
    opened_return = await opened(sim_control, shop, 3)
    (line_id,) = opened_return.line_ids
    first = await create(
        sim_control,
        shop,
        opened_return.reverse_id,
        [line(line_id, 1)],
        tracking={"number": "TRACK-1"},
        notifyCustomer=False,
    )
    assert first["userErrors"] == []
    # an empty list is every unit not yet on a delivery; notifyCustomer left out is Shopify's true
    second = await create(
        sim_control, shop, opened_return.reverse_id, [], label={"fileUrl": LABEL_URL}
    )
    assert second["userErrors"] == []
    assert second["reverseDelivery"]["id"] != first["reverseDelivery"]["id"]
    nothing_left = await create(sim_control, shop, opened_return.reverse_id, [])
    assert problems(nothing_left) == [([LINES], "INVALID")]
    too_many = await create(sim_control, shop, opened_return.reverse_id, [line(line_id, 1)])
    assert problems(too_many) == [([LINES, "0", "quantity"], "LESS_THAN_OR_EQUAL_TO")]

    record = await read_back(sim_control, shop, opened_return.return_id)
    assert delivered(record) == [
        {
            "id": first["reverseDelivery"]["id"],
            "deliverable": {
                "__typename": "ReverseDeliveryShippingDeliverable",
                "tracking": {"number": "TRACK-1", "url": None, "carrierName": None},
                "label": None,
            },
        },
        {
            "id": second["reverseDelivery"]["id"],
            "deliverable": {
                "__typename": "ReverseDeliveryShippingDeliverable",
                "tracking": None,
                "label": {"publicFileUrl": LABEL_URL},
            },
        },
    ]
    shown = await sim_control.reverse_deliveries(shop.domain, opened_return.return_id)
    assert [
        (d["line_items"][0]["quantity"], d["notify_customer"], d["customer_notified"])
        for d in shown
    ] == [(1, False, False), (2, True, True)]

    page = (await data_of(sim_control, shop, PAGE, {"id": opened_return.reverse_id}))[
        "reverseFulfillmentOrder"
    ]
    assert page["reverseDeliveries"]["nodes"] == [{"id": first["reverseDelivery"]["id"]}]
    assert page["reverseDeliveries"]["pageInfo"]["hasNextPage"] is True
    after = page["reverseDeliveries"]["pageInfo"]["endCursor"]
    rest = (
        await data_of(sim_control, shop, PAGE, {"id": opened_return.reverse_id, "after": after})
    )["reverseFulfillmentOrder"]["reverseDeliveries"]
    assert rest["nodes"] == [{"id": second["reverseDelivery"]["id"]}]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_a_delivery_whose_answer_is_lost_reads_back_once(
    sim_control: SimulatorControl,
) -> None:
    shop = await sim_control.create_shop(orders=1)
    opened_return = await opened(sim_control, shop, 2)
    variables = {
        "reverseFulfillmentOrderId": opened_return.reverse_id,
        "lines": [line(opened_return.line_ids[0], 2)],
        "tracking": {"number": "LOST-1", "url": UPS_URL},
    }
    await sim_control.drop_next_responses(
        shop.domain, 1, operation="reverseDeliveryCreateWithShipping"
    )
    lost = await sim_control.graphql(shop, REVERSE_DELIVERY_CREATE, variables)
    assert lost.status_code == 502 and lost.content == b""
    assert (await sim_control.shop_state(shop.domain))["counters"]["faults_dropped"] == 1

    # the caller that lost the answer reads back before trying again: the delivery is there
    (delivery,) = delivered(await read_back(sim_control, shop, opened_return.return_id))
    assert delivery["deliverable"]["tracking"]["number"] == "LOST-1"
    # sending the same units again is refused (they are all on that delivery): still one
    again = await create(sim_control, shop, **_create_args(variables))
    assert [e["code"] for e in again["userErrors"]] == ["LESS_THAN_OR_EQUAL_TO"]
    assert len(await sim_control.reverse_deliveries(shop.domain, opened_return.return_id)) == 1


def _create_args(variables: dict[str, Any]) -> dict[str, Any]:
    """`create`'s arguments from the document's variables."""
    rest = dict(variables)
    return {
        "reverse_id": rest.pop("reverseFulfillmentOrderId"),
        "lines": rest.pop("lines"),
        **rest,
    }


async def staff_opened(control: SimulatorControl, shop: InstalledShop) -> dict[str, Any]:
    """An OPEN return staff created in admin (no app scope involved): the control API's view."""
    order = await paid_order(control, shop, [{"quantity": 1, "discount": "0"}])
    item = order["fulfillments"][0]["fulfillmentLineItems"][0]
    created = await control.staff_return(
        shop.domain,
        "create",
        orderId=order["id"],
        returnLineItems=[{"fulfillmentLineItemId": item["id"], "quantity": 1}],
    )
    record: dict[str, Any] = created["return"]
    return record


async def test_scopes_guard_writing_and_reading(sim_control: SimulatorControl) -> None:
    read_only = await sim_control.create_shop(orders=1, scope="read_orders,read_returns")
    record = await staff_opened(sim_control, read_only)
    (reverse,) = record["reverse_fulfillment_orders"]
    variables = {
        "reverseFulfillmentOrderId": reverse["id"],
        "lines": [line(reverse["line_item_ids"][0], 1)],
        "label": {"fileUrl": LABEL_URL},
    }
    denied = await answer(sim_control, read_only, REVERSE_DELIVERY_CREATE, variables)
    assert graphql_errors(denied) == ["ACCESS_DENIED"]
    assert denied["data"] == {"reverseDeliveryCreateWithShipping": None}
    assert "`write_returns` access scope" in denied["errors"][0]["message"]
    assert denied["errors"][0]["path"] == ["reverseDeliveryCreateWithShipping"]
    assert await sim_control.reverse_deliveries(read_only.domain, record["id"]) == []
    assert delivered(await read_back(sim_control, read_only, record["id"])) == []

    # the merchant grants write_returns: the live token may create at once
    await sim_control.change_scopes(read_only.domain, "read_orders,read_returns,write_returns")
    granted = await create(sim_control, read_only, **_create_args(variables))
    assert granted["userErrors"] == []

    # a write scope grants its read scope; the marketplace scopes do as well as the plain ones
    for scope in ("read_orders,write_returns", "read_orders,write_marketplace_returns"):
        shop = await sim_control.create_shop(orders=1, scope=scope)
        record = await staff_opened(sim_control, shop)
        (reverse,) = record["reverse_fulfillment_orders"]
        made = await create(
            sim_control, shop, reverse["id"], [line(reverse["line_item_ids"][0], 1)]
        )
        assert made["userErrors"] == [], scope
        assert len(delivered(await read_back(sim_control, shop, record["id"]))) == 1, scope

    orders_only = await sim_control.create_shop(orders=1, scope="read_orders")
    record = await staff_opened(sim_control, orders_only)
    unread = await answer(sim_control, orders_only, RETURN_REVERSE_DELIVERIES, {"id": record["id"]})
    assert graphql_errors(unread) == ["ACCESS_DENIED"]
    assert unread["errors"][0]["extensions"]["requiredAccess"] == (
        "`read_returns` access scope or `read_marketplace_returns` access scope."
    )
    assert unread["data"] == {"return": None}


async def test_attaching_a_deliverable_sends_the_webhook_to_subscribers(
    sim_control: SimulatorControl, webhook_receiver: WebhookReceiver
) -> None:
    shop = await sim_control.create_shop(orders=1)
    path = webhook_receiver.new_path(200)
    subscribed = await data_of(sim_control, shop, SUBSCRIBE, {"url": webhook_receiver.url(path)})
    assert subscribed["webhookSubscriptionCreate"]["userErrors"] == []
    opened_return = await opened(sim_control, shop, 2)
    (line_id,) = opened_return.line_ids

    bare = await create(sim_control, shop, opened_return.reverse_id, [line(line_id, 1)])
    assert bare["userErrors"] == []
    assert await attach_events(sim_control, shop) == []  # no tracking, no label: nothing attached
    labelled = await create(
        sim_control,
        shop,
        opened_return.reverse_id,
        [line(line_id, 1)],
        label={"fileUrl": LABEL_URL},
    )
    assert labelled["userErrors"] == []

    (received,) = await webhook_receiver.wait_for(path, 1)
    assert received.headers["x-shopify-topic"] == ATTACH
    payload = orjson.loads(received.body)
    delivery_id = labelled["reverseDelivery"]["id"]
    unlabelled, shown = await sim_control.reverse_deliveries(shop.domain, opened_return.return_id)
    assert (unlabelled["id"], shown["id"]) == (bare["reverseDelivery"]["id"], delivery_id)
    # asked to notify (Shopify's default), but with no label there are no instructions to send
    assert (unlabelled["notify_customer"], unlabelled["customer_notified"]) == (True, False)
    assert payload == {
        "id": int(delivery_id.rsplit("/", 1)[-1]),
        "admin_graphql_api_id": delivery_id,
        "return": {
            "id": int(opened_return.return_id.rsplit("/", 1)[-1]),
            "admin_graphql_api_id": opened_return.return_id,
        },
        "shipping_deliverable": {
            "tracking": None,
            "label": {"public_file_url": LABEL_URL, "created_at": shown["created_at"]},
        },
    }
    assert len(await attach_events(sim_control, shop)) == 1

    # a shop that does not subscribe to the topic gets no such event at all
    quiet = await sim_control.create_shop(orders=1)
    quiet_return = await opened(sim_control, quiet, 1)
    made = await create(
        sim_control,
        quiet,
        quiet_return.reverse_id,
        [line(quiet_return.line_ids[0], 1)],
        label={"fileUrl": LABEL_URL},
    )
    assert made["userErrors"] == []
    assert await attach_events(sim_control, quiet) == []
