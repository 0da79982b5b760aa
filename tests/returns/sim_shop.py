"""A tenant on its own simulator shop with one paid, synced order, and what its staff do and see:
shared by the tests of paying returns back in Shopify."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx

from app.config import Settings
from app.models import Order
from app.models.money import minor_unit
from tests.factories import graphql, merchant_headers
from tests.returns.builders import (
    SimTenant,
    connect_sim_tenant,
    create,
    return_input,
    returnable_variants,
    sim_synced_order,
)
from tests.returns.test_shopify_mirror import decide, run_mirror
from tools.shopify_sim import SimulatorControl, SimulatorServer

VIEW = """query ($id: ID!) { return(id: $id) { status
  outcome { itemsTotal { amount } refundAmount { amount currencyCode } tax { amount } }
  refund { shopifyRefundId amount { amount currencyCode }
    transactions { shopifyTransactionId parentTransactionId gateway
      amount { amount currencyCode } } }
  shopifySync { status error } } }"""
RESOLVE = """mutation ($id: ID!) { resolveReturn(id: $id) {
  return { status } userErrors { code } } }"""
PROCESS_WITH_REFUND = """mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status } userErrors { field code message } } }"""
RETRY = """mutation ($id: ID!) { retryReturnShopifySync(id: $id) {
  return { shopifySync { status } } userErrors { field code } } }"""


def paid_back(outcome: dict[str, Any]) -> dict[str, str]:
    """What a resolved return's outcome pays back in Shopify, as a MoneyV2: its refund amount
    and the tax Shopify computed for the returned lines (recorded once the mirror paid)."""
    money = outcome["refundAmount"]
    assert outcome["tax"] is not None, outcome  # the simulator taxes every order
    total = Decimal(money["amount"]) + Decimal(outcome["tax"]["amount"])
    places = minor_unit(money["currencyCode"])
    return {"amount": f"{total:.{places}f}", "currencyCode": money["currencyCode"]}


class Shop:
    """One tenant on a simulator shop, its staff's headers and a synced order."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        control: SimulatorControl,
        settings: Settings,
        http: httpx.AsyncClient,
        tenant: SimTenant,
        order: Order,
    ) -> None:
        self.client = client
        self.control = control
        self.settings = settings
        self.http = http
        self.tenant = tenant
        self.order = order
        self.headers: dict[str, str] = {}

    async def mirror(self) -> None:
        """The mirror worker, until nothing is left to claim."""
        await run_mirror(self.settings, self.http)

    async def resolved_return(self) -> str:
        return_id = await self.received_return()
        await decide(self.client, self.headers, "resolve", return_id)
        return return_id

    async def received_return(self, quantity: int = 1) -> str:
        """A customer's refund return of the order's first line, approved and received."""
        line = self.order.line_items[0].id
        created = await create(
            self.client, self.tenant.tenant_id, return_input(self.order, [(line, quantity)])
        )
        assert created["userErrors"] == [], created
        return_id = str(created["return"]["id"])
        for action in ("approve", "receive"):
            await decide(self.client, self.headers, action, return_id)
        return return_id

    async def view(self, return_id: str) -> dict[str, Any]:
        body = await graphql(self.client, VIEW, {"id": return_id}, self.headers)
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["return"]
        return found

    async def shopify_order(self) -> dict[str, Any]:
        return await self.control.order(self.tenant.domain, self.order.shopify_id)


async def open_shop(
    client: httpx.AsyncClient,
    settings: Settings,
    simulator: SimulatorServer,
    control: SimulatorControl,
    http: httpx.AsyncClient,
    *,
    currency: str = "USD",
    units: int = 2,
    payments: list[dict[str, str]] | None = None,
) -> Shop:
    tenant = await connect_sim_tenant(control, settings, currency=currency)
    [variant] = returnable_variants(simulator, tenant.domain, 1)
    options: dict[str, Any] = {"payments": payments} if payments is not None else {}
    order = await sim_synced_order(
        control, settings, http, tenant, [{"variant_id": variant, "quantity": units}], **options
    )
    shop = Shop(client, control, settings, http, tenant, order)
    shop.headers = await merchant_headers(tenant.tenant_id)
    return shop


NewShop = Callable[..., Awaitable[Shop]]
