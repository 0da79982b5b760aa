"""Admin GraphQL on the simulator: real GraphQL semantics, search, cost and the leaky bucket."""

from __future__ import annotations

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import graphql_errors
from tools.shopify_sim import BucketConfig, SimulatorControl
from tools.shopify_sim.control_client import InstalledShop
from tools.shopify_sim.seed import new_shop

COST_QUERY = """
query Cost($n: Int!) {
  shop { name }
  orders(first: $n) {
    edges { cursor node { id lineItems(first: 5) { nodes { id variant { id } } } customer { email } } }
    pageInfo { hasNextPage }
  }
}
"""


async def test_requested_cost_matches_hand_calculation(
    sim_control: SimulatorControl, sim_shop: InstalledShop
):
    response = await sim_control.graphql(sim_shop, COST_QUERY, {"n": 10})
    cost = response.json()["extensions"]["cost"]
    # shop 1 + orders: 2 + 10 * (node 1 + customer 1 + lineItems (2 + 5 * (node 1 + variant 1)))
    assert cost["requestedQueryCost"] == 1 + 2 + 10 * (1 + 1 + (2 + 5 * 2))
    # actual: only the line items really returned are charged
    data = response.json()["data"]
    lines = sum(len(edge["node"]["lineItems"]["nodes"]) for edge in data["orders"]["edges"])
    assert cost["actualQueryCost"] == 1 + 2 + 10 * (1 + 1 + 2) + lines * 2
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 1000.0 and status["restoreRate"] == 50.0
    assert 1000 - cost["actualQueryCost"] - 1 <= status["currentlyAvailable"] <= 1000


async def test_mutation_costs_ten(sim_control: SimulatorControl, sim_shop: InstalledShop):
    mutation = 'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { userErrors { message } } }'
    cost = (await sim_control.graphql(sim_shop, mutation)).json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10


