"""Risk signals: a customer on the tenant's block list is refused at request time; each return
shows what its customer returned before, and a serial returner's request is flagged and never
approved automatically."""

from __future__ import annotations

from typing import Any

import httpx

from app.db import Database
from app.models import Return
from app.models.return_request import ReturnStatus
from app.services.returns.ledger import reserved_units
from tests.factories import graphql, make_order, make_tenant, merchant_headers
from tests.returns.builders import create, return_input

POLICY = """mutation ($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  tenant { returnPolicy { blockedEmails serialReturner { enabled maxUnits windowDays } } }
  userErrors { field code } } }"""
RISK = """query ($id: ID!) { return(id: $id) { status
  risk { windowDays returnsCount units value { amount currencyCode } orderedUnits rate
    flagged reason } } }"""


async def _policy(
    client: httpx.AsyncClient, headers: dict[str, str], change: dict[str, Any]
) -> dict[str, Any]:
    body = await graphql(client, POLICY, {"input": change}, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateReturnPolicy"]
    return payload


async def test_a_blocked_customer_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("riskshop")
    headers = await merchant_headers(tenant.id)
    changed = await _policy(client, headers, {"blockedEmails": [" Fraud@Example.COM ", ""]})
    assert changed["tenant"]["returnPolicy"]["blockedEmails"] == ["fraud@example.com"]
    order = await make_order(tenant.id, 1001, email="fraud@example.com")

    created = await create(client, tenant.id, return_input(order, email="FRAUD@example.com"))

    assert created["return"] is None
    assert created["userErrors"][0]["code"] == "ORDER_NOT_ELIGIBLE"
    assert created["userErrors"][0]["field"] == ["customerEmail"]
    assert "contact the store" in created["userErrors"][0]["message"]
    assert await Return.find({"tenant_id": tenant.id}).count() == 0
    assert await reserved_units(tenant.id, order.order_number) == {}


async def test_a_serial_returner_is_flagged_and_not_approved_automatically(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("riskshop")
    headers = await merchant_headers(tenant.id)
    await _policy(
        client,
        headers,
        {
            "serialReturner": {"enabled": True, "maxUnits": 2, "windowDays": 365},
            "autoApprove": {"enabled": True},
        },
    )
    first = await make_order(tenant.id, 1001, email="often@example.com", quantity=5)
    line = first.line_items[0].id
    earlier = [await create(client, tenant.id, return_input(first, [(line, 1)])) for _ in range(2)]
    assert [e["return"]["status"] for e in earlier] == ["APPROVED", "APPROVED"]
    # The third unit tips the rule: flagged, it waits; staff decline it, and a declined
    # return brought nothing back, so it does not count afterwards.
    third = await create(client, tenant.id, return_input(first, [(line, 1)]))
    assert third["return"]["status"] == "REQUESTED"
    declined = await graphql(
        client,
        "mutation ($id: ID!) { declineReturn(id: $id) { userErrors { code } } }",
        {"id": third["return"]["id"]},
        headers,
    )
    assert declined["data"]["declineReturn"]["userErrors"] == []

    flagged = await create(client, tenant.id, return_input(first, [(line, 1)]))
    body = await graphql(client, RISK, {"id": flagged["return"]["id"]}, headers)
    view = body["data"]["return"]
    assert view["status"] == "REQUESTED"  # waits for staff despite the auto-approve rule
    assert view["risk"] == {
        "windowDays": 365,
        "returnsCount": 2,
        "units": 2,
        "value": {"amount": "50.00", "currencyCode": "USD"},
        "orderedUnits": 5,
        "rate": 0.4,  # 2 of the 5 units ordered came back before
        "flagged": True,
        "reason": "3 units returned in 365 days with this return (more than 2)",
    }

    # Another customer of the same shop is not affected.
    other = await make_order(tenant.id, 1002, email="rarely@example.com")
    calm = await create(client, tenant.id, return_input(other))
    assert calm["return"]["status"] == "APPROVED"
    stored = await Return.find_one({"tenant_id": tenant.id, "customer_email": "rarely@example.com"})
    assert stored is not None and stored.risk is not None and not stored.risk.flagged
    assert stored.status is ReturnStatus.APPROVED


async def test_risk_settings_are_checked(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("riskshop")
    headers = await merchant_headers(tenant.id)
    refused = await _policy(
        client, headers, {"serialReturner": {"enabled": True, "maxUnits": 0, "windowDays": 0}}
    )
    assert refused["tenant"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["serialReturner", "maxUnits"], "OUT_OF_RANGE"),
        (["serialReturner", "windowDays"], "OUT_OF_RANGE"),
    ]
    too_many = await _policy(
        client, headers, {"blockedEmails": [f"c{n}@example.com" for n in range(1001)]}
    )
    assert [(e["field"], e["code"]) for e in too_many["userErrors"]] == [
        (["blockedEmails"], "TOO_LONG")
    ]
