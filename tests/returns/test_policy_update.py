"""updateReturnPolicy: partial changes, validated, visible on tenant.returnPolicy."""

from __future__ import annotations

import httpx

from app.db import Database
from tests.factories import graphql, make_tenant, merchant_headers

UPDATE = """mutation($input: UpdateReturnPolicyInput!) { updateReturnPolicy(input: $input) {
  tenant { returnPolicy { windowDays windowStarts allowedResolutions allowedMethods
    nonReturnableTags nonReturnableProductTypes finalSaleTag restockingFeePercent
    storeCreditBonusPercent autoApprove { enabled maxOrderTotal reasons } } }
  userErrors { field code message } } }"""


async def test_partial_update_keeps_the_rest(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    body = await graphql(
        client,
        UPDATE,
        {
            "input": {
                "windowDays": 14,
                "windowStarts": "ORDER",
                "nonReturnableTags": [" gift-card ", "gift-card", ""],
                "storeCreditBonusPercent": "7.5",
                "autoApprove": {"enabled": True, "maxOrderTotal": "100.00", "reasons": ["COLOR"]},
            }
        },
        headers,
    )
    payload = body["data"]["updateReturnPolicy"]
    assert payload["userErrors"] == []
    policy = payload["tenant"]["returnPolicy"]
    assert policy["windowDays"] == 14
    assert policy["windowStarts"] == "ORDER"
    assert policy["nonReturnableTags"] == ["gift-card"]
    assert policy["storeCreditBonusPercent"] == "7.5"
    assert policy["autoApprove"] == {
        "enabled": True,
        "maxOrderTotal": "100.00",
        "reasons": ["color"],
    }
    assert policy["allowedResolutions"] == ["REFUND", "STORE_CREDIT", "EXCHANGE"]
    again = await graphql(client, UPDATE, {"input": {"finalSaleTag": "clearance"}}, headers)
    kept = again["data"]["updateReturnPolicy"]["tenant"]["returnPolicy"]
    assert kept["windowDays"] == 14 and kept["finalSaleTag"] == "clearance"
    read = await graphql(client, "{ tenant { returnPolicy { windowDays } } }", headers=headers)
    assert read["data"]["tenant"]["returnPolicy"]["windowDays"] == 14


async def test_out_of_range_values_are_user_errors_and_change_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    body = await graphql(
        client,
        UPDATE,
        {
            "input": {
                "windowDays": 3651,
                "restockingFeePercent": "100.01",
                "storeCreditBonusPercent": "-1",
                "allowedMethods": [],
            }
        },
        headers,
    )
    payload = body["data"]["updateReturnPolicy"]
    assert payload["tenant"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["windowDays"], "OUT_OF_RANGE"),
        (["restockingFeePercent"], "OUT_OF_RANGE"),
        (["storeCreditBonusPercent"], "OUT_OF_RANGE"),
        (["allowedMethods"], "BLANK"),
    ]
    edges = await graphql(
        client, UPDATE, {"input": {"windowDays": 3650, "restockingFeePercent": "100"}}, headers
    )
    assert edges["data"]["updateReturnPolicy"]["userErrors"] == []
    stored = await db.db["tenants"].find_one({"_id": tenant.id})
    assert stored is not None and stored["return_policy"]["window_days"] == 3650


async def test_needs_a_merchant(client: httpx.AsyncClient, db: Database) -> None:
    body = await graphql(client, UPDATE, {"input": {"windowDays": 1}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
