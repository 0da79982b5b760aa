"""Relay connections: every document once, in order; `first` capped at 100."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.clock import utcnow
from app.graphql.core.node import global_id
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers

PAGE = """
query($after: String) {
  returns(first: 7, after: $after) {
    edges { cursor node { id createdAt } }
    nodes { id }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}
"""


async def test_walking_all_pages_yields_every_return_once_newest_first(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    base = utcnow() - timedelta(days=1)
    order = await make_order(tenant.id, 1001, quantity=50)
    created = []
    for i in range(23):
        # pairs share a timestamp so the id tie-break is exercised
        created.append(await make_return(order, created_at=base + timedelta(seconds=i // 2)))
    expected = [
        global_id("Return", r.id)
        for r in sorted(created, key=lambda r: (r.created_at, r.id), reverse=True)
    ]

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await graphql(client, PAGE, {"after": after}, headers=headers)
        connection = body["data"]["returns"]
        assert [e["node"]["id"] for e in connection["edges"]] == [
            n["id"] for n in connection["nodes"]
        ]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen.extend(n["id"] for n in connection["nodes"])
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        after = connection["pageInfo"]["endCursor"]
    assert seen == expected
    assert pages == 4


async def test_first_above_100_is_refused(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    for field in ("returns", "orders", "customers"):
        body = await graphql(
            client, f"{{ {field}(first: 101) {{ nodes {{ id }} }} }}", headers=headers
        )
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", field
    body = await graphql(client, "{ orders(first: 100) { nodes { id } } }", headers=headers)
    assert body["data"]["orders"]["nodes"] == []


async def test_garbage_cursor_is_a_clear_error(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    for cursor in ("nonsense", "eyJ0IjoiYSJ9", "", "%%%"):
        body = await graphql(
            client,
            "query($c: String) { orders(first: 5, after: $c) { nodes { id } } }",
            {"c": cursor},
            headers=headers,
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", cursor


BACKWARD = """
query($before: String) {
  returns(last: 7, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def test_walking_backward_with_last_and_before_yields_every_return_once(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    base = utcnow() - timedelta(days=1)
    order = await make_order(tenant.id, 1001, quantity=50)
    created = [
        await make_return(order, created_at=base + timedelta(seconds=i // 2)) for i in range(23)
    ]
    newest_first = [
        global_id("Return", r.id)
        for r in sorted(created, key=lambda r: (r.created_at, r.id), reverse=True)
    ]

    pages: list[list[str]] = []
    before = None
    while True:
        body = await graphql(client, BACKWARD, {"before": before}, headers=headers)
        connection = body["data"]["returns"]
        ids = [edge["node"]["id"] for edge in connection["edges"]]
        pages.append(ids)  # each page newest first, like a forward page
        assert connection["pageInfo"]["hasNextPage"] is (before is not None)
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        assert connection["pageInfo"]["startCursor"] == connection["edges"][0]["cursor"]
        before = connection["pageInfo"]["startCursor"]
    # The first backward page is the oldest seven; walking back ends at the newest two.
    assert pages[0] == newest_first[-7:]
    assert [len(page) for page in pages] == [7, 7, 7, 2]
    assert [i for page in reversed(pages) for i in page] == newest_first


async def test_a_page_goes_one_way_and_last_is_capped_too(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    for query, argument in (
        ("{ returns(first: 5, last: 5) { nodes { id } } }", "last"),
        ("{ orders(last: 101) { nodes { id } } }", "last"),
        ('{ syncJobs(last: 3, before: "nonsense") { nodes { id } } }', "before"),
    ):
        body = await graphql(client, query, headers=headers)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["extensions"]["argument"] == argument, body
