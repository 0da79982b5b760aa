"""Tenants never see each other's data, whatever ids, filters or cursors they send."""

from __future__ import annotations

import httpx

from app.services.pagination import encode_cursor
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers


async def _two_tenants() -> tuple[dict[str, str], dict[str, object]]:
    alpha = await make_tenant("alpha")
    beta = await make_tenant("beta")
    a_orders = [await make_order(alpha.id, 1000 + i, email="a@alpha.test") for i in range(3)]
    a_returns = [await make_return(order) for order in a_orders]
    await make_order(beta.id, 2001, email="b@beta.test")
    return await merchant_headers(beta.id), {"orders": a_orders, "returns": a_returns}


async def test_lists_hold_only_the_callers_data(client: httpx.AsyncClient) -> None:
    beta_headers, _ = await _two_tenants()
    body = await graphql(
        client,
        "{ orders(first: 50) { nodes { orderNumber } } returns(first: 50) { nodes { id } }"
        " customers(first: 50) { nodes { id } } }",
        headers=beta_headers,
    )
    assert [n["orderNumber"] for n in body["data"]["orders"]["nodes"]] == ["2001"]
    assert body["data"]["returns"]["nodes"] == []


async def test_ids_of_another_tenant_find_nothing(client: httpx.AsyncClient) -> None:
    beta_headers, alpha = await _two_tenants()
    order = alpha["orders"][0]  # type: ignore[index]
    ret = alpha["returns"][0]  # type: ignore[index]
    body = await graphql(
        client,
        "query($o: ID!, $g: ID!, $r: ID!) { order(id: $o) { id } gid: order(id: $g) { id }"
        " return(id: $r) { id } }",
        {"o": order.shopify_id, "g": order.admin_graphql_api_id, "r": str(ret.id)},
        headers=beta_headers,
    )
    assert body["data"] == {"order": None, "gid": None, "return": None}


async def test_filters_naming_another_tenants_data_find_nothing(client: httpx.AsyncClient) -> None:
    beta_headers, _ = await _two_tenants()
    body = await graphql(
        client,
        '{ orders(first: 10, filter: {orderNumber: "1000"}) { nodes { id } }'
        ' byEmail: orders(first: 10, filter: {customerEmail: "a@alpha.test"}) { nodes { id } }'
        ' returns(first: 10, filter: {orderNumber: "1000"}) { nodes { id } } }',
        headers=beta_headers,
    )
    assert body["data"]["orders"]["nodes"] == []
    assert body["data"]["byEmail"]["nodes"] == []
    assert body["data"]["returns"]["nodes"] == []


async def test_cursors_made_from_another_tenants_data_select_nothing_of_theirs(
    client: httpx.AsyncClient,
) -> None:
    beta_headers, alpha = await _two_tenants()
    newest_alpha = alpha["orders"][-1]  # type: ignore[index]
    cursor = encode_cursor(newest_alpha.created_at, newest_alpha.id)
    body = await graphql(
        client,
        "query($c: String) { orders(first: 10, after: $c) { nodes { orderNumber } } }",
        {"c": cursor},
        headers=beta_headers,
    )
    numbers = [n["orderNumber"] for n in body["data"]["orders"]["nodes"]]
    assert all(not number.startswith("100") for number in numbers)
