"""Orders carry Shopify's aggregated `returnStatus`, and the `return_status` search filter finds
the orders with returns (what a resync reconciles)."""

from __future__ import annotations

from tests.simulator_fixtures import *  # noqa: F403
from tests.tools.sim_helpers import data_of, every_unit, open_return, paid_order, request_return
from tools.shopify_sim import SimulatorControl

ORDERS = """
query ($query: String) { orders(first: 10, query: $query) { nodes { id returnStatus } } }
"""


async def test_return_status_and_its_search_filter(sim_control: SimulatorControl) -> None:
    shop = await sim_control.create_shop(orders=0)
    line = [{"quantity": 2}]
    quiet = await paid_order(sim_control, shop, line)
    asked = await paid_order(sim_control, shop, line)
    opened = await paid_order(sim_control, shop, line)
    requested = await request_return(sim_control, shop, asked["id"], every_unit(asked))
    assert requested["userErrors"] == []
    await open_return(sim_control, shop, opened["id"], every_unit(opened))

    async def statuses(query: str | None) -> dict[str, str]:
        data = await data_of(sim_control, shop, ORDERS, {"query": query})
        return {node["id"]: node["returnStatus"] for node in data["orders"]["nodes"]}

    assert await statuses(None) == {
        quiet["id"]: "NO_RETURN",
        asked["id"]: "RETURN_REQUESTED",
        opened["id"]: "IN_PROGRESS",
    }
    assert set(await statuses("-return_status:no_return")) == {asked["id"], opened["id"]}
    assert set(await statuses("return_status:in_progress")) == {opened["id"]}
