"""Query cost: reported in `extensions.cost`, expensive queries refused before any I/O."""

from __future__ import annotations

import httpx

from tests.factories import make_tenant, merchant_headers


async def test_cost_is_reported_in_extensions(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    query = "{ returns(first: 10) { nodes { id order { id lineItems { id } } } } }"
    body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    # connection 2 + 10 x (return 1 + order 1 + lineItems 5 x 1)
    assert body["extensions"]["cost"] == {"requestedQueryCost": 72, "maximumQueryCost": 2000}


async def test_page_size_from_variables_counts(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    query = "query($n: Int) { orders(first: $n) { edges { node { id } } } }"
    body = (
        await client.post(
            "/graphql", json={"query": query, "variables": {"n": 50}}, headers=headers
        )
    ).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 50


async def test_last_counts_like_first(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    query = "{ returns(last: 10) { nodes { id order { id lineItems { id } } } } }"
    body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 72


async def test_too_expensive_query_is_refused_with_its_cost(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    query = (
        "{ returns(first: 100) { nodes { id order { id lineItems { id } returns { id"
        " order { id lineItems { id } } } } } } }"
    )
    body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["requestedQueryCost"] > 2000


async def test_node_and_nodes_cost_what_their_fragments_ask_for(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)

    async def cost(query: str, variables: dict[str, object] | None = None) -> int:
        body = (
            await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        ).json()
        return int(body["extensions"]["cost"]["requestedQueryCost"])

    # node 1 + Order's lineItems 5 x (1 + price 1) + returns 5 x 1 (they cost nothing before)
    one = '{ node(id: "x") { id ... on Order { lineItems { price { amount } } returns { id } } } }'
    assert await cost(one) == 1 + 5 * 2 + 5
    # one per id asked for, literal or variable
    many = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Return { order { id } } } }"
    assert await cost(many, {"ids": ["a"] * 40}) == 40 * (1 + 1)
    literal = '{ nodes(ids: ["a", "b", "c"]) { ...R } } fragment R on Return { order { id } }'
    assert await cost(literal) == 3 * 2
