"""Helpers for the simulator's return, store credit and inventory tests (no fixtures here)."""

from __future__ import annotations

from typing import Any

from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

REQUEST = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id status
    returnShippingFees { id amountSet { presentmentMoney { amount currencyCode } } }
    returnLineItems(first: 10) { nodes { id quantity
      restockingFee { id percentage amountSet { presentmentMoney { amount currencyCode } } } } } }
  userErrors { field message code } } }
"""
APPROVE = """
mutation ($id: ID!) { returnApproveRequest(input: {id: $id}) {
  return { id status } userErrors { field message code } } }
"""
PROCESS = """
mutation ($input: ReturnProcessInput!) { returnProcess(input: $input) {
  return { id status } userErrors { field message code } } }
"""
ONE_CARD = [{"gateway": "shopify_payments"}]


async def answer(
    control: SimulatorControl,
    shop: InstalledShop,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole GraphQL answer (HTTP 200 asserted)."""
    response = await control.graphql(shop, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def data_of(
    control: SimulatorControl,
    shop: InstalledShop,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = await answer(control, shop, query, variables)
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def money(amount: str, currency: str) -> dict[str, Any]:
    return {"presentmentMoney": {"amount": amount, "currencyCode": currency}}


async def paid_order(
    control: SimulatorControl, shop: InstalledShop, line_items: list[dict[str, Any]], **body: Any
) -> dict[str, Any]:
    """A fulfilled order paid by one card payment (the control API's order view)."""
    created: dict[str, Any] = (
        await control.create_order(
            shop.domain,
            fulfilled=True,
            financial_status="PAID",
            line_items=line_items,
            payments=ONE_CARD,
            **body,
        )
    )["order"]
    return created


async def request_return(
    control: SimulatorControl,
    shop: InstalledShop,
    order_id: str,
    lines: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """`returnRequest` (payload: `return`, `userErrors`)."""
    result: dict[str, Any] = (
        await data_of(
            control,
            shop,
            REQUEST,
            {"input": {"orderId": order_id, "returnLineItems": lines, **extra}},
        )
    )["returnRequest"]
    return result


async def open_return(
    control: SimulatorControl,
    shop: InstalledShop,
    order_id: str,
    lines: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """Request and approve a return; the requested return (with its lines and fees)."""
    requested = await request_return(control, shop, order_id, lines, **extra)
    assert requested["userErrors"] == [], requested["userErrors"]
    record: dict[str, Any] = requested["return"]
    approved = (await data_of(control, shop, APPROVE, {"id": record["id"]}))["returnApproveRequest"]
    assert approved["userErrors"] == [] and approved["return"]["status"] == "OPEN"
    return record


async def process(
    control: SimulatorControl, shop: InstalledShop, process_input: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = (await data_of(control, shop, PROCESS, {"input": process_input}))[
        "returnProcess"
    ]
    return result


def every_unit(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"lineItemId": line["id"], "quantity": line["quantity"]} for line in order["lineItems"]]
