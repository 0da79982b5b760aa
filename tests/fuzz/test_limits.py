"""Limits, each with a clear error: body size, depth, aliases, page size, portal failure rate,
and query cost (which has no limit yet)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLNonNull

from app.config import Settings
from app.db import Database
from app.services.returns.portal_attempts import PORTAL_FAILURE_LIMIT
from tests.factories import (
    forget_portal_attempts,
    make_order,
    make_return,
    make_tenant,
    merchant_headers,
)
from tests.fuzz.graphql_documents import introspect
from tests.fuzz.helpers import bounded, collection_counts


def _codes(body: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]


async def _post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    response, _ = await bounded(
        client, "POST", "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code in (200, 400), response.text[:300]
    body: dict[str, Any] = response.json()
    return body


async def test_body_over_the_limit_is_413_with_a_json_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    query = "{ __typename }" + " " * settings.max_body_bytes
    response, _ = await bounded(client, "POST", "/graphql", json={"query": query})
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": f"request body over {settings.max_body_bytes} bytes",
    }


async def test_depth_over_the_limit_is_refused_before_execution(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant = await make_tenant("limitdepth")
    headers = await merchant_headers(tenant.id)
    levels = settings.graphql_max_depth
    nested = "order { returns { " * levels + "id" + " } }" * levels
    body = await _post(client, "{ returns(first: 1) { nodes { " + nested + " } } }", headers)
    assert body.get("data") is None
    assert "depth" in body["errors"][0]["message"].lower()


async def test_alias_flood_is_refused_at_the_limit(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    allowed = settings.graphql_max_aliases
    ok = await _post(client, "{ " + " ".join(f"a{i}: __typename" for i in range(allowed)) + " }")
    assert "errors" not in ok
    flood = "{ " + " ".join(f"a{i}: __typename" for i in range(allowed + 1)) + " }"
    body = await _post(client, flood)
    assert body.get("data") is None
    assert "alias" in body["errors"][0]["message"].lower()


def _connection_fields(schema: Any) -> list[str]:
    """Every root query field with a `first` argument, found by introspection."""
    query_type = schema.query_type
    assert query_type is not None
    return sorted(name for name, field in query_type.fields.items() if "first" in field.args)


@pytest.mark.parametrize("first", [0, -1, 101, 10_000, 2**31 - 1])
async def test_every_connection_refuses_a_page_size_out_of_range(
    client: httpx.AsyncClient, db: Database, first: int
) -> None:
    tenant = await make_tenant("limitpages")
    headers = await merchant_headers(tenant.id)
    schema = await introspect(client)
    fields = _connection_fields(schema)
    assert {"orders", "returns", "customers"} <= set(fields)
    assert schema.query_type is not None
    for name in fields:
        field = schema.query_type.fields[name]
        required = [
            f"{arg}: {_placeholder(a.type)}"
            for arg, a in field.args.items()
            if isinstance(a.type, GraphQLNonNull) and arg != "first"
        ]
        args = ", ".join([f"first: {first}", *required])
        body = await _post(client, f"{{ {name}({args}) {{ __typename }} }}", headers)
        assert body.get("data") is None, (name, body)
        assert _codes(body) == ["BAD_USER_INPUT"], (name, body)
        assert "first" in body["errors"][0]["message"], (name, body)


def _placeholder(type_: Any) -> str:
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return {"Int": "60", "DateTime": '"2026-01-01T00:00:00Z"'}.get(getattr(named, "name", ""), '""')


async def test_a_page_of_the_maximum_size_is_served(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("limitmax")
    headers = await merchant_headers(tenant.id)
    body = await _post(client, "{ orders(first: 100) { nodes { id } } }", headers)
    assert body["data"]["orders"]["nodes"] == []


async def test_portal_lookup_failures_are_rate_limited_with_a_clear_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("limitportal")
    await make_order(tenant.id, 1001, email="real@portal.test")
    await forget_portal_attempts(db.db)
    headers = {"X-Tenant-Id": tenant.id}
    query = (
        "query($n: String!, $e: String!) { lookupOrder(orderNumber: $n, customerEmail: $e) { id } }"
    )
    for attempt in range(PORTAL_FAILURE_LIMIT):
        body = await _post(client, query, headers, n=str(2000 + attempt), e="x@portal.test")
        assert body["data"] == {"lookupOrder": None} and "errors" not in body
    before = await collection_counts(db)
    limited = await _post(client, query, headers, n="1001", e="real@portal.test")
    assert _codes(limited) == ["RATE_LIMITED"]
    assert "try again" in limited["errors"][0]["message"].lower()
    assert await collection_counts(db) == before
    # Another tenant's portal from the same client is not affected.
    other = await make_tenant("limitportalother")
    fresh = await _post(client, query, {"X-Tenant-Id": other.id}, n="1", e="x@portal.test")
    assert fresh["data"] == {"lookupOrder": None} and "errors" not in fresh


async def test_a_query_with_a_huge_estimated_cost_is_refused_before_any_io(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_tenant("limitcost")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001)
    await make_return(order)
    inner = "returns(first: 100) { nodes { items { quantity } order { returns { id } } } }"
    query = "{ " + " ".join(f"a{i}: {inner}" for i in range(29)) + " }"
    body = await _post(client, query, headers)
    assert body.get("data") is None
    assert _codes(body) == ["MAX_COST_EXCEEDED"]
    error = body["errors"][0]
    assert str(settings.graphql_max_cost) in error["message"]
    assert error["extensions"]["maximumQueryCost"] == settings.graphql_max_cost


async def test_every_response_reports_its_cost(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("limitcostok")
    headers = await merchant_headers(tenant.id)
    body = await _post(client, "{ orders(first: 10) { nodes { id } } }", headers)
    cost = body["extensions"]["cost"]
    assert 0 < cost["requestedQueryCost"] <= cost["maximumQueryCost"]