async def test_throttled_is_http_200_with_code(sim_control: SimulatorControl):
    shop = await sim_control.create_shop(orders=30, bucket_size=100, restore_rate=1)
    query = "{ orders(first: 30) { nodes { id } } }"  # requested 32
    statuses, codes = [], []
    for _ in range(5):
        response = await sim_control.graphql(shop, query)
        statuses.append(response.status_code)
        codes.append(graphql_errors(response.json()))
    assert statuses == [200] * 5
    assert ["THROTTLED"] in codes
    throttled = next(r for r in codes if r == ["THROTTLED"])
    assert throttled == ["THROTTLED"]
    last = response.json()
    assert last["extensions"]["cost"]["requestedQueryCost"] == 32
    assert last["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 32


async def test_max_cost_exceeded(sim_control: SimulatorControl, sim_shop: InstalledShop):
    query = "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }"
    body = (await sim_control.graphql(sim_shop, query)).json()
    assert graphql_errors(body) == ["MAX_COST_EXCEEDED"]
    assert "data" not in body or body["data"] is None


async def test_page_size_over_250_is_an_error(
    sim_control: SimulatorControl, sim_shop: InstalledShop
):
    body = (
        await sim_control.graphql(sim_shop, "{ customers(first: 251) { nodes { id } } }")
    ).json()
    assert body["errors"] and body["data"] is None
    body = (await sim_control.graphql(sim_shop, "{ customers { nodes { id } } }")).json()
    assert "first or last" in body["errors"][0]["message"]


async def test_aliases_fragments_and_variables(
    sim_control: SimulatorControl, sim_shop: InstalledShop
):
    query = """
    query Two($a: Int!, $q: String) {
      recent: orders(first: $a, reverse: true, sortKey: CREATED_AT) { nodes { ...O } }
      oldest: orders(first: 1, query: $q) { nodes { ...O __typename } }
    }
    fragment O on Order { id number: name createdAt }
    """
    body = (await sim_control.graphql(sim_shop, query, {"a": 2, "q": "name:#1001"})).json()
    data = body["data"]
    assert [n["number"] for n in data["oldest"]["nodes"]] == ["#1001"]
    assert data["oldest"]["nodes"][0]["__typename"] == "Order"
    recent = data["recent"]["nodes"]
    assert len(recent) == 2 and recent[0]["createdAt"] >= recent[1]["createdAt"]


async def test_search_filters_on_dates(sim_control: SimulatorControl, sim_shop: InstalledShop):
    everything = (
        await sim_control.graphql(
            sim_shop, "{ orders(first: 250) { nodes { id updatedAt createdAt } } }"
        )
    ).json()
    nodes = everything["data"]["orders"]["nodes"]
    pivot = sorted(n["updatedAt"] for n in nodes)[len(nodes) // 2]
    query = "query($q: String) { orders(first: 250, query: $q) { nodes { id } } ordersCount(query: $q) { count precision } }"
    for search, expected in (
        (f"updated_at:>'{pivot}'", [n for n in nodes if n["updatedAt"] > pivot]),
        (f"updated_at:>={pivot}", [n for n in nodes if n["updatedAt"] >= pivot]),
        (
            f"created_at:<'{pivot}' AND updated_at:>='2000-01-01'",
            [n for n in nodes if n["createdAt"] < pivot],
        ),
    ):
        filtered = (await sim_control.graphql(sim_shop, query, {"q": search})).json()["data"]
        assert {n["id"] for n in filtered["orders"]["nodes"]} == {n["id"] for n in expected}
        assert filtered["ordersCount"] == {"count": len(expected), "precision": "EXACT"}


async def test_cursor_pages_cover_everything_once(
    sim_control: SimulatorControl, sim_shop: InstalledShop
):
    seen: list[str] = []
    after = None
    query = "query($after: String) { orders(first: 7, after: $after, sortKey: UPDATED_AT) { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }"
    while True:
        page = (await sim_control.graphql(sim_shop, query, {"after": after})).json()["data"][
            "orders"
        ]
        seen += [n["id"] for n in page["nodes"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 25


async def test_order_shape(sim_control: SimulatorControl, sim_shop: InstalledShop):
    query = """{ orders(first: 1) { nodes {
      id name displayFinancialStatus displayFulfillmentStatus currencyCode tags createdAt updatedAt
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id email firstName lastName phone }
      lineItems(first: 5) { nodes { id title quantity currentQuantity variant { id title sku price }
        product { id productType tags } originalUnitPriceSet { shopMoney { amount } } } }
      fulfillments { status createdAt deliveredAt }
    } } }"""
    order = (await sim_control.graphql(sim_shop, query)).json()["data"]["orders"]["nodes"][0]
    assert order["id"].startswith("gid://shopify/Order/") and order["name"] == "#1001"
    assert order["customer"]["id"].startswith("gid://shopify/Customer/")
    line = order["lineItems"]["nodes"][0]
    assert line["id"].startswith("gid://shopify/LineItem/")
    assert line["variant"]["id"].startswith("gid://shopify/ProductVariant/")
    assert "." in line["originalUnitPriceSet"]["shopMoney"]["amount"]
    assert order["createdAt"].endswith("Z")


def test_seeding_is_deterministic():
    # (how fast 10,000 orders seed is the benchmark's business, not a test's)
    first = new_shop(
        "big.myshopify.com", seed=3, orders=10_000, bucket=BucketConfig(), compliance_url=None
    )
    second = new_shop(
        "big.myshopify.com", seed=3, orders=50, bucket=BucketConfig(), compliance_url=None
    )
    assert len(first.orders) == 10_000
    assert first.orders[-1]["name"] == "#11000"
    assert first.products[0]["id"] == second.products[0]["id"]
    other = new_shop(
        "other.myshopify.com", seed=3, orders=50, bucket=BucketConfig(), compliance_url=None
    )
    assert other.orders[0]["id"] != second.orders[0]["id"]
