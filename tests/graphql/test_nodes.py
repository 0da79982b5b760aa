"""Global object identification: every Node type is refetched through `node(id:)` and
`nodes(ids:)`; another tenant's id, a malformed id or an id of another type is null (never an
error that tells what exists); id arguments take the global id, and the bare id still."""

from __future__ import annotations

from typing import Any

import httpx

from app.clock import utcnow
from app.db import Database
from app.graphql.core.node import global_id
from app.models import Customer, CustomerDataExport, SyncJob, WebhookEvent
from app.models.sync_job import SyncType
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def _objects_of(tenant_id: str, shop: str) -> dict[str, Any]:
    """One object of each Node type, as (type name, local id)."""
    order = await make_order(tenant_id, 1001)
    returned = await make_return(order)
    customer = await Customer(
        tenant_id=tenant_id, shopify_id="7001", email="ada@example.com", updated_at=utcnow()
    ).insert()
    job = await SyncJob(tenant_id=tenant_id, type=SyncType.FULL, active=None).insert()
    event = await WebhookEvent(
        tenant_id=tenant_id, shop_domain=shop, topic="orders/create", event_id="e-1"
    ).insert()
    export = await CustomerDataExport(
        tenant_id=tenant_id, shop_domain=shop, request_key="r-1"
    ).insert()
    return {
        "Tenant": tenant_id,
        "Order": order.shopify_id,
        "Customer": customer.shopify_id,
        "Return": returned.id,
        "SyncJob": job.id,
        "WebhookEvent": event.id,
        "CustomerDataExport": export.id,
    }


async def test_every_node_type_refetches_by_its_global_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    objects = await _objects_of(tenant.id, "alpha.myshopify.com")
    ids = [global_id(type_name, local) for type_name, local in objects.items()]
    for type_name, node_id in zip(objects, ids, strict=True):
        body = await graphql(client, NODE, {"id": node_id}, headers)
        assert body["data"]["node"] == {"__typename": type_name, "id": node_id}, body
    body = await graphql(
        client, NODES, {"ids": [*ids, "gid://returns-management/Return/x"]}, headers
    )
    assert body["data"]["nodes"] == [
        *({"__typename": t, "id": i} for t, i in zip(objects, ids, strict=True)),
        None,
    ]


async def test_another_tenants_ids_are_null_for_every_node_type(
    client: httpx.AsyncClient, db: Database
) -> None:
    theirs = await make_tenant("beta")
    objects = await _objects_of(theirs.id, "beta.myshopify.com")
    mine = await make_tenant("alpha")
    headers = await merchant_headers(mine.id)
    for type_name, local in objects.items():
        body = await graphql(client, NODE, {"id": global_id(type_name, local)}, headers)
        assert body["data"] == {"node": None} and "errors" not in body, (type_name, body)
    body = await graphql(
        client, NODES, {"ids": [global_id(t, i) for t, i in objects.items()]}, headers
    )
    assert body["data"]["nodes"] == [None] * len(objects)


async def test_malformed_ids_are_null_not_errors(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    for value in (
        "",
        "nonsense",
        "gid://returns-management/",
        "gid://returns-management/Return/",
        "gid://returns-management/Return/not-an-object-id",
        "gid://returns-management/Unknown/1",
        "gid://shopify/Order/1",
    ):
        body = await graphql(client, NODE, {"id": value}, headers)
        assert body["data"] == {"node": None} and "errors" not in body, (value, body)


async def test_id_arguments_take_the_global_id_of_their_type_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001)
    returned = await make_return(order)
    query = "query($id: ID!, $oid: ID!) { return(id: $id) { id } order(id: $oid) { id shopifyId } }"
    for return_id, order_id in (
        (global_id("Return", returned.id), global_id("Order", order.shopify_id)),
        (str(returned.id), order.shopify_id),  # bare ids, as before global ids
    ):
        body = await graphql(client, query, {"id": return_id, "oid": order_id}, headers)
        assert body["data"] == {
            "return": {"id": global_id("Return", returned.id)},
            "order": {
                "id": global_id("Order", order.shopify_id),
                "shopifyId": order.shopify_id,
            },
        }, body
    # A global id of another type names nothing.
    body = await graphql(
        client,
        query,
        {"id": global_id("Order", returned.id), "oid": global_id("Return", order.shopify_id)},
        headers,
    )
    assert body["data"] == {"return": None, "order": None}
    body = await graphql(
        client,
        "mutation($id: ID!) { approveReturn(id: $id) { userErrors { code } } }",
        {"id": global_id("SyncJob", returned.id)},
        headers,
    )
    assert body["data"]["approveReturn"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_an_order_is_not_found_by_an_id_of_another_type_in_any_spelling(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001)
    query = "query($id: ID!) { order(id: $id) { shopifyId } }"
    number = order.shopify_id
    for found_by in (
        number,
        f"gid://shopify/Order/{number}",
        f"GID://returns-management/Order/{number}",
    ):
        body = await graphql(client, query, {"id": found_by}, headers)
        assert body["data"]["order"] == {"shopifyId": number}, found_by
    for other in (
        f" gid://returns-management/Customer/{number}",
        f"GID://returns-management/Return/{number}",
        f"gid://shopify/Customer/{number}",
        f"gid://elsewhere/Order/{number}",
    ):
        body = await graphql(client, query, {"id": other}, headers)
        assert body["data"]["order"] is None, other


async def test_nodes_takes_at_most_a_page_of_ids(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    page = [global_id("Tenant", tenant.id)] * 100
    body = await graphql(client, NODES, {"ids": page}, headers)
    assert "errors" not in body and len(body["data"]["nodes"]) == 100
    body = await graphql(client, NODES, {"ids": [*page, page[0]]}, headers)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 100" in body["errors"][0]["message"]
